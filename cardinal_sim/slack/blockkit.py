"""Block Kit as Slack checks it: why a message, a view or an answer to a modal submission is refused."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

# --- Block Kit: what Slack refuses ------------------------------------------------------------------
#
# Sources: docs.slack.dev/reference/block-kit/blocks ("up to 50 blocks in each message, and 100 blocks in
# modals or Home tabs"; block_id "must be unique for each block in a message or view"), the block element
# references (action_id "should be unique among all other action_ids in the containing block";
# plain_text_input max_length at most 3000) and Slack's Block Kit limits (docs.slack.dev). Per-field lengths
# (section text 3000, header 150, button text 75, 100 options, …) are checked by slack_sdk's models, which
# encode the same limits; what they miss is checked here.

MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100
VIEW_TITLE = 24
TEXT_INPUT_MAX = 3000


def block_kit_problems(blocks: Any, *, max_blocks: int, models: bool = True) -> list[str]:
    """Why Slack would refuse ``blocks`` on a surface holding at most ``max_blocks`` (empty: fine)."""
    if not isinstance(blocks, list):
        return ["blocks must be a list"]
    problems: list[str] = []
    if len(blocks) > max_blocks:
        problems.append(f"{len(blocks)} blocks; at most {max_blocks} allowed")
    block_ids: set[str] = set()
    for n, block in enumerate(blocks):
        if not isinstance(block, dict):
            problems.append(f"block {n} is not an object")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            if block_id in block_ids:
                problems.append(f"block_id {block_id!r} is used twice")
            block_ids.add(str(block_id))
        action_ids: set[str] = set()
        for element in _elements_of(block):
            action_id = element.get("action_id")
            if action_id is not None:
                if action_id in action_ids:
                    problems.append(f"action_id {action_id!r} is used twice in block {n}")
                action_ids.add(str(action_id))
            if element.get("type") == "plain_text_input":
                for key in ("max_length", "min_length"):
                    if int(element.get(key, 0)) > TEXT_INPUT_MAX:
                        problems.append(f"plain_text_input {key} above {TEXT_INPUT_MAX} in block {n}")
        if models:
            try:
                parsed = Block.parse(block)
                if parsed is None:
                    problems.append(f"block {n} has an unknown type {block.get('type')!r}")
                else:
                    parsed.to_dict()
            except (SlackObjectFormationError, KeyError, TypeError, AttributeError, ValueError) as exc:
                problems.append(f"block {n}: {exc}")
    return problems


def _elements_of(block: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[Any] = []
    if isinstance(block.get("element"), dict):
        found.append(block["element"])
    if isinstance(block.get("accessory"), dict):
        found.append(block["accessory"])
    if isinstance(block.get("elements"), list):
        found += block["elements"]
    return [e for e in found if isinstance(e, dict)]


def view_problems(view: Any, *, models: bool = True) -> list[str]:
    """Why Slack would refuse ``view`` in views.open / update / push / publish or a response_action."""
    if not isinstance(view, dict) or "type" not in view:
        return ["view must be an object with a type"]
    problems = block_kit_problems(view.get("blocks", []), max_blocks=VIEW_BLOCKS, models=models)
    for key in ("title", "submit", "close"):
        text = view.get(key)
        if isinstance(text, dict) and len(str(text.get("text", ""))) > VIEW_TITLE:
            problems.append(f"{key} is longer than {VIEW_TITLE} characters")
    return problems


def input_block_ids(view: Mapping[str, Any]) -> set[str]:
    """The block_ids of the view's input blocks: the only keys ``response_action: errors`` may use."""
    return {
        str(b["block_id"])
        for b in view.get("blocks", [])
        if isinstance(b, dict) and b.get("type") == "input" and b.get("block_id")
    }


def view_response_problems(view: Mapping[str, Any], response: Any) -> list[str]:
    """Why Slack would reject an app's answer to a ``view_submission`` of ``view`` (empty: accepted).

    An empty body closes the modal. ``response_action: errors`` must map block_ids of the view's input
    blocks to messages ("errors: an object of errors, where the key is the block_id of the input block";
    docs.slack.dev/surfaces/modals "Displaying errors in views"); any other key makes Slack reject the
    whole response, and the person sees a generic connection error with the modal still open.
    """
    if response in (None, "", b""):
        return []
    if not isinstance(response, Mapping):
        return [f"the answer is not JSON: {response!r}"[:200]]
    action = response.get("response_action")
    if action == "errors":
        errors = response.get("errors")
        if not isinstance(errors, Mapping) or not errors:
            return ["errors must be a non-empty object"]
        allowed = input_block_ids(view)
        return [
            f"errors key {key!r} is not an input block of the view" for key in errors if key not in allowed
        ]
    if action in ("update", "push"):
        return view_problems(response.get("view"))
    if action == "clear":
        return []
    return [f"unknown response_action {action!r}"]
