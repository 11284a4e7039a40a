"""Rendering domain events (:mod:`bot.events`): :func:`render_event` turns any
:data:`bot.events.Event` into a message, and :func:`notice` draws the short notices.
"""

from __future__ import annotations

from typing import assert_never

from bot.events import (
    ActionApprovalCard,
    ActionDecided,
    ApprovalCard,
    ContainerReady,
    DigestReady,
    Event,
    Notice,
    RequestProgress,
    TaskFailed,
    TaskSucceeded,
)
from handlers.blocks.approval import action_approval_card, action_decision, approval_card
from handlers.blocks.digest import digest_message
from handlers.blocks.kit import (
    MAX_ACTION_ELEMENTS,
    MAX_SECTION_TEXT,
    Block,
    Message,
    clip,
    ensure_id,
    message,
    plain,
    safe_mrkdwn,
    section,
)
from handlers.blocks.progress import failure_result, ready_result, request_thread_root, task_succeeded


def notice(event: Notice) -> Message:
    """A short message with optional buttons (``(action_id, label, value)``; values must be bare ids).

    ``event.text`` keeps user mentions; other markup is shown literally (see :func:`safe_mrkdwn`).
    ValueError when a button's action_id or value is not an id.
    """
    text = safe_mrkdwn(event.text.strip()) or "_(empty notice)_"
    blocks: list[Block] = [section(clip(text, MAX_SECTION_TEXT))]
    if event.actions:
        buttons = [
            {
                "type": "button",
                "action_id": ensure_id(action_id, "action_id"),
                "text": plain(label or action_id),
                "value": ensure_id(value, "button value"),
            }
            for action_id, label, value in event.actions[:MAX_ACTION_ELEMENTS]
        ]
        blocks.append({"type": "actions", "elements": buttons})
    return message(clip(text, 500), blocks)


def render_event(event: Event) -> Message:
    """The Slack message for any domain event (:data:`bot.events.Event`), ready for ``chat.postMessage``.

    Exhaustive: a new event type that is not handled here is a mypy error (``assert_never``).
    """
    match event:
        case RequestProgress():
            return request_thread_root(event.summary)
        case ApprovalCard():
            return approval_card(event)
        case ContainerReady():
            return ready_result(event)
        case TaskFailed():
            return failure_result(event)
        case TaskSucceeded():
            return task_succeeded(event)
        case Notice():
            return notice(event)
        case DigestReady():
            return digest_message(event.digest)
        case ActionApprovalCard():
            return action_approval_card(event)
        case ActionDecided():
            return action_decision(event)
        case _:
            assert_never(event)
