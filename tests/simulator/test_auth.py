"""Tokens, tickets, CSRF and permissions (proxmox-api.md §3, checklist item 2)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cardinal_sim.proxmox import Simulator
from tests.simulator.conftest import DEBIAN, Api

PASSWORD = "correct horse"


async def _login(
    api_as: Callable[[str | None], Api], sim: Simulator, user: str = "alice@pve"
) -> dict[str, Any]:
    if user not in sim.access.users:
        sim.add_user(user, PASSWORD)
    answer = await api_as(None).post("/access/ticket", data={"username": user, "password": PASSWORD})
    assert answer.status == 200, answer.text
    data: dict[str, Any] = answer.data
    return data


async def test_401_has_empty_body(api_as: Callable[[str | None], Api]) -> None:
    answer = await api_as(None).get("/version")
    assert answer.status == 401
    assert answer.text == ""


async def test_request_without_credentials_gets_401_no_ticket(api_as: Callable[[str | None], Api]) -> None:
    answer = await api_as(None).get("/nodes")
    assert (answer.status, answer.reason) == (401, "No ticket")


async def test_bad_token_secret_gets_401_authentication_failed(api_as: Callable[[str | None], Api]) -> None:
    answer = await api_as("PVEAPIToken=cardinal@pve!bot=wrong").get("/version")
    assert (answer.status, answer.reason, answer.text) == (401, "Authentication failed!", "")


async def test_unknown_token_gets_401_authentication_failed(api_as: Callable[[str | None], Api]) -> None:
    answer = await api_as("PVEAPIToken=nobody@pve!x=abc").get("/version")
    assert (answer.status, answer.reason) == (401, "Authentication failed!")


async def test_token_header_with_space_separator_is_accepted(
    api_as: Callable[[str | None], Api],
) -> None:
    from tests.simulator.conftest import SECRET, TOKEN

    answer = await api_as(f"PVEAPIToken {TOKEN}={SECRET}").get("/version")
    assert answer.status == 200


async def test_simulator_default_auth_delay_is_zero() -> None:
    assert Simulator().auth_delay == 0.0


async def test_ticket_login_returns_ticket_and_csrf_token(
    api_as: Callable[[str | None], Api], sim: Simulator
) -> None:
    data = await _login(api_as, sim)
    assert data["username"] == "alice@pve"
    assert data["ticket"].startswith("PVE:alice@pve:")
    assert data["ticket"].split(":")[3] == ""  # PVE:<user>:<8 HEX>::<sig>
    assert len(data["ticket"].split(":")[2]) == 8
    stamp, _sig = data["CSRFPreventionToken"].split(":", 1)
    assert len(stamp) == 8
    assert "cap" in data


async def test_wrong_password_gets_401_authentication_failure_with_json_body(
    api_as: Callable[[str | None], Api], sim: Simulator
) -> None:
    sim.add_user("alice@pve", PASSWORD)
    answer = await api_as(None).post("/access/ticket", data={"username": "alice@pve", "password": "nope"})
    assert (answer.status, answer.reason) == (401, "authentication failure")
    assert answer.json == {"data": None, "message": "authentication failure\n"}


async def test_ticket_cookie_authenticates_reads(api_as: Callable[[str | None], Api], sim: Simulator) -> None:
    data = await _login(api_as, sim)
    answer = await api_as(None).get("/version", cookies={"PVEAuthCookie": data["ticket"]})
    assert answer.status == 200


async def test_csrf_required_for_ticket_writes(api_as: Callable[[str | None], Api], sim: Simulator) -> None:
    data = await _login(api_as, sim)
    client = api_as(None)
    cookies = {"PVEAuthCookie": data["ticket"]}
    body = {"vmid": "130", "ostemplate": DEBIAN}
    refused = await client.post("/nodes/pve/lxc", data=body, cookies=cookies)
    assert (refused.status, refused.reason, refused.text) == (
        401,
        "Permission denied - invalid csrf token",
        "",
    )
    wrong = await client.post(
        "/nodes/pve/lxc", data=body, cookies=cookies, headers={"CSRFPreventionToken": "6743A1B2:forged"}
    )
    assert wrong.status == 401
    ok = await client.post(
        "/nodes/pve/lxc",
        data=body,
        cookies=cookies,
        headers={"CSRFPreventionToken": data["CSRFPreventionToken"]},
    )
    assert ok.status == 200
    assert ok.data.endswith(":vzcreate:130:alice@pve:")


async def test_tokens_skip_csrf(api: Api) -> None:
    answer = await api.create(131)
    assert answer.status == 200


async def test_ticket_in_authorization_header_is_accepted(
    api_as: Callable[[str | None], Api], sim: Simulator
) -> None:
    data = await _login(api_as, sim)
    answer = await api_as(f"PVEAuthCookie={data['ticket']}").get("/version")
    assert answer.status == 200


async def test_ticket_expires_after_two_hours_of_simulator_time(
    api_as: Callable[[str | None], Api], sim: Simulator
) -> None:
    data = await _login(api_as, sim)
    cookies = {"PVEAuthCookie": data["ticket"]}
    sim.advance(7199)
    assert (await api_as(None).get("/version", cookies=cookies)).status == 200
    sim.advance(2)
    expired = await api_as(None).get("/version", cookies=cookies)
    assert (expired.status, expired.reason) == (401, "Authentication failed!")


async def test_ticket_can_be_renewed_with_itself_as_password(
    api_as: Callable[[str | None], Api], sim: Simulator
) -> None:
    data = await _login(api_as, sim)
    sim.advance(3600)
    renewed = await api_as(None).post(
        "/access/ticket", data={"username": "alice@pve", "password": data["ticket"]}
    )
    assert renewed.status == 200
    sim.advance(3700)
    answer = await api_as(None).get("/version", cookies={"PVEAuthCookie": renewed.data["ticket"]})
    assert answer.status == 200


async def test_token_on_access_ticket_is_refused_with_403(api: Api, sim: Simulator) -> None:
    sim.add_user("alice@pve", PASSWORD)
    answer = await api.post("/access/ticket", data={"username": "alice@pve", "password": PASSWORD})
    assert answer.status == 403
    assert answer.reason == (
        "Permission check failed (URI '/access/ticket' not available with API token, need proper ticket."
    )
    assert answer.json["message"].endswith("need proper ticket.\n)\n")


async def test_missing_privilege_gives_403_permission_check_failed(
    api_as: Callable[[str | None], Api], sim: Simulator
) -> None:
    sim.add_token("audit@pve!ro", "s", {"/vms/101": {"VM.PowerMgmt"}})
    sim.add_container(101)
    answer = await api_as("PVEAPIToken=audit@pve!ro=s").get("/nodes/pve/lxc/101/config")
    assert (answer.status, answer.reason) == (403, "Permission check failed (/vms/101, VM.Audit)")
    assert answer.json == {"data": None, "message": "Permission check failed (/vms/101, VM.Audit)\n"}


async def test_privileges_propagate_from_parent_paths(
    api_as: Callable[[str | None], Api], sim: Simulator
) -> None:
    sim.add_token("audit@pve!ro", "s", {"/vms": {"VM.Audit"}})
    sim.add_container(101)
    answer = await api_as("PVEAPIToken=audit@pve!ro=s").get("/nodes/pve/lxc/101/config")
    assert answer.status == 200


async def test_any_of_privileges_are_listed_with_a_bar(
    api_as: Callable[[str | None], Api], sim: Simulator
) -> None:
    sim.add_token("audit@pve!ro", "s", {"/vms": {"VM.Audit"}})
    answer = await api_as("PVEAPIToken=audit@pve!ro=s").get("/nodes/pve/storage/local/content")
    assert (
        answer.reason == "Permission check failed (/storage/local, Datastore.Audit|Datastore.AllocateSpace)"
    )


async def test_create_needs_vm_allocate(api_as: Callable[[str | None], Api], sim: Simulator) -> None:
    sim.add_token("ops@pve!t", "s", {"/storage": {"Datastore.AllocateSpace"}})
    answer = await api_as("PVEAPIToken=ops@pve!t=s").create(140)
    # VM.Allocate on /vms/<vmid> or on the pool: LXC.pm raises raise_perm_exc() without a detail.
    assert answer.status == 403
    assert answer.reason == "Permission check failed"


async def test_power_needs_vm_powermgmt(api_as: Callable[[str | None], Api], sim: Simulator) -> None:
    sim.add_token("ops@pve!t", "s", {"/vms": {"VM.Audit"}})
    sim.add_container(101)
    answer = await api_as("PVEAPIToken=ops@pve!t=s").post("/nodes/pve/lxc/101/status/start")
    assert answer.reason == "Permission check failed (/vms/101, VM.PowerMgmt)"


async def test_put_config_needs_the_matching_vm_config_privilege(
    api_as: Callable[[str | None], Api], sim: Simulator
) -> None:
    sim.add_token("ops@pve!t", "s", {"/vms": {"VM.Config.CPU"}})
    sim.add_container(101)
    client = api_as("PVEAPIToken=ops@pve!t=s")
    assert (await client.put("/nodes/pve/lxc/101/config", data={"cores": "2"})).status == 200
    refused = await client.put("/nodes/pve/lxc/101/config", data={"memory": "1024"})
    assert refused.reason == "Permission check failed (/vms/101, VM.Config.Memory)"


async def test_create_needs_datastore_allocatespace_on_the_storage(
    api_as: Callable[[str | None], Api], sim: Simulator
) -> None:
    privs = {
        "/vms": {"VM.Allocate", "VM.Config.Disk", "VM.Config.Options"},
        "/storage/local": {"Datastore.Audit"},
    }
    sim.add_token("ops@pve!t", "s", privs)
    answer = await api_as("PVEAPIToken=ops@pve!t=s").create(141, rootfs="local-lvm:8")
    assert answer.reason == "Permission check failed (/storage/local-lvm, Datastore.AllocateSpace)"


async def test_sdn_use_on_bridge_required_for_create(
    api_as: Callable[[str | None], Api], sim: Simulator
) -> None:
    privs = {
        "/vms": {"VM.Allocate", "VM.Config.Disk", "VM.Config.Network", "VM.Config.Options"},
        "/storage": {"Datastore.AllocateSpace", "Datastore.Audit"},
        "/sdn/zones/localnetwork/vmbr0": {"SDN.Use"},
    }
    sim.add_token("ops@pve!t", "s", privs)
    client = api_as("PVEAPIToken=ops@pve!t=s")
    ok = await client.create(142, net0="name=eth0,bridge=vmbr0,ip=dhcp")
    assert ok.status == 200, ok.text
    refused = await client.create(143, net0="name=eth0,bridge=vmbr1,ip=dhcp")
    assert refused.reason == "Permission check failed (/sdn/zones/localnetwork/vmbr1, SDN.Use)"


async def test_privileged_container_needs_sys_modify_on_root(
    api_as: Callable[[str | None], Api], sim: Simulator
) -> None:
    privs = {
        "/vms": {"VM.Allocate", "VM.Config.Disk", "VM.Config.Options"},
        "/storage": {"Datastore.AllocateSpace"},
    }
    sim.add_token("ops@pve!t", "s", privs)
    answer = await api_as("PVEAPIToken=ops@pve!t=s").create(144, unprivileged="0")
    assert answer.reason == "Permission check failed (/, Sys.Modify)"


async def test_access_permissions_reports_the_token_acl(
    api_as: Callable[[str | None], Api], sim: Simulator
) -> None:
    sim.add_token(
        "ops@pve!t", "s", {"/vms": {"VM.Audit", "VM.PowerMgmt"}, "/storage/local": {"Datastore.Audit"}}
    )
    client = api_as("PVEAPIToken=ops@pve!t=s")
    answer = await client.get("/access/permissions")
    assert answer.data == {
        "/storage/local": {"Datastore.Audit": 1},
        "/vms": {"VM.Audit": 1, "VM.PowerMgmt": 1},
    }
    one = await client.get("/access/permissions", params={"path": "/vms/105"})
    assert one.data == {"/vms/105": {"VM.Audit": 1, "VM.PowerMgmt": 1}}


async def test_access_permissions_of_another_user_needs_sys_audit(
    api_as: Callable[[str | None], Api], sim: Simulator
) -> None:
    sim.add_token("ops@pve!t", "s", {"/vms": {"VM.Audit"}})
    answer = await api_as("PVEAPIToken=ops@pve!t=s").get("/access/permissions", params={"userid": "root@pam"})
    assert answer.reason == "Permission check failed (/access, Sys.Audit)"


async def test_expired_token_is_refused(api_as: Callable[[str | None], Api], sim: Simulator) -> None:
    sim.add_token("ops@pve!old", "s", expire=int(sim.now()) + 60)
    client = api_as("PVEAPIToken=ops@pve!old=s")
    assert (await client.get("/version")).status == 200
    sim.advance(61)
    assert (await client.get("/version")).reason == "Authentication failed!"
