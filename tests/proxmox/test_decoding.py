"""Reads validated straight from the answer's bytes (``Transport.get_enveloped``) decode exactly as the
plain path (``json.loads`` then the model) does, including answers that do not fit the model."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from pydantic import ValidationError

from bot.proxmox import CircuitBreaker, ProxmoxClient, ProxmoxServerError, RetryPolicy
from bot.proxmox.transport import FAST_DECODE_MAX_BYTES
from tests.proxmox.fake_pve import FakePVE, Scripted

ClientFactory = Callable[..., ProxmoxClient]
CT = "/nodes/pve/lxc/101/status/current"


async def test_status_with_vmid_as_text_reads_as_a_number(client: ProxmoxClient, fake: FakePVE) -> None:
    # PVE before 8.2 sends vmid as a string.
    fake.script("GET", CT, Scripted(data={"vmid": "101", "status": "stopped", "name": "web"}))
    status = await client.container_status("pve", 101)
    assert (status.vmid, status.status, status.name, status.running) == (101, "stopped", "web", False)


async def test_answer_the_model_refuses_is_a_validation_error_not_a_host_failure(
    make_client: ClientFactory, fake: FakePVE
) -> None:
    client = make_client(breaker=CircuitBreaker(failure_threshold=2), retries=RetryPolicy(attempts=1))
    fake.script("GET", CT, *[Scripted(data={"vmid": 101})] * 3)  # no "status"
    for _ in range(3):
        with pytest.raises(ValidationError, match="status"):
            await client.container_status("pve", 101)
    assert client.breaker.state == "closed"  # Proxmox answered; the answer was odd
    assert (await client.container_status("pve", 101)).vmid == 101


async def test_non_json_status_answer_is_a_server_error(make_client: ClientFactory, fake: FakePVE) -> None:
    client = make_client(retries=RetryPolicy(attempts=1))
    fake.script("GET", CT, Scripted(raw=b"<html>proxy page</html>"), Scripted(raw=b'"text"'))
    with pytest.raises(ProxmoxServerError, match="not JSON"):
        await client.container_status("pve", 101)
    with pytest.raises(ProxmoxServerError, match="without a data envelope"):
        await client.container_status("pve", 101)


async def test_null_list_is_empty(client: ProxmoxClient, fake: FakePVE) -> None:
    fake.script("GET", "/nodes/pve/lxc", Scripted(data=None))
    fake.script("GET", "/cluster/resources", Scripted(data=None))
    assert await client.containers("pve") == []
    assert await client.cluster_resources("vm") == []


async def test_list_item_the_model_refuses_is_refused(client: ProxmoxClient, fake: FakePVE) -> None:
    fake.script("GET", "/cluster/resources", Scripted(data=[{"type": "lxc", "vmid": 101}]))  # no "id"
    with pytest.raises(ValidationError, match="id"):
        await client.cluster_resources("vm")


@pytest.mark.parametrize(
    ("raw", "total"),
    [
        (b'{"data": [], "total": 7}', 7),
        (b'{"data": [], "total": "7"}', None),  # only a number counts
        (b'{"data": [], "total": true}', None),
        (b'{"data": []}', None),
        (b'{"data": {}, "total": 3}', 3),  # data the list model refuses: read as before (empty)
    ],
)
async def test_task_page_total(client: ProxmoxClient, fake: FakePVE, raw: bytes, total: int | None) -> None:
    fake.script("GET", "/nodes/pve/tasks", Scripted(raw=raw))
    assert await client.node_tasks_page("pve") == ([], total)


async def test_cluster_resources_read_as_proxmox_sends_them(client: ProxmoxClient, fake: FakePVE) -> None:
    guest: dict[str, object] = {
        "id": "lxc/101",
        "type": "lxc",
        "vmid": "101",
        "node": "pve",
        "status": "running",
        "hastate": "-",
    }
    storage = {"id": "storage/pve/local", "type": "storage", "storage": "local", "shared": 0}
    fake.script("GET", "/cluster/resources", Scripted(data=[guest, storage]))
    ct, store = await client.cluster_resources()
    assert (ct.vmid, ct.node, ct.status, ct.pool) == (101, "pve", "running", None)  # vmid as text before 8.2
    assert (store.vmid, store.storage, store.shared) == (None, "local", 0)
    assert not hasattr(ct, "hastate")  # keys Cardinal does not model are dropped
    with pytest.raises((AttributeError, ValueError)):
        ct.status = "stopped"  # type: ignore[misc]  # shared by every reader of the snapshot: read-only


async def test_a_large_answer_reads_the_same(client: ProxmoxClient, fake: FakePVE) -> None:
    # Past FAST_DECODE_MAX_BYTES the answer goes through json.loads (less memory for big clusters).
    guests = [
        {
            "id": f"lxc/{vmid}",
            "type": "lxc",
            "vmid": str(vmid),
            "node": "pve",
            "name": f"guest-{vmid:06d}" * 4,
        }
        for vmid in range(10000, 13000)
    ]
    fake.script("GET", "/cluster/resources", Scripted(data=guests), Scripted(data=guests[:10]))
    large = await client.cluster_resources("vm")
    small = await client.cluster_resources("vm")
    assert len(json.dumps({"data": guests})) > FAST_DECODE_MAX_BYTES
    assert [(r.vmid, r.name) for r in large] == [(int(str(g["vmid"])), g["name"]) for g in guests]
    assert large[:10] == small
