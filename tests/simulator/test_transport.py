"""Envelope, error rendering and request decoding (proxmox-api.md §2, checklist items 1 and 10)."""

from __future__ import annotations

import aiohttp

from cardinal_sim.proxmox import Simulator, serve
from tests.simulator.conftest import SECRET, TOKEN, Api


async def test_success_envelope_is_data_only(api: Api) -> None:
    answer = await api.get("/version")
    assert answer.status == 200
    assert set(answer.json) == {"data"}
    assert answer.headers["Content-Type"] == "application/json;charset=UTF-8"
    assert answer.headers["Server"] == "pve-api-daemon/3.0"


async def test_error_reason_phrase_is_first_message_line_and_body_carries_message(api: Api) -> None:
    await api.create(101)
    answer = await api.create(101)
    assert answer.status == 500
    assert answer.reason == "CT 101 already exists on node 'pve'"
    assert answer.json == {"data": None, "message": "CT 101 already exists on node 'pve'\n"}


async def test_error_body_has_no_message_before_pve_8_4(session: aiohttp.ClientSession) -> None:
    sim = Simulator(version="8.1.4", speed=0)
    sim.add_token(TOKEN, SECRET)
    running = await serve(sim)
    try:
        api = Api(session, running.api_url, f"PVEAPIToken={TOKEN}={SECRET}")
        await api.create(101)
        answer = await api.create(101)
        assert answer.reason == "CT 101 already exists on node 'pve'"
        assert answer.json == {"data": None}
        bad = await api.create(5)
        assert bad.json == {
            "data": None,
            "errors": {"vmid": "invalid format - value does not look like a valid VM ID\n"},
        }
    finally:
        await running.close()


async def test_errors_close_the_connection(api: Api) -> None:
    answer = await api.post("/nodes/pve/lxc/101/status/restart")
    assert answer.headers.get("Connection", "").lower() == "close"


async def test_unknown_path_is_not_implemented(api: Api) -> None:
    answer = await api.get("/nodes/pve/lxc/101/agent/network-get-interfaces")
    assert answer.status == 501
    assert answer.reason == "Method 'GET /nodes/pve/lxc/101/agent/network-get-interfaces' not implemented"


async def test_unknown_method_on_known_path_is_not_implemented(api: Api) -> None:
    answer = await api.post("/version")
    assert answer.status == 501
    assert answer.json["message"] == "Method 'POST /version' not implemented"


async def test_delete_with_a_body_is_not_implemented(api: Api) -> None:
    answer = await api.delete("/nodes/pve/lxc/101", data="force=1")
    assert answer.status == 501
    assert answer.reason == "Unexpected content for method 'DELETE'"


async def test_get_with_a_body_is_not_implemented(api: Api) -> None:
    answer = await api.get("/version", data="x=1")
    assert answer.status == 501
    assert answer.reason == "Unexpected content for method 'GET'"


async def test_delete_params_in_query_string_are_accepted(api: Api, sim: Simulator) -> None:
    sim.add_container(150, status="running")
    answer = await api.delete("/nodes/pve/lxc/150", params={"force": "1", "purge": "1"})
    assert answer.status == 200
    assert answer.data.startswith("UPID:pve:")


async def test_json_body_is_accepted_for_post(api: Api) -> None:
    answer = await api.post("/nodes/pve/lxc", json_body={"vmid": 120, "ostemplate": "local:vztmpl/x.tar.gz"})
    assert answer.status == 200
    assert ":vzcreate:120:" in answer.data


async def test_query_params_override_body(api: Api, sim: Simulator) -> None:
    answer = await api.post(
        "/nodes/pve/lxc", data={"vmid": "121", "ostemplate": "local:x"}, params={"vmid": "122"}
    )
    assert answer.status == 200
    assert ":vzcreate:122:" in answer.data
    assert 121 not in sim.containers


async def test_dc_cache_buster_is_ignored(api: Api) -> None:
    answer = await api.get("/version", params={"_dc": "1732540000000"})
    assert answer.status == 200


async def test_path_param_conflicting_with_body_is_refused(api: Api) -> None:
    answer = await api.post("/nodes/pve/lxc/101/status/start", data={"vmid": "102"})
    assert answer.status == 400
    assert answer.json["errors"] == {
        "vmid": "duplicate parameter (already defined in URI) with conflicting values!"
    }


async def test_unknown_node_fails_hostname_lookup(api: Api) -> None:
    answer = await api.get("/nodes/nosuch/lxc")
    assert answer.status == 500
    assert answer.reason == (
        "hostname lookup 'nosuch' failed - failed to get address info for: nosuch: Name or service not known"
    )


async def test_offline_node_answers_595(api: Api, sim: Simulator) -> None:
    sim.nodes["pve2"].online = False
    answer = await api.get("/nodes/pve2/lxc")
    assert answer.status == 595
    assert answer.text == ""


async def test_large_answers_are_gzip_compressed_when_accepted(api: Api) -> None:
    answer = await api.get("/nodes/pve/aplinfo", headers={"Accept-Encoding": "gzip"})
    assert answer.status == 200
    assert answer.headers.get("Content-Encoding") == "gzip"
    assert len(answer.data) > 10
