"""Checks of Slack: the token (``auth.test``), its scopes, channel membership and Socket Mode."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.ops.check.result import CheckResult, _describe, skipped
from bot.ops.scopes import REQUIRED_BOT_SCOPES, needed_for
from bot.settings import Settings

# --- Slack -------------------------------------------------------------------------------------


def evaluate_scopes(granted: set[str] | None) -> CheckResult:
    """Compare the token's scopes (``x-oauth-scopes``) with :data:`REQUIRED_BOT_SCOPES`."""
    name = "Slack scopes"
    if granted is None:
        return CheckResult(
            name,
            False,
            "Slack did not report the token's scopes (no x-oauth-scopes header)",
            "Make sure SLACK_BOT_TOKEN is a bot token (xoxb-) of an installed app.",
        )
    missing = [s for s in REQUIRED_BOT_SCOPES if s not in granted]
    if missing:
        uses = "; ".join(f"{s} for {', '.join(needed_for(s))}" for s in missing)
        return CheckResult(
            name,
            False,
            "missing " + ", ".join(missing),
            f"Cardinal needs {uses}. Add them under OAuth & Permissions → Bot Token Scopes (or re-create "
            "the app from manifests/slack-app-*.yaml), then reinstall the app to the workspace.",
        )
    return CheckResult(name, True, "all granted: " + ", ".join(REQUIRED_BOT_SCOPES))


async def check_slack(
    settings: Settings, *, limit: float = 10.0, channels: Sequence[tuple[str, str]] = ()
) -> list[CheckResult]:
    """``auth.test`` with the bot token (and ``apps.connections.open`` with the app token in Socket
    Mode), against ``SLACK_API_URL``; then whether the bot is in ``channels`` ((role, id) pairs)."""
    url = settings.slack_api_url
    client = AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(), base_url=url, timeout=max(int(limit), 1)
    )
    try:
        async with asyncio.timeout(limit):
            resp = await client.auth_test()
    except SlackApiError as exc:
        error = str(exc.response.get("error", "unknown_error"))
        return [
            CheckResult(
                "Slack auth.test",
                False,
                f"Slack refused the bot token ({error})",
                "Copy the Bot User OAuth Token (xoxb-…) from the app's OAuth & Permissions page "
                "into SLACK_BOT_TOKEN; reinstall the app if it was revoked.",
            ),
            skipped("Slack scopes", "the token was refused"),
        ]
    except (SlackClientError, aiohttp.ClientError, OSError, TimeoutError) as exc:
        return [
            CheckResult(
                "Slack auth.test",
                False,
                f"cannot reach Slack at {url} ({_describe(exc)})",
                "Check outbound HTTPS to slack.com (proxy, firewall) or SLACK_API_URL.",
            ),
            skipped("Slack scopes", "Slack is unreachable"),
        ]
    headers = {str(k).lower(): str(v) for k, v in dict(resp.headers).items()}
    raw = headers.get("x-oauth-scopes")
    granted = {s.strip() for s in raw.split(",") if s.strip()} if raw is not None else None
    who = f"bot @{resp.get('user', '?')} in workspace {resp.get('team', '?')} ({resp.get('team_id', '?')})"
    results = [CheckResult("Slack auth.test", True, who), evaluate_scopes(granted)]
    if channels:
        bot_name = str(resp.get("user") or "Cardinal")
        results.append(await check_channel_membership(client, channels, bot_name=bot_name, limit=limit))
    if settings.slack_app_token is not None:
        results.append(await _check_socket_mode(client, settings, limit))
    return results


# --- Slack channel membership --------------------------------------------------------------------

CHANNELS_CHECK = "Slack channels"


async def check_channel_membership(
    client: AsyncWebClient, channels: Sequence[tuple[str, str]], *, bot_name: str, limit: float
) -> CheckResult:
    """Whether the bot is a member of each channel, read with ``conversations.history`` (limit 1).

    With ``chat:write`` alone a bot posts only where it was invited. ``conversations.history`` (scopes
    ``channels:history`` / ``groups:history``, which Cardinal has anyway) answers ``not_in_channel`` for a
    public channel the bot is not in and ``channel_not_found`` for a private one it was not invited to (or
    a wrong id) — docs.slack.dev/reference/methods/conversations.history, "Errors".
    """
    missing: list[str] = []
    hints: list[str] = []
    for role, channel in channels:
        try:
            async with asyncio.timeout(limit):
                await client.conversations_history(channel=channel, limit=1)
        except SlackApiError as exc:
            error = str(exc.response.get("error", "unknown_error"))
            if error == "not_in_channel":
                missing.append(f"{role} {channel} (not a member)")
                hints.append(f"In the {role} ({channel}) type: /invite @{bot_name}")
            elif error == "channel_not_found":
                missing.append(f"{role} {channel} (not found: private and not invited, or a wrong id)")
                hints.append(
                    f"If the {role} ({channel}) is private, type /invite @{bot_name} in it; otherwise "
                    "correct the id in POLICY_FILE (channel details → the id at the bottom)."
                )
            else:
                missing.append(f"{role} {channel} ({error})")
                hints.append(f"Slack answered {error} for {channel}; check the id in POLICY_FILE.")
        except (SlackClientError, aiohttp.ClientError, OSError, TimeoutError) as exc:
            return CheckResult(
                CHANNELS_CHECK, False, f"cannot reach Slack ({_describe(exc)})", "Check outbound HTTPS."
            )
    if missing:
        return CheckResult(
            CHANNELS_CHECK, False, "Cardinal cannot post in " + "; ".join(missing), "\n".join(hints)
        )
    names = ", ".join(f"{role} {channel}" for role, channel in channels)
    return CheckResult(CHANNELS_CHECK, True, f"@{bot_name} is a member of {names}")


async def _check_socket_mode(client: AsyncWebClient, settings: Settings, limit: float) -> CheckResult:
    name = "Slack Socket Mode"
    assert settings.slack_app_token is not None
    try:
        async with asyncio.timeout(limit):
            await client.apps_connections_open(app_token=settings.slack_app_token.get_secret_value())
    except SlackApiError as exc:
        error = str(exc.response.get("error", "unknown_error"))
        return CheckResult(
            name,
            False,
            f"Slack refused the app-level token ({error})",
            "Create an app-level token with the connections:write scope (Basic Information → App-Level "
            "Tokens) and enable Socket Mode; put it in SLACK_APP_TOKEN.",
        )
    except (SlackClientError, aiohttp.ClientError, OSError, TimeoutError) as exc:
        return CheckResult(name, False, f"cannot reach Slack ({_describe(exc)})", "Check outbound HTTPS.")
    return CheckResult(name, True, "app-level token accepted (connections:write)")
