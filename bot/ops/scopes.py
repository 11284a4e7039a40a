"""The Slack bot scopes Cardinal needs — the single source of truth.

``cardinal check`` compares them with the scopes Slack reports for the bot token (``x-oauth-scopes``),
and a test keeps both app manifests under ``manifests/`` equal to this list.
"""

from __future__ import annotations

REQUIRED_BOT_SCOPES: tuple[str, ...] = (
    "commands",  # the /lxc slash command
    "chat:write",  # chat.postMessage, chat.update, chat.postEphemeral
    "usergroups:read",  # usergroups.users.list: who may approve
    "users:read",  # users.info: names and time zones
    "channels:history",  # conversations.history: find our own posts by metadata after a crash (public)
    "groups:history",  # the same in private channels
    "im:write",  # conversations.open: direct messages (the D… id) to requesters and owners
    "im:history",  # conversations.history in those DMs: find our own posts after a crash
)
"""Bot token scopes, in the order the manifests list them."""
