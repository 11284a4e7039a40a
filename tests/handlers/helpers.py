"""Reading Block Kit payloads in tests: visible text, mrkdwn, buttons, and Slack's validation."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View


def walk_text(node: Any) -> list[str]:
    """Every text string inside a block structure."""
    if isinstance(node, dict):
        out = [node["text"]] if isinstance(node.get("text"), str) else []
        return out + [t for k, v in node.items() for t in walk_text(v)]
    if isinstance(node, list):
        return [t for v in node for t in walk_text(v)]
    return []


def text_of(msg: dict[str, Any]) -> str:
    """All visible text of a message or view, joined."""
    return "\n".join(walk_text(msg["blocks"]))


def mrkdwn_of(node: Any) -> list[str]:
    """Every mrkdwn text inside a block structure (plain_text cannot form mentions or links)."""
    if isinstance(node, dict):
        out = [node["text"]] if node.get("type") == "mrkdwn" else []
        return out + [t for v in node.values() for t in mrkdwn_of(v)]
    if isinstance(node, list):
        return [t for v in node for t in mrkdwn_of(v)]
    return []


def assert_valid_message(msg: dict[str, Any]) -> None:
    """The message passes slack_sdk validation unchanged and respects Slack's message limits."""
    assert msg["text"]
    assert len(msg["text"]) <= 4000
    assert 1 <= len(msg["blocks"]) <= 50
    assert sum(len(t) for t in walk_text(msg["blocks"])) <= 12_000
    for block in msg["blocks"]:
        parsed = Block.parse(block)
        assert parsed is not None
        assert parsed.to_dict() == block  # validates, and nothing unknown was silently dropped
        if block["type"] == "section" and "text" in block:
            assert len(block["text"]["text"]) <= 3000


def assert_valid_view(view: dict[str, Any]) -> None:
    """The view passes slack_sdk's View validation (title, blocks ≤ 100, private_metadata ≤ 3000)."""
    View(**view).to_dict()
    assert len(view["blocks"]) <= 100
    for block in view["blocks"]:
        parsed = Block.parse(block)
        assert parsed is not None
        assert parsed.to_dict() == block


def buttons(msg: dict[str, Any]) -> list[dict[str, Any]]:
    """Every button of a message."""
    return [e for blk in msg["blocks"] if blk["type"] == "actions" for e in blk["elements"]]
