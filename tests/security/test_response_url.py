"""``response_url`` is only posted to when it is one of Slack's hooks URLs: the hooks base follows the
Web API base the settings point at (real Slack: ``https://hooks.slack.com/``; a stand-in: ``…/hooks/``)."""

from __future__ import annotations

import pytest
from slack_bolt.request.async_request import AsyncBoltRequest

from handlers.edge import hooks_base, is_slack_hook
from tests.e2e.harness import CHANNEL, REQUESTER
from tests.fakes.signing import form_body, interactive_body, slash_command, view_submission

from .conftest import Edge


@pytest.mark.parametrize(
    ("api_url", "base"),
    [
        ("https://slack.com/api/", "https://hooks.slack.com/"),
        ("https://slack.com/api", "https://hooks.slack.com/"),
        ("http://127.0.0.1:8080/api/", "http://127.0.0.1:8080/hooks/"),
        ("http://standin.lan/slack/api/", "http://standin.lan/slack/hooks/"),
    ],
)
def test_the_hooks_base_follows_the_web_api_base(api_url: str, base: str) -> None:
    assert hooks_base(api_url) == base


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://hooks.slack.com/commands/T0001/1/abc", True),
        ("https://hooks.slack.com/actions/T0001/1/abc", True),
        ("https://HOOKS.slack.com/commands/T0001/1/abc", True),
        ("http://hooks.slack.com/commands/T0001/1/abc", False),
        ("https://hooks.slack.com.evil.example/commands/1", False),
        ("https://evil.example/https://hooks.slack.com/commands/1", False),
        ("https://user@hooks.slack.com/commands/1", False),
        ("https://hooks.slack.com:8443/commands/1", False),
        ("https://hooks.slack.com/commands/../../admin", False),
        ("https://hooks.slack.com/", False),
        ("https://hooks.slack.com/commands/1 x", False),
        ("https://hooks.slack.com\\@evil.example/", False),
        ("http://10.0.0.1/admin/reset", False),
        ("", False),
        (None, False),
        (["https://hooks.slack.com/commands/1"], False),
    ],
)
def test_only_slack_hooks_urls_are_accepted(url: object, ok: bool) -> None:
    assert is_slack_hook(url, "https://hooks.slack.com/") is ok


async def test_a_signed_command_with_a_foreign_response_url_is_refused_at_the_edge(edge: Edge) -> None:
    body = form_body(slash_command("list", user=REQUESTER, channel=CHANNEL, response_url=edge.target.url()))
    status, _ = await edge.signed(body)
    assert status == 400
    await edge.cardinal.services.background.idle()
    assert edge.outbound() == []


async def test_a_view_submission_with_a_foreign_response_url_is_refused_at_the_edge(edge: Edge) -> None:
    payload = view_submission(
        "create_request", {}, user=REQUESTER, response_urls=[{"response_url": edge.target.url()}]
    )
    status, _ = await edge.signed(interactive_body(payload))
    assert status == 400
    assert edge.outbound() == []


async def test_socket_mode_payloads_never_reach_a_foreign_response_url(edge: Edge) -> None:
    """Socket Mode payloads are not signed (the WebSocket is authenticated): a foreign response_url in
    one is dropped with a WARNING instead of being posted to."""
    body = dict(
        slash_command("status 20999", user=REQUESTER, channel=CHANNEL, response_url=edge.target.url())
    )
    resp = await edge.cardinal.app.async_dispatch(AsyncBoltRequest(body=body, mode="socket_mode"))
    assert resp.status == 200
    await edge.cardinal.services.background.idle()
    assert edge.target.hits == []
    assert any(line["event"] == "slack.response_url_refused" for line in edge.log_lines())


async def test_slack_hooks_urls_are_still_answered(edge: Edge) -> None:
    body = dict(
        slash_command("status 20999", user=REQUESTER, channel=CHANNEL, response_url=edge.hook_url("ok1"))
    )
    resp = await edge.cardinal.app.async_dispatch(AsyncBoltRequest(body=body, mode="socket_mode"))
    assert resp.status == 200
    await edge.cardinal.services.background.idle()
    [answer] = await edge.slack.wait_for(lambda: edge.slack.hook_posts("ok1"))
    assert answer["response_type"] == "ephemeral"
