"""Routing: news about a container Cardinal owns goes to its thread, the rest to the ops channel (or
only the log), each notification posted once however often it is delivered."""

from __future__ import annotations

import json
from typing import Any

from bot.db import ContainerState, Database
from bot.events import Event, Notice
from bot.notifications import AUDIT_ACTION, BODY_TEMPLATE
from bot.notify import RecordingNotifier
from cardinal_sim.proxmox.notify import render_template, vzdump_message, vzdump_title
from tests.conftest import FakeClock
from tests.notifications.conftest import LAB, OPS, OWNER, RouterEnv, add_container, make_router


def body(
    *,
    type: str | None = "vzdump",
    title: str = "vzdump backup status (pve1): backup failed",
    message: str = "",
    severity: str = "error",
    hostname: str = "pve1",
    timestamp: int = 1764072000,
    fields: dict[str, str] | None = None,
) -> Any:
    """A decoded body as the documented target renders it."""
    meta = {"hostname": hostname, **({"type": type} if type else {}), **(fields or {})}
    context = {
        "title": title,
        "message": message,
        "severity": severity,
        "timestamp": timestamp,
        "fields": meta,
    }
    return json.loads(render_template(BODY_TEMPLATE, context))


def texts(notifier: RecordingNotifier) -> list[str]:
    out = []
    for p in notifier.posts:
        assert isinstance(p.event, Notice)
        out.append(p.event.text)
    return out


async def test_backup_report_naming_an_owned_container_goes_to_its_thread(router_env: RouterEnv) -> None:
    await add_container(router_env.db, 20001, hostname="web-1")
    rows = [(20001, "web-1", "err"), (101, "not-ours", "ok")]
    outcome = await router_env.router.receive(body(title=vzdump_title(rows), message=vzdump_message(rows)))

    assert outcome.posted == ("thread:20001",)
    [post] = router_env.notifier.posts
    assert (post.channel, post.thread_ts) == (LAB, "1700000000.000100")
    assert isinstance(post.event, Notice)
    assert "web-1" in post.event.text
    assert "backup" in post.event.text
    assert "ERROR: Backup of VM 20001 failed" in post.event.text
    assert "not-ours" not in post.event.text


async def test_a_redelivered_notification_is_posted_once(router_env: RouterEnv) -> None:
    await add_container(router_env.db, 20001)
    doc = body(message="20001: ERROR: Backup of VM 20001 failed")
    first = await router_env.router.receive(doc)
    again = await router_env.router.receive(dict(reversed(list(doc.items()))))  # same body, other key order

    assert first.posted == ("thread:20001",)
    assert again.posted == ()
    assert again.duplicates == ("thread:20001",)
    assert len(router_env.notifier.posts) == 1


async def test_each_owned_container_in_a_report_gets_its_own_post(router_env: RouterEnv) -> None:
    await add_container(router_env.db, 20001, thread=(LAB, "1700000000.000100"))
    await add_container(router_env.db, 20002, thread=(LAB, "1700000000.000200"))
    rows = [(20001, "a", "ok"), (20002, "b", "ok")]
    outcome = await router_env.router.receive(body(severity="info", message=vzdump_message(rows)))

    assert sorted(outcome.posted) == ["thread:20001", "thread:20002"]
    assert sorted(p.thread_ts or "" for p in router_env.notifier.posts) == [
        "1700000000.000100",
        "1700000000.000200",
    ]


async def test_backup_of_guests_cardinal_does_not_own_goes_to_ops(router_env: RouterEnv) -> None:
    await add_container(router_env.db, 20001)
    rows = [(101, "db", "err")]
    outcome = await router_env.router.receive(body(message=vzdump_message(rows)))

    assert outcome.posted == ("ops",)
    [post] = router_env.notifier.posts
    assert (post.channel, post.thread_ts) == (OPS, None)
    assert "vzdump" in texts(router_env.notifier)[0]


async def test_replication_of_an_owned_container_goes_to_its_thread(router_env: RouterEnv) -> None:
    await add_container(router_env.db, 20001)
    outcome = await router_env.router.receive(
        body(type="replication", title="Replication Job: 20001-0 failed", fields={"job-id": "20001-0"})
    )
    assert outcome.posted == ("thread:20001",)
    assert "replication" in texts(router_env.notifier)[0]


