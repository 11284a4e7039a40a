"""Both Slack app manifests declare exactly what the code uses.

The Web API methods Cardinal calls are read from the source of ``bot/`` and ``handlers/`` (attribute calls
named like a ``slack_sdk`` ``AsyncWebClient`` method, such as ``client.chat_postMessage(...)``, and
``api_call("method")``). Each must be in :data:`bot.ops.scopes.METHOD_SCOPES` (and nothing stale may stay
there), and the scopes those methods need must be exactly the bot scopes of both manifests: no missing
scope (a call fails with ``missing_scope``), no unused one (an install asks for more than it needs).
"""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from slack_sdk.web.async_client import AsyncWebClient

from bot.ops.scopes import FEATURE_SCOPES, METHOD_SCOPES, REQUIRED_BOT_SCOPES, needed_for

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [ROOT / "bot", ROOT / "handlers"]
MANIFESTS = sorted((ROOT / "manifests").glob("slack-app-*.yaml"))
URL_KEYS = {"url", "request_url", "message_menu_options_url"}
HANDLED_URL_KEYS = {"url", "request_url"}
"""URLs Cardinal answers: the slash command, interactivity and the Events API (all on /slack/events;
tests/e2e/test_manifest_urls.py posts to each). Options load URLs need an ``app.options`` listener,
which Cardinal does not have."""

AWAITING_CALLER: set[str] = set()
"""Methods in the table that a change landing alongside this one calls (direct messages opened with
``conversations.open``, which needs ``im:write``). Delete an entry once the code calls it."""

_API_CALL = re.compile(r"""api_call\(\s*["']([a-zA-Z.]+)["']""")


def _sdk_methods() -> dict[str, str]:
    """``AsyncWebClient`` attribute → the Web API method it calls (read from the SDK's own source)."""
    out: dict[str, str] = {}
    for name, member in inspect.getmembers(AsyncWebClient, inspect.isfunction):
        if name.startswith("_") or name == "api_call":
            continue
        match = _API_CALL.search(inspect.getsource(member))
        if match is not None:
            out[name] = match.group(1)
    return out


SDK_METHODS = _sdk_methods()


def _calls(tree: ast.AST) -> Iterator[str]:
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in SDK_METHODS:
            yield SDK_METHODS[func.attr]
        if isinstance(func, ast.Attribute | ast.Name) and getattr(func, "attr", getattr(func, "id", "")) == (
            "api_call"
        ):
            first = node.args[0] if node.args else None
            assert isinstance(first, ast.Constant), "api_call with a computed method name cannot be checked"
            yield str(first.value)


def methods_used() -> dict[str, list[str]]:
    """Every Web API method the code calls → the files calling it."""
    used: dict[str, list[str]] = {}
    for base in SOURCES:
        for path in sorted(base.rglob("*.py")):
            tree = ast.parse(path.read_text("utf-8"), filename=str(path))
            for method in _calls(tree):
                used.setdefault(method, []).append(str(path.relative_to(ROOT)))
    return used


def manifest(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text("utf-8"))
    assert isinstance(data, dict)
    return data


def urls(node: Any, where: str = "") -> Iterator[tuple[str, str]]:
    """(dotted key, URL) of every URL a manifest declares."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in URL_KEYS or (isinstance(value, str) and value.startswith("http")):
                yield f"{where}{key}", str(value)
            else:
                yield from urls(value, f"{where}{key}.")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from urls(item, f"{where}{i}.")


def test_the_scan_finds_the_calls_we_know_of() -> None:
    """The scanner itself works: it sees calls through ``client``, ``self._client`` and ``self.client``."""
    used = methods_used()
    assert "handlers/notifier.py" in used["chat.postMessage"]
    assert "handlers/notifier.py" in used["conversations.history"]
    assert "handlers/approvers.py" in used["usergroups.users.list"]
    assert "handlers/home.py" in used["views.publish"]


def test_every_called_method_has_its_scopes_in_the_table() -> None:
    unknown = {m: files for m, files in methods_used().items() if m not in METHOD_SCOPES}
    assert unknown == {}, (
        "add these methods to bot/ops/scopes.py METHOD_SCOPES with the scopes their Slack reference page "
        "lists (and to both manifests)"
    )


def test_the_table_lists_no_method_the_code_does_not_call() -> None:
    used = methods_used()
    stale = sorted(m for m in METHOD_SCOPES if m not in used and m not in AWAITING_CALLER)
    assert stale == [], "remove these from METHOD_SCOPES (and their scopes from the manifests if unused)"


def test_required_scopes_are_exactly_what_the_calls_and_features_need() -> None:
    needed = set(FEATURE_SCOPES)
    for method in {*methods_used(), *AWAITING_CALLER}:
        needed.update(METHOD_SCOPES.get(method, ()))
    assert set(REQUIRED_BOT_SCOPES) == needed
    assert all(needed_for(scope) for scope in REQUIRED_BOT_SCOPES)


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_declares_exactly_the_needed_bot_scopes(path: Path) -> None:
    declared = manifest(path)["oauth_config"]["scopes"]["bot"]
    assert len(declared) == len(set(declared)), "a scope is listed twice"
    missing = sorted(set(REQUIRED_BOT_SCOPES) - set(declared))
    unused = sorted(set(declared) - set(REQUIRED_BOT_SCOPES))
    assert (missing, unused) == ([], [])
    assert "user" not in manifest(path)["oauth_config"]["scopes"], "Cardinal uses no user token"


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_every_declared_url_has_a_handler(path: Path) -> None:
    declared = list(urls(manifest(path)))
    unhandled = [key for key, _ in declared if key.rsplit(".", 1)[-1] not in HANDLED_URL_KEYS]
    assert unhandled == []
    for key, url in declared:
        assert url.endswith("/slack/events"), key
    http = path.name == "slack-app-http.yaml"
    assert {key for key, _ in declared} == (
        {
            "features.slash_commands.0.url",
            "settings.event_subscriptions.request_url",
            "settings.interactivity.request_url",
        }
        if http
        else set()
    )


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_slash_command_mentions_arrive_escaped(path: Path) -> None:
    """``should_escape: true``: Slack sends ``@name`` as ``<@U…|name>``, which ``/lxc audit`` needs
    (https://docs.slack.dev/interactivity/implementing-slash-commands, "escape channels, users and
    links")."""
    (command,) = manifest(path)["features"]["slash_commands"]
    assert command["should_escape"] is True
