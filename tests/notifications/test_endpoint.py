"""``POST /proxmox/notify`` over HTTP on the real internal app, fed as Proxmox's webhook target feeds it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import structlog

from bot.db import Database
from bot.notifications import AUDIT_ACTION
from bot.ops.webhooks import MAX_BODY, NOTIFY_PATH
from cardinal_sim.proxmox.notify import emit_notification, vzdump_message, vzdump_title
from tests.conftest import FakeClock
from tests.notifications.conftest import (
    LAB,
    NOTIFY_SECRET,
    OPS,
    ClientFactory,
    Live,
    ServerFactory,
    add_container,
    start_live,
)

BACKUP_FAILED = [(20001, "web-1", "err")]


async def _backup(live: Live, secret: str | None, rows: list[tuple[int, str, str]]) -> tuple[int, object]:
    return await emit_notification(
        live.url,
        secret,
        type="vzdump",
        severity="error",
        title=vzdump_title(rows),
        message=vzdump_message(rows),
        timestamp=1764072000,
    )


async def _audit_count(db: Database) -> int:
    async with db.transaction() as tx:
        return len([e for e in await tx.audit.recent(limit=100) if e.action == AUDIT_ACTION])


async def test_forged_calls_are_refused_and_post_nothing(live: Live) -> None:
    root = await live.thread_root()
    await add_container(live.cardinal.db, 20001, thread=(LAB, root))
    posts_before = len(live.slack.calls("chat.postMessage"))

    no_secret = await _backup(live, None, BACKUP_FAILED)
    wrong_secret = await _backup(live, "x" * len(NOTIFY_SECRET), BACKUP_FAILED)
    wrong_bearer = await emit_notification(
        live.url,
        "not-the-secret",
        type="vzdump",
        title="t",
        headers={"Content-Type": "application/json", "Authorization": "Bearer {{ secrets.cardinal }}"},
    )

    assert [no_secret[0], wrong_secret[0], wrong_bearer[0]] == [401, 401, 401]
    assert len(live.slack.calls("chat.postMessage")) == posts_before
    assert live.slack.thread(LAB, root)[1:] == []
    assert await _audit_count(live.cardinal.db) == 0


async def test_a_backup_of_an_owned_container_lands_once_in_its_thread(live: Live) -> None:
    root = await live.thread_root()
    await add_container(live.cardinal.db, 20001, hostname="web-1", thread=(LAB, root))

    first = await _backup(live, NOTIFY_SECRET, BACKUP_FAILED)
    second = await _backup(live, NOTIFY_SECRET, BACKUP_FAILED)  # Proxmox delivered it again

    assert first[0] == 200
    assert second[0] == 200
    assert isinstance(first[1], dict)
    assert isinstance(second[1], dict)
    assert first[1]["posted"] == ["thread:20001"]
    assert second[1]["duplicates"] == ["thread:20001"]
    replies = live.slack.thread(LAB, root)[1:]
    assert len(replies) == 1
    text = json.dumps(replies[0]["blocks"])
    assert "web-1" in text
    assert "Backup of VM 20001 failed" in text
    assert live.slack.messages(OPS) == []


async def test_a_backup_of_an_unknown_vmid_goes_to_the_ops_channel(live: Live) -> None:
    await add_container(live.cardinal.db, 20001, thread=None)
    status, answer = await _backup(live, NOTIFY_SECRET, [(101, "db", "err")])

    assert status == 200
    assert isinstance(answer, dict)
    assert answer["posted"] == ["ops"]
    [message] = live.slack.messages(OPS)
    assert "thread_ts" not in message
    assert "vzdump backup status" in json.dumps(message["blocks"])


async def test_bearer_authorization_is_accepted_too(live: Live) -> None:
    status, answer = await emit_notification(
        live.url,
        NOTIFY_SECRET,
        type=None,
        title="Test notification",
        message="This is a test of the notification target 'cardinal'.",
        headers={"Content-Type": "application/json", "Authorization": "Bearer {{ secrets.cardinal }}"},
    )
    assert status == 200
    assert isinstance(answer, dict)
    assert answer["posted"] == ["ops"]
    assert len(live.slack.messages(OPS)) == 1


async def test_an_oversized_body_is_refused_before_anything_is_posted(live: Live) -> None:
    huge = json.dumps({"title": "t", "message": "x" * (MAX_BODY + 1), "fields": {}})
    headers = {"X-Cardinal-Secret": NOTIFY_SECRET, "Content-Type": "application/json"}
    resp = await live.http.post(NOTIFY_PATH, data=huge.encode(), headers=headers)
    assert resp.status == 413

    async def chunks() -> AsyncIterator[bytes]:
        yield huge.encode()

    chunked = await live.http.post(NOTIFY_PATH, data=chunks(), headers=headers)  # no Content-Length
    assert chunked.status == 413
    assert live.slack.messages(OPS) == []


async def test_bad_content_type_bad_json_and_unknown_shapes(live: Live) -> None:
    secret = {"X-Cardinal-Secret": NOTIFY_SECRET}
    form = await live.http.post(
        NOTIFY_PATH, data=b"title=x", headers={**secret, "Content-Type": "text/plain"}
    )
    broken = await live.http.post(
        NOTIFY_PATH, data=b"{not json", headers={**secret, "Content-Type": "application/json"}
    )
    unknown = await live.http.post(NOTIFY_PATH, json={"alert": "cpu high", "value": 97}, headers=secret)

    assert (form.status, broken.status, unknown.status) == (415, 400, 202)
    answer = await unknown.json()
    assert answer["status"] == "ignored"
    assert any("title" in p for p in answer["problems"])
    assert live.slack.messages(OPS) == []
    assert (await live.http.get("/healthz")).status == 200  # the ops app is still healthy


async def test_the_secret_never_reaches_the_logs(live: Live) -> None:
    wrong = "wrong-" + NOTIFY_SECRET
    with structlog.testing.capture_logs() as logs:
        await _backup(live, wrong, [(101, "db", "ok")])
        await _backup(live, NOTIFY_SECRET, [(101, "db", "ok")])
    dumped = json.dumps(logs, default=str)
    assert "proxmox.notify.refused" in dumped
    assert "proxmox.notify.posted" in dumped
    assert NOTIFY_SECRET not in dumped


async def test_the_endpoint_does_not_exist_without_a_secret(
    sqlite_db: Database, clock: FakeClock, aiohttp_server: ServerFactory, aiohttp_client: ClientFactory
) -> None:
    live, close = await start_live(sqlite_db, clock, aiohttp_server, aiohttp_client, secret=None)
    try:
        status, _ = await _backup(live, NOTIFY_SECRET, BACKUP_FAILED)
        assert status == 404
        assert (await live.http.get("/healthz")).status == 200
    finally:
        await close()
