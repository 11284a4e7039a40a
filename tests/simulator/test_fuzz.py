"""Schema-driven fuzzing: random parameter sets for create/config/status endpoints must get either a success
or one of the real error shapes — never a crash or a traceback 500 (bounded, deterministic examples)."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cardinal_sim.proxmox import Simulator
from cardinal_sim.proxmox.schema import load_schema
from tests.simulator.conftest import DEBIAN, Answer, Api

FUZZ = settings(
    max_examples=120,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

_EXAMPLES: dict[str, list[str]] = {
    "pve-vmid": ["101", "150", "50", "abc"],
    "dns-name": ["web-1", "web_1", "a.example.org", "-x"],
    "dns-name-list": ["example.org", "a.org b.org", "bad_name"],
    "pve-storage-id": ["local", "local-lvm", "tank", "-x"],
    "pve-volume-id": ["local:snippets/hook.pl", "nope"],
    "ipv4": ["10.0.0.1", "300.1.1.1"],
    "ipv6": ["fd00::1", "zz::"],
    "mac-addr": ["BC:24:11:00:00:01", "01:00:00:00:00:00", "bc-24"],
    "pve-ipv4-config": ["dhcp", "10.1.2.3/24", "manual", "10.1.2.3"],
    "pve-ipv6-config": ["auto", "dhcp", "fd00::5/64", "fd00::5"],
    "pve-lxc-mp-string": ["/data", "local-lvm:2", "local:1", "/../etc", "tank:3"],
    "disk-size": ["8G", "1024", "x"],
    "pve-tag-list": ["a;b", "bad tag!"],
    "lxc-ip-with-ll-iface-list": ["1.1.1.1", "fe80::1%eth0", "nope"],
    "pve-configid-list": ["tags", "description,tags", "bad!", "rootfs", "mp0", "nonsense"],
    "pve-ct-timezone": ["UTC", "host", "Europe/Berlin", "Mars/Base"],
    "pve-startup-order": ["order=1,up=5", "x=1"],
    "pve-poolid": ["p1", "bad pool"],
    "pve-lxc-dev-string": ["/dev/null", "/etc/passwd"],
    "pve-node": ["pve", "bad node"],
}
_NASTY = ["", " ", "a,b=c", "x\ny", "é", "=", ",", "1" * 300]


def _mostly(valid: st.SearchStrategy[str], invalid: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Valid-looking values 3 times out of 4, so that fuzzing also reaches the handlers."""
    return st.integers(0, 3).flatmap(lambda i: valid if i < 3 else invalid)


def _scalar(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    typ = schema.get("type")
    nasty = st.one_of(st.sampled_from(_NASTY), st.text(max_size=12))
    if typ == "boolean":
        return _mostly(st.sampled_from(["0", "1"]), st.sampled_from(["true", "yes", ""]))
    if typ == "integer":
        lo = int(float(schema.get("minimum", 0)))
        hi = int(float(schema.get("maximum", lo + 4096)))
        return _mostly(
            st.integers(lo, min(hi, lo + 4096)).map(str),
            st.one_of(st.sampled_from(["1.5", "abc", str(lo - 1), str(hi + 1)]), nasty),
        )
    if typ == "number":
        return _mostly(st.integers(0, 64).map(str), st.sampled_from(["nan", "x", "-1", "1e99"]))
    if "enum" in schema:
        return _mostly(st.sampled_from([str(e) for e in schema["enum"]]), nasty)
    fmt = schema.get("format")
    if isinstance(fmt, dict):
        return _property_string(fmt)
    examples = _EXAMPLES.get(str(fmt))
    if examples:
        return _mostly(st.sampled_from(examples), nasty)
    return _mostly(st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True), nasty)


def _property_string(fmt: dict[str, Any]) -> st.SearchStrategy[str]:
    keys = sorted(fmt)

    @st.composite
    def build(draw: st.DrawFn) -> str:
        chosen = draw(st.lists(st.sampled_from(keys), unique=True, max_size=min(5, len(keys))))
        for required in (k for k in keys if not fmt[k].get("optional")):
            if required not in chosen and draw(st.booleans()):
                chosen.append(required)
        parts: list[str] = []
        for key in chosen:
            value = draw(_scalar(fmt[key]))
            if fmt[key].get("default_key") and draw(st.booleans()):
                parts.insert(0, value)
            else:
                parts.append(f"{key}={value}")
        if draw(st.integers(0, 9)) == 0:
            parts.append(draw(st.sampled_from(["evil=1", "bridge=vmbr0\nip=1.2.3.4", "x"])))
        return ",".join(parts)

    result: st.SearchStrategy[str] = build()
    return result


