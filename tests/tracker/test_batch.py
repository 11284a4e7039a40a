"""Tasks ending in the same sweep are written together, and every message still goes out exactly once —
also when Slack fails some of the posts, or the sweep that wrote them dies before posting."""

from __future__ import annotations

from typing import Any

import pytest

from bot.db import TaskStatus
from bot.events import Event, TaskFailed, TaskSucceeded
from bot.notify import RecordingNotifier
from tests.tracker.conftest import CHANNEL, TOKEN_ID, World

THREAD = "1690000000.000777"


class FlakySlack(RecordingNotifier):
    """Fails the first ``failures`` posts, as Slack answering 5xx would."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def post(self, *, key: str, channel: str, thread_ts: str | None, event: Event) -> str:
        if self.failures > 0:
            self.failures -= 1
            raise RuntimeError("slack is down")
        return await super().post(key=key, channel=channel, thread_ts=thread_ts, event=event)


async def _track(world: World, tracker: Any, n: int, *, fail_every: int = 0) -> list[str]:
    from cardinal_sim.proxmox.state import TaskResult

    def failing(_task: Any) -> TaskResult:
        return TaskResult(lines=["lxc-start: failed"], error="startup for container failed")

    ids = []
    for i in range(n):
        fails = fail_every and i % fail_every == 0
        upid = world.sim.start_task(
            ("pve", "pve2")[i % 2],
            "vzstart",
            str(700 + i),
            TOKEN_ID,
            duration=2,
            finish=failing if fails else None,
        ).upid
        task = await tracker.track(
            "start", upid, vmid=700 + i, actor="U0BOB", channel=CHANNEL, thread_ts=THREAD
        )
        ids.append(task.id)
    return ids


async def test_tasks_ending_together_are_each_reported_once_with_their_outcome(world: World) -> None:
    tracker = world.tracker()
    ids = await _track(world, tracker, 30, fail_every=10)
    assert (await tracker.sweep()).finished == 0
    world.sim.advance(3)
    report = await tracker.sweep()
    assert (report.finished, report.notified) == (30, 30)
    assert sorted(p.event.vmid for p in world.posts_of(TaskFailed)) == [700, 710, 720]
    assert len(world.posts_of(TaskSucceeded)) == 27
    assert len({p.key for p in world.notifier.posts}) == 30
    async with world.db.transaction(readonly=True) as tx:
        rows = [await tx.ledger.get_task(i) for i in ids]
    assert all(r is not None and r.status.is_final and r.lease_owner is None for r in rows)
    for _ in range(3):  # nothing is posted again
        world.sim.advance(3)
        await tracker.sweep()
    assert len(world.notifier.posts) == 30


async def test_posts_slack_failed_are_retried_and_each_goes_out_once(world: World) -> None:
    slack = FlakySlack(failures=4)
    world.notifier = slack
    tracker = world.tracker(notifier=slack)
    ids = await _track(world, tracker, 10)
    await tracker.sweep()
    world.sim.advance(3)
    report = await tracker.sweep()
    assert (report.finished, report.notified) == (10, 6)
    async with world.db.transaction(readonly=True) as tx:
        rows = [await tx.ledger.get_task(i) for i in ids]
    assert all(r is not None and r.status is TaskStatus.SUCCEEDED for r in rows)
    for _ in range(20):  # the failed four: retried after the error backoff and the outbox's grace
        world.sim.advance(5)
        await tracker.sweep()
    assert sorted(p.event.vmid for p in slack.posts) == list(range(700, 710))


class ReplicaDied(BaseException):
    """The process died here (like SIGKILL): nothing after this point runs."""


class DiesOnThirdPost(RecordingNotifier):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    async def post(self, *, key: str, channel: str, thread_ts: str | None, event: Event) -> str:
        self.calls += 1
        if self.calls == 3:
            raise ReplicaDied
        return await super().post(key=key, channel=channel, thread_ts=thread_ts, event=event)


async def test_a_sweep_that_dies_while_posting_leaves_each_message_to_go_out_once(world: World) -> None:
    """The batch wrote the final states and intents, posted some messages, then the process died before
    recording them: another replica takes the rows once their leases run out, finds those in the
    thread, and posts only the others."""
    slack = DiesOnThirdPost()
    world.notifier = slack
    first = world.tracker(notifier=slack, lease_seconds=30.0)
    await _track(world, first, 6)
    await first.sweep()
    world.sim.advance(3)
    with pytest.raises(ReplicaDied):
        await first.sweep()
    world.trackers.remove(first)  # dead: no graceful shutdown, its leases stay until they expire
    assert slack.posts  # some reached Slack; none was recorded as posted

    second = world.tracker("replica-b", notifier=slack)
    for _ in range(10):
        world.sim.advance(10)
        await second.sweep()
    assert sorted(p.event.vmid for p in slack.posts) == list(range(700, 706))
