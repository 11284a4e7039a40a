"""Cardinal's answers to modal submissions are ones Slack accepts.

Slack rejects a whole ``response_action: errors`` answer whose keys are not block_ids of the view's input
blocks (docs.slack.dev/surfaces/modals, "Displaying errors in views"); the person then sees a generic
error and no hint. The fake Slack refuses such answers
(:func:`cardinal_sim.slack.standin.view_response_problems`).
"""

from __future__ import annotations

import json
from typing import Any

from handlers import blocks
from tests.e2e.harness import Harness
from tests.fakes.signing import number, plain, selected


def _opened_view(harness: Harness) -> dict[str, Any]:
    """The create modal as views.open showed it: the template list still loading."""
    [opened] = harness.slack.calls("views.open")
    view = opened.params["view"]
    return dict(json.loads(view) if isinstance(view, str) else view)


async def test_submitting_while_templates_load_marks_the_template_field_in_the_view(harness: Harness) -> None:
    await harness.command("create")
    loading = _opened_view(harness)
    assert blocks.TEMPLATE_UNAVAILABLE_BLOCK in {b.get("block_id") for b in loading["blocks"]}
    values = {
        "hostname": {"value": plain("web")},
        "count": {"value": number("1")},
        blocks.TEMPLATE_UNAVAILABLE_BLOCK: {"value": selected("__unavailable__")},
        "preset": {"value": selected("small")},
        "net_mode": {"value": selected("dhcp", "radio_buttons")},
        "bridge": {"value": selected("vmbr0")},
        "lifetime": {"value": selected("7d")},
        "node": {"value": selected("auto")},
        "purpose": {"value": plain("testing")},
    }
    status, body = await harness.submit_view(loading, values, user="U0REQUEST")
    assert status == 200
    assert body["response_action"] == "errors"
    assert "loading" in body["errors"][blocks.TEMPLATE_UNAVAILABLE_BLOCK]
    assert harness.slack.refused_responses == []
    assert harness.creates() == []
