"""Nothing pending is lost and nothing happens twice: crashes, lost answers, replicas, restarts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.db import Database, RequestState, TaskStatus
from bot.db.payloads import CreateParams
from bot.events import ContainerReady, Event
from bot.notify import RecordingNotifier
from bot.proxmox import ProxmoxClient, ProxmoxTimeoutError, Upid
from tests.tracker.conftest import World, post_counts, spec


def creates_for(world: World, vmid: int) -> list[Any]:
    return [
        r
        for r in world.sim.request_log
        if r.method == "POST" and r.path.endswith("/lxc") and str(r.params.get("vmid")) == str(vmid)
    ]


async def _abandon_submission(world: World, *, post: bool) -> tuple[str, int]:
    """Play a replica that claimed a queued create, maybe POSTed it, then died before saving the UPID."""
    async with world.db.transaction() as tx:
        (task,) = await tx.ledger.claim_queued(
            "dead-replica",
            "create",
            max_in_flight=5,
            now=world.now(),
            lease_seconds=60,
            deadline_at=world.now().replace(year=2100),
        )
    assert task.status is TaskStatus.SUBMITTING
    assert task.vmid is not None
    if post:
        assert isinstance(task.params, CreateParams)
        await world.px.create_container(task.node, task.params.create)
    return task.id, task.vmid


async def test_create_posted_but_upid_never_saved_is_adopted_not_repeated(world: World) -> None:
    """The POST reached Proxmox, then the process died: recovery finds the vzcreate task by vmid and
    follows it — exactly one POST for that vmid, one container, one final message."""
    req, items = await world.request([spec("web-1")])
    tracker = world.tracker("replica-b")
    await tracker.enqueue_creations(req.id, items)
    task_id, vmid = await _abandon_submission(world, post=True)

    await world.until_request_final(req.id, step=5)

    assert len(creates_for(world, vmid)) == 1
    assert list(world.sim.containers) == [vmid]
    assert len(world.posts_of(ContainerReady)) == 1
    async with world.db.transaction(readonly=True) as tx:
        task = await tx.ledger.get_task(task_id)
    assert task is not None
    assert task.upid is not None
    assert Upid.parse(task.upid).type == "vzcreate"


async def test_create_never_posted_is_submitted_after_the_grace_period(world: World) -> None:
    """The replica died before its POST: Proxmox shows neither task nor config, so after the grace
    period the create is sent (once) and the container is delivered."""
    req, items = await world.request([spec("web-1")])
    tracker = world.tracker("replica-b", submit_grace=30.0)
    await tracker.enqueue_creations(req.id, items)
    _task_id, vmid = await _abandon_submission(world, post=False)

    await world.until_request_final(req.id, step=5)

    assert len(creates_for(world, vmid)) == 1
    assert len(world.posts_of(ContainerReady)) == 1


@dataclass
class LosesCreateAnswer:
    """A Proxmox client whose create reaches Proxmox but whose answer is lost (as a timeout)."""

    inner: ProxmoxClient

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def create_container(self, node: str, params: Mapping[str, Any]) -> Upid:
        await self.inner.create_container(node, params)
        raise ProxmoxTimeoutError("Proxmox did not answer POST /nodes/{node}/lxc within 5 s")


async def test_lost_create_answer_is_looked_up_and_adopted(world: World) -> None:
    """A create whose answer timed out is looked up at once (task list by vmid) and followed."""
    tracker = world.tracker(proxmox=LosesCreateAnswer(world.px))
    req, items = await world.request([spec("web-1")])
    await tracker.enqueue_creations(req.id, items)

    await world.until_request_final(req.id)

    assert len(creates_for(world, items[0].vmid)) == 1
    assert len(world.posts_of(ContainerReady)) == 1
    lookups = [r for r in world.requests_to("GET", "/tasks") if r.params.get("typefilter") == "vzcreate"]
    assert lookups, "the tracker must look before doing anything else"


class PostThenCrash(RecordingNotifier):
    """Posts the first final message, then "dies" before the caller can record the ts."""

    crashed: bool = False

    async def post(self, *, key: str, channel: str, thread_ts: str | None, event: Event) -> str:
        ts = await super().post(key=key, channel=channel, thread_ts=thread_ts, event=event)
        if not self.crashed:
            self.crashed = True
            raise ConnectionResetError("process killed right after chat.postMessage")
        return ts


async def test_crash_between_slack_post_and_recording_it_does_not_post_twice(world: World) -> None:
    """The message reached Slack but its ts was never stored: the retry finds it by its key instead of
    posting again."""
    notifier = PostThenCrash()
    world.notifier = notifier
    req, items = await world.request([spec("web-1")])
    first = world.tracker("replica-a", notifier=notifier)
    await first.enqueue_creations(req.id, items)

    async def crashed() -> bool:
        return notifier.crashed

    await world.drive(crashed)
    await first.shutdown()  # the "dead" process is gone
    world.trackers.remove(first)
    world.tracker("replica-b", notifier=notifier)
    world.sim.advance(60)

    await world.until_request_final(req.id)

    assert len(notifier.posts) == 1
    async with world.db.transaction(readonly=True) as tx:
        msg = await tx.outbox.get(notifier.posts[0].key or "")
        pending = await tx.ledger.pending_tasks()
    assert msg is not None
    assert msg.posted
    assert msg.ts == notifier.posts[0].ts
    assert pending == []


class ReplicaDied(BaseException):
    """The process died here (like SIGKILL): nothing after this point runs, no cleanup is polite."""


class DyingNotifier(RecordingNotifier):
    """The replica dies during its ``die_at``-th post (after Slack may or may not have received it)."""

    def __init__(self, die_at: int) -> None:
        super().__init__()
        self.die_at = die_at
        self.calls = 0
        self.alive = True

    async def post(self, *, key: str, channel: str, thread_ts: str | None, event: Event) -> str:
        self.calls += 1
        if self.alive and self.calls == self.die_at:
            self.alive = False
            raise ReplicaDied
        return await super().post(key=key, channel=channel, thread_ts=thread_ts, event=event)


async def test_tracker_dying_mid_sweep_is_replaced_and_every_container_reported_once(
    world: World,
) -> None:
    """A replica that dies in the middle of a sweep (a post in flight) leaves leases that expire; a new
    replica with a new owner finishes every task and each container gets exactly one final message."""
    notifier = DyingNotifier(die_at=2)
    world.notifier = notifier
    req, items = await world.request([spec(f"web-{i}") for i in range(1, 4)])
    first = world.tracker("replica-a", notifier=notifier)
    await first.enqueue_creations(req.id, items)

    for _ in range(60):
        try:
            await first.sweep()
        except ReplicaDied:
            break
        world.sim.advance(1)
    else:
        raise AssertionError("the second post never happened")
    world.trackers.remove(first)  # dead: no graceful shutdown, its leases stay until they expire

    world.sim.advance(61)
    second = world.tracker("replica-b", notifier=notifier)
    await world.until_request_final(req.id, trackers=[second])

    finals = Counter(p.key or "" for p in notifier.posts)
    assert sorted(finals) == sorted(f"container:{it.vmid}:final:{req.id}" for it in items)
    assert set(finals.values()) == {1}
    assert await world.request_state(req.id) is RequestState.READY
    for it in items:
        assert len(creates_for(world, it.vmid)) == 1


async def test_three_replicas_never_handle_a_task_twice(world: World, db_factory: Any) -> None:
    """Three trackers on one database sweeping at the same moments: every container is created once,
    started once and reported once, and creations never exceed the cluster-wide limit."""
    req, items = await world.request([spec(f"web-{i}") for i in range(1, 7)])
    replicas = [world.tracker(f"replica-{n}", db=await db_factory(), concurrency=3) for n in "abc"]
    await replicas[0].enqueue_creations(req.id, items)
    running_creates: list[int] = []

    async def done() -> bool:
        running_creates.append(sum(1 for t in world.sim.tasks if t.type == "vzcreate" and t.running))
        return await world.request_state(req.id) is RequestState.READY

    await world.drive(done, trackers=replicas, max_steps=150)

    assert max(running_creates) == 3
    assert set(post_counts(world.notifier).values()) == {1}
    assert len(world.posts_of(ContainerReady)) == 6
    for it in items:
        assert len(creates_for(world, it.vmid)) == 1
        assert len(world.requests_to("POST", f"/lxc/{it.vmid}/status/start")) == 1
    async with world.db.transaction(readonly=True) as tx:
        events = await tx.audit.recent(request_id=req.id, limit=500)
    per_action = Counter((e.action, e.vmid) for e in events)
    assert all(per_action[("container.created", it.vmid)] == 1 for it in items)
    assert all(per_action[("container.ready", it.vmid)] == 1 for it in items)


async def test_shutdown_gives_leases_back_at_once(world: World, db: Database) -> None:
    """A replica shutting down releases its leases, so another one continues without waiting."""
    req, items = await world.request([spec("web-1")])
    first = world.tracker("replica-a")
    await first.enqueue_creations(req.id, items)
    await first.sweep()  # submits the create; the row is now running
    async with db.transaction() as tx:
        claimed = await tx.ledger.claim_due("replica-a", now=world.now(), lease_seconds=600, limit=10)
    assert len(claimed) == 1
    await first.shutdown()
    assert (await first.sweep()).claimed == 0  # a stopped tracker takes no work

    async with db.transaction() as tx:
        again = await tx.ledger.claim_due("replica-b", now=world.now(), lease_seconds=60, limit=10)
    assert [t.id for t in again] == [claimed[0].id]