async def test_fencing_a_node_reaches_the_threads_of_the_containers_on_it(router_env: RouterEnv) -> None:
    await add_container(router_env.db, 20001, node="pve2", thread=(LAB, "1700000000.000100"))
    await add_container(router_env.db, 20002, node="pve2", thread=(LAB, "1700000000.000200"))
    await add_container(router_env.db, 20003, node="pve1", thread=(LAB, "1700000000.000300"))
    await add_container(router_env.db, 20004, node="pve2", state=ContainerState.DESTROYED)
    outcome = await router_env.router.receive(
        body(type="fencing", title="FENCE: Try to fence node 'pve2'", hostname="pve2")
    )
    assert sorted(outcome.posted) == ["thread:20001", "thread:20002"]


async def test_an_owned_container_without_a_thread_is_reported_in_ops_naming_it(
    router_env: RouterEnv,
) -> None:
    await add_container(router_env.db, 20001, hostname="web-1", thread=None)
    outcome = await router_env.router.receive(body(message="20001: ERROR: Backup of VM 20001 failed"))

    assert outcome.posted == ("ops:20001",)
    [post] = router_env.notifier.posts
    assert post.channel == OPS
    assert "web-1" in texts(router_env.notifier)[0]
    assert f"<@{OWNER}>" in texts(router_env.notifier)[0]


async def test_destroyed_containers_are_not_owned_any_more(router_env: RouterEnv) -> None:
    await add_container(router_env.db, 20001, state=ContainerState.DESTROYED)
    outcome = await router_env.router.receive(body(message="20001: INFO: Starting Backup of VM 20001"))
    assert outcome.posted == ("ops",)


async def test_without_an_ops_channel_other_news_is_only_logged_and_audited(
    db: Database, clock: FakeClock
) -> None:
    env = make_router(db, clock, ops_channel=None)
    outcome = await env.router.receive(body(type="package-updates", title="New software packages available"))

    assert outcome.logged == ("log",)
    assert outcome.posted == ()
    assert env.notifier.posts == []
    async with db.transaction() as tx:
        [event] = await tx.audit.recent()
    assert event.action == AUDIT_ACTION
    assert event.detail["destination"] == "log"


async def test_a_post_is_audited_under_the_container(router_env: RouterEnv) -> None:
    await add_container(router_env.db, 20001)
    await router_env.router.receive(body(message="20001: ERROR: Backup of VM 20001 failed"))
    async with router_env.db.transaction() as tx:
        [event] = await tx.audit.recent(vmid=20001)
    assert event.actor == "proxmox"
    assert event.action == AUDIT_ACTION
    assert event.detail["type"] == "vzdump"
    assert event.detail["severity"] == "error"
    assert event.detail["destination"] == "thread:20001"


async def test_an_unknown_shape_posts_nothing_and_says_why(router_env: RouterEnv) -> None:
    outcome = await router_env.router.receive({"event": "something else entirely"})
    assert outcome.status == "ignored"
    assert outcome.problems
    assert router_env.notifier.posts == []


class FlakyNotifier(RecordingNotifier):
    """Refuses the first post (Slack down), then works."""

    failures: int = 1

    async def post(self, *, key: str, channel: str, thread_ts: str | None, event: Event) -> str:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("slack unreachable")
        return await super().post(key=key, channel=channel, thread_ts=thread_ts, event=event)


async def test_a_failed_post_is_reported_and_a_later_redelivery_posts_it_once(
    db: Database, clock: FakeClock
) -> None:
    env = make_router(db, clock, notifier=FlakyNotifier())
    await add_container(db, 20001)
    doc = body(message="20001: ERROR: Backup of VM 20001 failed")

    first = await env.router.receive(doc)
    assert first.failed == ("thread:20001",)
    assert env.notifier.posts == []

    clock.advance(minutes=5)  # past the outbox's grace for an unconfirmed intent
    second = await env.router.receive(doc)
    third = await env.router.receive(doc)
    assert second.posted == ("thread:20001",)
    assert third.duplicates == ("thread:20001",)
    assert len(env.notifier.posts) == 1
