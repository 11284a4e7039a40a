"""Cardinal's own ids stay readable in logs; the same UUID shape elsewhere is still masked."""

from __future__ import annotations

from bot.logs import REDACTED, redact

UUID = "3ce6575e-04ae-438b-9a10-4ea99336d883"


def test_request_ids_are_kept_but_uuids_in_text_are_masked() -> None:
    event = redact(None, "info", {"event": f"token {UUID} leaked", "request_id": UUID, "note": UUID})
    assert event["request_id"] == UUID
    assert event["note"] == REDACTED
    assert UUID not in event["event"]
