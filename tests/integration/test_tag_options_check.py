"""``cardinal check`` reads the datacenter's tag options and says when Proxmox would refuse Cardinal's
``cardinal``/``owner-…`` tags — and the refusal it predicts is the one the simulator gives."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from bot.ops.check.tags import check_tag_options, evaluate_tag_options
from bot.proxmox import ProxmoxPermissionError
from bot.proxmox.models import Permissions
from cardinal_sim.proxmox import Simulator
from tests.integration.conftest import ClientFactory

LIMITED = "cardinal@pve!limited"
_VMS = {"VM.Allocate", "VM.Audit", "VM.Config.Disk", "VM.Config.Options", "VM.Config.CPU", "VM.Config.Memory"}
_PRIVS = {
    "/": {"Sys.Audit"},
    "/vms": _VMS,
    "/storage": {"Datastore.AllocateSpace", "Datastore.Audit"},
}
TEMPLATE = "local:vztmpl/debian-12-standard_12.12-1_amd64.tar.zst"


def _perms(privs: dict[str, set[str]]) -> Permissions:
    return Permissions(paths={p: dict.fromkeys(v, 1) for p, v in privs.items()})


async def test_user_allow_existing_fails_the_check_and_the_create_it_predicts(
    sim: Simulator, make_client: ClientFactory
) -> None:
    sim.datacenter_options["user-tag-access"] = "user-allow=existing"
    sim.add_token(LIMITED, "s", _PRIVS)
    px = make_client(token_id=LIMITED, token_secret=SecretStr("s"))
    result = await check_tag_options(px, _perms(_PRIVS), LIMITED, limit=5)
    assert not result.ok
    assert "user-allow=existing" in result.detail
    assert "owner-<user>" in result.detail
    assert "user-allow=free" in result.hint
    assert "Sys.Modify on /" in result.hint
    form = {"vmid": 150, "ostemplate": TEMPLATE, "tags": "cardinal;owner-u0new1", "features": "nesting=1"}
    with pytest.raises(ProxmoxPermissionError, match=r"Sys\.Modify for modifying tag"):
        await px.create_container("pve", form)


async def test_default_options_pass(sim: Simulator, make_client: ClientFactory) -> None:
    sim.add_token(LIMITED, "s", _PRIVS)
    px = make_client(token_id=LIMITED, token_secret=SecretStr("s"))
    result = await check_tag_options(px, _perms(_PRIVS), LIMITED, limit=5)
    assert result.ok
    assert not result.warning


async def test_unreadable_options_warn_with_what_to_look_at(
    sim: Simulator, make_client: ClientFactory
) -> None:
    privs = {k: v for k, v in _PRIVS.items() if k != "/"}
    sim.add_token(LIMITED, "s", privs)
    px = make_client(token_id=LIMITED, token_secret=SecretStr("s"))
    result = await check_tag_options(px, _perms(privs), LIMITED, limit=5)
    assert result.ok
    assert result.warning
    assert "Sys.Audit on /" in result.detail
    assert "User Tag Access" in result.hint


def test_registered_owner_tags_and_user_allow_none_fail() -> None:
    perms = _perms(_PRIVS)
    registered = evaluate_tag_options({"registered-tags": ["cardinal", "prod"]}, perms, LIMITED)
    assert not registered.ok
    assert "registered-tags lists cardinal" in registered.detail
    none = evaluate_tag_options({"user-tag-access": {"user-allow": "none"}}, perms, LIMITED)
    assert not none.ok
    assert "user-allow=none" in none.detail


def test_sys_modify_on_root_passes_whatever_the_options() -> None:
    perms = _perms({**_PRIVS, "/": {"Sys.Modify"}})
    result = evaluate_tag_options({"user-tag-access": {"user-allow": "none"}}, perms, LIMITED)
    assert result.ok
