"""What one create-form submission costs the database: a handful of transactions, no re-reads.

A submission that needs an approver (validated in the ack, then: request recorded, thread opened, approval
card with its pre-flight posted) used to take 19 transactions and 49 statements, reading the request row
back 8 times. Counted here through the engine's events on the real database, as a DBA would see it; and
what the fewer, larger transactions must keep: a post recorded before it is made, and posted once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event

from bot.db import RequestState
from cardinal_sim.slack.payloads import create_values
from handlers.blocks.ids import ACTION_APPROVE, CALLBACK_CREATE
from tests.conftest import SIM_TEMPLATE
from tests.e2e.harness import APPROVALS, APPROVER, CHANNEL, REQUESTER, Harness, button_value

#: Validation's reads (one transaction: 2 statements); the request, its audit event and the root's post
#: intent (one: 3); the root's ts, the thread (and the request's state), the approval and the card's post
#: intent (one: 4); the card's ts and where the card is (one: 2).
MAX_TRANSACTIONS = 4
MAX_STATEMENTS = 11  # not counting BEGIN


@dataclass
class Counted:
    transactions: int = 0
    statements: list[str] = field(default_factory=list)


@contextmanager
def counting(harness: Harness) -> Iterator[Counted]:
    """Count transactions begun and statements run on Cardinal's engines (the writer's and, on SQLite, the
    read-only transactions' own) while the block runs."""
    db = harness.cardinal.db
    engines = {id(e): e.sync_engine for e in (db.engine, db.reader)}.values()
    seen = Counted()

    def on_begin(_conn: Any) -> None:
        seen.transactions += 1

    def on_statement(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if not statement.lstrip().upper().startswith("BEGIN"):
            seen.statements.append(" ".join(statement.split()))

    for engine in engines:
        event.listen(engine, "begin", on_begin)
        event.listen(engine, "before_cursor_execute", on_statement)
    try:
        yield seen
    finally:
        for engine in engines:
            event.remove(engine, "begin", on_begin)
            event.remove(engine, "before_cursor_execute", on_statement)


def _reads_of(statements: list[str], table: str) -> list[str]:
    """The logged statements that read ``table``."""
    out = []
    for statement in statements:
        words = statement.replace(",", " ").split()
        if words[:1] == ["SELECT"] and "FROM" in words and words[words.index("FROM") + 1] == table:
            out.append(statement)
    return out


async def test_a_submission_waiting_for_an_approver_takes_a_handful_of_transactions(
    harness: Harness,
) -> None:
    await harness.command("create", user=REQUESTER)
    view = harness.last_view(CALLBACK_CREATE)
    values = create_values("big", template=SIM_TEMPLATE, preset="large")  # beyond auto-approval

    with counting(harness) as seen:
        status, body = await harness.submit_view(view, values, user=REQUESTER)

    assert (status, body) == (200, "")
    [root] = harness.slack.messages(CHANNEL)
    [card] = harness.slack.messages(APPROVALS)
    assert "big" in root["text"]
    assert "Waiting for approval" in str(root["blocks"])  # posted showing its state: no revision needed
    assert [c.method for c in harness.slack.recorded].count("chat.update") == 0
    assert seen.transactions <= MAX_TRANSACTIONS, seen.statements
    assert len(seen.statements) <= MAX_STATEMENTS, seen.statements
    # What was just written is never read back: every SELECT of the request (the quota) precedes its INSERT.
    written = next(i for i, s in enumerate(seen.statements) if s.startswith("INSERT INTO container_request"))
    after = seen.statements[written:]
    assert _reads_of(after, "container_request") == []
    assert _reads_of(after, "approval") == []
    assert _reads_of(after, "slack_message") == []

    # The records written that way hold: the card's buttons work and the thread gets the outcome.
    await harness.click(ACTION_APPROVE, button_value(card, ACTION_APPROVE), user=APPROVER)
    assert any("approved by" in t for t in harness.texts())


async def test_a_root_posted_but_not_recorded_is_found_and_the_request_carried_on_once(
    harness: Harness,
) -> None:
    """The connection drops after Slack posted the thread's root: nothing after the post was recorded.
    Resuming finds the root by its key, records the thread with the approval in one go, and posts the
    card: one root, one card."""
    harness.slack.drop_next("chat.postMessage")  # the root is posted; Cardinal never hears its ts
    assert await harness.request("big", preset="large") == (200, "")
    [root] = harness.slack.messages(CHANNEL)
    assert harness.slack.messages(APPROVALS) == []
    harness.clock.advance(seconds=120)
    assert await harness.cardinal.services.requests.resume_stalled(owner="e2e-replica") == 1
    assert harness.slack.messages(CHANNEL) == [root]
    [card] = harness.slack.messages(APPROVALS)
    async with harness.cardinal.db.transaction(readonly=True) as tx:
        [request] = await tx.requests.list_by_requester(REQUESTER)
        [approval] = await tx.approvals.for_request(request.id)
    assert request.thread_ts == root["ts"]
    assert request.state is RequestState.PENDING_APPROVAL
    assert (approval.card_channel, approval.card_ts) == (APPROVALS, card["ts"])
    await harness.click(ACTION_APPROVE, button_value(card, ACTION_APPROVE), user=APPROVER)
    assert any("approved by" in t for t in harness.texts())
