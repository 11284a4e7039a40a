"""The simulator warns about systemd without nesting and stores and guards tags as Proxmox does
(docs/fidelity/nesting-and-tags.md)."""

from __future__ import annotations

from collections.abc import Callable

from cardinal_sim.proxmox import Simulator
from tests.simulator.conftest import Api

_TOKEN = "PVEAPIToken=ops@pve!t=s"
_CT_PRIVS = {
    "/vms": {"VM.Allocate", "VM.Audit", "VM.Config.Disk", "VM.Config.Options"},
    "/storage": {"Datastore.AllocateSpace", "Datastore.Audit"},
}


async def _finish(api: Api, sim: Simulator, upid: str) -> tuple[str, list[str]]:
    sim.advance(10)
    return (await api.task_status(upid))["exitstatus"], await api.task_log(upid)


async def test_debian_12_without_nesting_ends_with_the_systemd_warning(api: Api, sim: Simulator) -> None:
    exitstatus, log = await _finish(api, sim, (await api.create(101)).data)
    assert exitstatus == "WARNINGS: 1"
    assert "WARN: Systemd 252 detected. You may need to enable nesting." in log
    assert log[-1] == "TASK WARNINGS: 1"


async def test_nesting_on_or_a_template_without_systemd_ends_ok(api: Api, sim: Simulator) -> None:
    nested = (await api.create(101, features="nesting=1")).data
    alpine = "local:vztmpl/alpine-3.22-default_20250617_amd64.tar.xz"
    openrc = (await api.create(102, ostemplate=alpine)).data
    for upid in (nested, openrc):
        exitstatus, log = await _finish(api, sim, upid)
        assert exitstatus == "OK"
        assert not [line for line in log if line.startswith("WARN:")]


async def test_a_token_may_not_set_other_features_or_features_of_privileged_containers(
    api_as: Callable[[str | None], Api], sim: Simulator
) -> None:
    sim.add_token("ops@pve!t", "s", {**_CT_PRIVS, "/": {"Sys.Modify"}})
    client = api_as(_TOKEN)
    keyctl = await client.create(141, features="nesting=1,keyctl=1")
    assert keyctl.status == 403
    assert (
        keyctl.reason
        == "Permission check failed (changing feature flags (except nesting) is only allowed for root@pam)"
    )
    privileged = await client.create(142, features="nesting=1", unprivileged="0")
    assert privileged.reason == (
        "Permission check failed (changing feature flags for privileged container is only allowed "
        "for root@pam)"
    )
    assert (await client.create(143, features="nesting=1")).status == 200


async def test_tags_are_stored_lowercased_sorted_and_unique(api: Api, sim: Simulator) -> None:
    await api.create(101, tags="owner-u1;Cardinal;zeta,alpha;cardinal")
    sim.advance(10)
    assert (await api.get("/nodes/pve/lxc/101/config")).data["tags"] == "alpha;cardinal;owner-u1;zeta"
    await api.put("/nodes/pve/lxc/101/config", data={"tags": "b;A"})
    assert (await api.get("/nodes/pve/lxc/101/config")).data["tags"] == "a;b"


async def test_tag_style_keeps_case_and_order_when_configured(api: Api, sim: Simulator) -> None:
    sim.datacenter_options["tag-style"] = "case-sensitive=1,ordering=config"
    await api.create(101, tags="zeta;Owner-U1;zeta")
    sim.advance(10)
    assert (await api.get("/nodes/pve/lxc/101/config")).data["tags"] == "zeta;Owner-U1"


async def test_cluster_options_shows_the_tag_settings_parsed(api: Api, sim: Simulator) -> None:
    sim.datacenter_options.update(
        {
            "user-tag-access": "user-allow=list,user-allow-list=cardinal;team",
            "registered-tags": "prod;pci",
            "tag-style": "ordering=config,case-sensitive=1",
        }
    )
    data = (await api.get("/cluster/options")).data
    assert data["user-tag-access"] == {"user-allow": "list", "user-allow-list": ["cardinal", "team"]}
    assert data["registered-tags"] == ["prod", "pci"]
    assert data["tag-style"] == {"ordering": "config", "case-sensitive": 1}


async def test_cluster_options_needs_sys_audit_on_root(
    api_as: Callable[[str | None], Api], sim: Simulator
) -> None:
    sim.add_token("ops@pve!t", "s", _CT_PRIVS)
    answer = await api_as(_TOKEN).get("/cluster/options")
    assert answer.status == 403
    assert answer.reason == "Permission check failed (/, Sys.Audit)"


async def test_user_allow_existing_refuses_a_new_owner_tag(
    api_as: Callable[[str | None], Api], sim: Simulator
) -> None:
    sim.datacenter_options["user-tag-access"] = "user-allow=existing"
    sim.add_container(150, tags="cardinal;owner-u1")
    sim.add_token("ops@pve!t", "s", _CT_PRIVS)
    client = api_as(_TOKEN)
    assert (await client.create(151, tags="cardinal;owner-u1")).status == 200
    refused = await client.create(152, tags="cardinal;owner-u2")
    assert refused.status == 403
    assert refused.reason == "Permission check failed (/, Sys.Modify for modifying tag 'owner-u2')"


async def test_user_allow_none_and_registered_tags_refuse_unless_sys_modify(
    api_as: Callable[[str | None], Api], sim: Simulator
) -> None:
    sim.datacenter_options["user-tag-access"] = "user-allow=none"
    sim.add_token("ops@pve!t", "s", _CT_PRIVS)
    sim.add_token("root@pam!admin", "s2")
    refused = await api_as(_TOKEN).create(151, tags="cardinal")
    assert refused.reason == "Permission check failed (/, Sys.Modify for modifying tag 'cardinal')"
    sim.datacenter_options.clear()
    sim.datacenter_options["registered-tags"] = "cardinal"
    again = await api_as(_TOKEN).create(152, tags="cardinal")
    assert again.reason == "Permission check failed (/, Sys.Modify for modifying tag 'cardinal')"
    assert (await api_as("PVEAPIToken=root@pam!admin=s2").create(153, tags="cardinal")).status == 200


async def test_an_unchanged_tag_is_not_checked_on_update(
    api_as: Callable[[str | None], Api], sim: Simulator
) -> None:
    sim.add_container(150, tags="cardinal;owner-u1")
    sim.datacenter_options["user-tag-access"] = "user-allow=none"
    sim.add_token("ops@pve!t", "s", _CT_PRIVS)
    client = api_as(_TOKEN)
    same = await client.put("/nodes/pve/lxc/150/config", data={"tags": "owner-u1;cardinal"})
    assert same.status == 200, same.text
    changed = await client.put("/nodes/pve/lxc/150/config", data={"tags": "cardinal;owner-u2"})
    assert changed.status == 403
