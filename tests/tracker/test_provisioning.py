"""Provisioning end to end against the simulator: create → start → address → one message in the thread."""

from __future__ import annotations

import re
from datetime import timedelta

from bot.db import ContainerState, RequestState, TaskStatus
from bot.events import ContainerReady, RequestProgress, TaskFailed
from bot.tracker import final_key
from tests.tracker.conftest import CHANNEL, REQUESTER, ROOT_TS, UI, World, spec, static_spec


async def test_dhcp_container_is_created_started_and_reported_once_with_its_address(world: World) -> None:
    """The requester sees exactly one "ready" message in the request's thread, with the DHCP address,
    node, vmid and a Proxmox UI link; the root message walks creating → starting → ready."""
    tracker = world.tracker()
    req, items = await world.request([spec("web-1")])
    await tracker.enqueue_creations(req.id, items)
    vmid = items[0].vmid

    await world.until_request_final(req.id)

    ready = world.posts_of(ContainerReady)
    assert len(ready) == 1
    post = ready[0]
    assert (post.channel, post.thread_ts, post.key) == (CHANNEL, ROOT_TS, f"container:{vmid}:final:{req.id}")
    event = post.event
    assert (event.vmid, event.node, event.hostname, event.note) == (vmid, "pve", "web-1", None)
    assert len(event.ips) == 1
    assert event.ips[0].startswith("10.20.0.")
    assert event.ui_url == f"{UI}/#v1:0:=lxc%2F{vmid}"
    assert world.posts_of(TaskFailed) == []

    states = [e.summary.state for e in world.root_events() if isinstance(e, RequestProgress)]
    assert states[0] is RequestState.CREATING
    assert states[-1] is RequestState.READY
    assert RequestState.STARTING in states
    final = world.root_events()[-1]
    assert isinstance(final, RequestProgress)
    assert [(c.vmid, c.state, c.ips) for c in final.summary.containers] == [(vmid, "ready", event.ips)]

    assert await world.request_state(req.id) is RequestState.READY
    async with world.db.transaction(readonly=True) as tx:
        ct = await tx.containers.get(vmid)
        actions = [a.action for a in await tx.audit.recent(vmid=vmid, limit=50)]
    assert ct is not None
    assert ct.state is ContainerState.RUNNING
    assert ct.ip_addresses == list(event.ips)
    assert {"container.queued", "container.create_submitted", "container.created", "container.ready"} <= set(
        actions
    )
    assert world.sim.containers[vmid].running
    assert len(world.requests_to("POST", "/lxc")) == 2  # one create, one start — nothing twice
    assert len(world.requests_to("POST", f"/lxc/{vmid}/status/start")) == 1


async def test_static_address_comes_from_the_config_without_asking_the_container(world: World) -> None:
    """A static IPv4 is read from net0 of the config; the interfaces endpoint is not needed."""
    tracker = world.tracker()
    req, items = await world.request([static_spec("db-1")])
    await tracker.enqueue_creations(req.id, items)

    await world.until_request_final(req.id)

    (post,) = world.posts_of(ContainerReady)
    assert post.event.ips == ("192.0.2.10",)
    assert world.requests_to("GET", "/interfaces") == []


async def test_missing_template_fails_with_the_task_log_and_frees_the_vmid(world: World) -> None:
    """A create whose template is gone ends in one failure message with the Proxmox error and log tail."""
    tracker = world.tracker()
    missing = "local:vztmpl/nosuch-1.0_amd64.tar.zst"
    req, items = await world.request([spec("web-1", template=missing)])
    await tracker.enqueue_creations(req.id, items)
    vmid = items[0].vmid

    await world.until_request_final(req.id)

    (post,) = world.posts_of(TaskFailed)
    assert post.key == final_key_for(vmid, req.id)
    event = post.event
    assert event.action == "create"
    assert event.vmid == vmid
    assert not event.timed_out
    assert f"volume '{missing}' does not exist" in event.error
    assert event.log_tail[-1].startswith("TASK ERROR: unable to create CT")
    assert world.posts_of(ContainerReady) == []
    assert await world.request_state(req.id) is RequestState.FAILED
    async with world.db.transaction(readonly=True) as tx:
        ct = await tx.containers.get(vmid)
        reserved = await tx.vmids.reserved(100, 999)
    assert ct is not None
    assert ct.state is ContainerState.FAILED
    assert vmid not in reserved