def _params(
    method: str, path: str, fixed: dict[str, str], skip: set[str]
) -> st.SearchStrategy[dict[str, str]]:
    """A few (0-4) schema parameters with generated values, sometimes plus an unknown one."""
    props = load_schema().get(method, path).properties
    names = [n for n in sorted(props) if n not in skip]

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, str]:
        out = dict(fixed)
        for name in draw(st.lists(st.sampled_from(names), unique=True, max_size=4)):
            key = name.replace("[n]", str(draw(st.sampled_from([0, 1, 31]))))
            out[key] = draw(_scalar(props[name]))
        if draw(st.integers(0, 9)) == 0:
            out[draw(st.sampled_from(["bogus", "net32", "mp256", "running", "_dc"]))] = "1"
        return out

    result: st.SearchStrategy[dict[str, str]] = build()
    return result


_OK_500 = [
    r"CT \d+ already exists on node '\S+'",
    r"CT \d+ already running",
    r"CT \d+ not running",
    r"VM \d+ not running",
    r"Configuration file 'nodes/[\w-]+/lxc/\d+\.conf' does not exist",
    r"CT is locked \([\w-]+\)",
    r"storage '[^']*' does not exist",
    r"storage '[^']*' is disabled",
    r"unable to parse volume ID '.*'",
    r"Only root can pass arbitrary filesystem paths\.",
    r"no options specified",
    r"detected modified configuration - file changed by other user\? Try again\.",
    r"unable to delete required option 'rootfs'",
    r"can't lock file '/run/lock/lxc/pve-config-\d+\.lock' - got timeout",
    r"unable to destroy CT \d+ - container is running",
    r"can't remove CT \d+ - protection mode enabled",
    r"lvcreate .*insufficient free space.*",
    r"unable to create image: .*No space left on device",
]


def _assert_real_shape(answer: Answer, sim: Simulator) -> None:
    assert sim.internal_errors == [], sim.internal_errors
    assert answer.status in (200, 400, 403, 500), (answer.status, answer.text)
    body = answer.json
    if answer.status == 200:
        assert set(body) <= {"data", "total"}
        return
    assert body["data"] is None
    message = body["message"]
    assert message.endswith("\n")
    assert answer.reason == message.split("\n", 1)[0]
    if answer.status == 400:
        assert message == "Parameter verification failed.\n"
        assert body["errors"]
        assert all(isinstance(v, str) and v for v in body["errors"].values())
    elif answer.status == 403:
        assert message.startswith("Permission check failed (")
    else:
        first = message.rstrip("\n")
        assert any(re.fullmatch(p, first) for p in _OK_500), first


@FUZZ
@given(
    params=_params("POST", "/nodes/{node}/lxc", {"ostemplate": DEBIAN}, {"node", "ostemplate", "vmid"}),
    vmid=_mostly(st.integers(100, 999_999).map(str), st.sampled_from(["99", "1000000000", "x"])),
    template=st.sampled_from(
        [DEBIAN, "local:vztmpl/missing.tar.zst", "/tmp/x.tar", "garbage", "tank:vztmpl/x"]
    ),
)
async def test_fuzz_create_answers_success_or_real_errors(
    api: Api, sim: Simulator, params: dict[str, str], vmid: str, template: str
) -> None:
    answer = await api.post("/nodes/pve/lxc", data={**params, "vmid": vmid, "ostemplate": template})
    _assert_real_shape(answer, sim)
    sim.advance(30)
    assert sim.internal_errors == []


@FUZZ
@given(params=_params("PUT", "/nodes/{node}/lxc/{vmid}/config", {}, {"node", "vmid", "digest", "lock"}))
async def test_fuzz_config_update_answers_success_or_real_errors(
    api: Api, sim: Simulator, params: dict[str, str]
) -> None:
    if 101 not in sim.containers:
        sim.add_container(101)
    answer = await api.put("/nodes/pve/lxc/101/config", data=params)
    _assert_real_shape(answer, sim)
    config = await api.get("/nodes/pve/lxc/101/config")
    assert config.status == 200


@FUZZ
@given(
    action=st.sampled_from(["start", "stop", "shutdown", "reboot", "suspend", "resume"]),
    vmid=st.sampled_from(["101", "102", "999"]),
    extra=st.one_of(
        st.just({}),
        st.dictionaries(
            st.sampled_from(["timeout", "forceStop", "skiplock", "debug", "overrule-shutdown", "bogus"]),
            st.sampled_from(["1", "0", "true", "-5", "30"]),
            max_size=2,
        ),
    ),
)
async def test_fuzz_power_actions_answer_success_or_real_errors(
    api: Api, sim: Simulator, action: str, vmid: str, extra: dict[str, str]
) -> None:
    if 101 not in sim.containers:
        sim.add_container(101, status="running")
        sim.add_container(102, lock="backup")
    answer = await api.post(f"/nodes/pve/lxc/{vmid}/status/{action}", data=extra)
    _assert_real_shape(answer, sim)
    sim.advance(10)
    assert sim.internal_errors == []