async def test_full_storage_fails_one_container_and_the_request_is_partially_failed(world: World) -> None:
    """Two containers, the second does not fit: one ready, one failure with the LVM message."""
    tracker = world.tracker(concurrency=1)
    req, items = await world.request([spec("web-1", disk_gib=8), spec("web-2", disk_gib=8)])
    storage = world.sim.storage("pve", "local-lvm")
    storage.capacity = storage.used + 12 * (1 << 30)  # room for one 8 GiB disk only
    await tracker.enqueue_creations(req.id, items)

    await world.until_request_final(req.id)

    assert len(world.posts_of(ContainerReady)) == 1
    (failure,) = world.posts_of(TaskFailed)
    assert "insufficient free space" in failure.event.error
    assert await world.request_state(req.id) is RequestState.PARTIALLY_FAILED


async def test_deadline_reports_timeout_with_the_log_so_far(world: World) -> None:
    """A create running past its deadline is reported as timed out, with the lines logged until then."""
    world.sim.task_durations["vzcreate"] = 3600
    tracker = world.tracker(create_deadline=timedelta(minutes=2))
    req, items = await world.request([spec("slow-1")])
    await tracker.enqueue_creations(req.id, items)
    vmid = items[0].vmid

    await world.until_request_final(req.id, step=10, max_steps=40)

    (post,) = world.posts_of(TaskFailed)
    assert post.event.timed_out
    assert "did not finish within 2 minutes" in post.event.error
    assert any(line.startswith("Creating filesystem") for line in post.event.log_tail)
    assert not any(line.startswith("TASK") for line in post.event.log_tail)
    async with world.db.transaction(readonly=True) as tx:
        ct = await tx.containers.get(vmid)
        reserved = await tx.vmids.reserved(100, 999)
        (task,) = [t for t in await tx.ledger.tasks_for_request(req.id) if t.kind == "create"]
    # Proxmox may still finish it: the VMID stays reserved and the state is unknown.
    assert ct is not None
    assert ct.state is ContainerState.UNKNOWN
    assert vmid in reserved
    assert task.status is TaskStatus.TIMED_OUT


async def test_generated_password_goes_only_to_the_requester(world: World) -> None:
    """The password reaches Proxmox and the requester's direct message; it is in no post and no row."""
    tracker = world.tracker()
    req, items = await world.request([spec("web-1")], generate_password=True)
    await tracker.enqueue_creations(req.id, items)
    await world.until_request_final(req.id)

    (create,) = [r for r in world.sim.request_log if (r.method, r.path) == ("POST", "/nodes/pve/lxc")]
    assert "password" in create.params  # sent to Proxmox (the simulator's log masks it)
    (direct,) = world.notifier.directs
    assert direct.user == REQUESTER
    assert direct.channel == "D" + REQUESTER[1:]  # the DM, never the request's channel
    match = re.search(r"`([^`]+)`", str(direct.event))
    assert match is not None
    password = match.group(1)
    assert len(password) >= 12
    assert all(password not in repr(p.event) for p in world.notifier.posts + world.notifier.updates)
    async with world.db.transaction(readonly=True) as tx:
        rows = await tx.ledger.tasks_for_request(req.id)
        audit = await tx.audit.recent(request_id=req.id, limit=100)
    assert password not in repr(rows)
    assert password not in repr(audit)


def final_key_for(vmid: int, request_id: str) -> str:
    return f"container:{vmid}:final:{request_id}"


async def test_final_key_names_container_and_request(world: World) -> None:
    """The outbox key of a container's result is per container and request (a reused VMID gets its own)."""
    tracker = world.tracker()
    req, items = await world.request([spec("web-1")])
    await tracker.enqueue_creations(req.id, items)
    async with world.db.transaction(readonly=True) as tx:
        (task,) = await tx.ledger.tasks_for_request(req.id)
    assert final_key(task) == final_key_for(items[0].vmid, req.id)
