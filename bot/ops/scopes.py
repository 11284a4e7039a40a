"""The Slack bot scopes Cardinal needs — the single source of truth.

:data:`METHOD_SCOPES` maps every Slack Web API method Cardinal calls to the bot scopes it needs, as each
method's reference page says (https://docs.slack.dev/reference/methods/<method>, "Required scopes");
:data:`FEATURE_SCOPES` adds what app features need without a method call. :data:`REQUIRED_BOT_SCOPES`
is derived from both. ``cardinal check`` compares it with the scopes Slack reports for the bot token
(``x-oauth-scopes``), and ``tests/test_manifests.py`` checks that the code calls exactly the methods in
the table and that both app manifests under ``manifests/`` declare exactly these scopes.
"""

from __future__ import annotations

METHOD_SCOPES: dict[str, tuple[str, ...]] = {
    # Posting and editing Cardinal's own messages (cards, threads, notices, DMs).
    "chat.postMessage": ("chat:write",),
    "chat.postEphemeral": ("chat:write",),
    "chat.update": ("chat:write",),
    # Who may approve: the members of the approver user groups.
    "usergroups.users.list": ("usergroups:read",),
    # Finding our own posts again by metadata after a crash. Cardinal posts in public and private
    # channels, so it needs both history scopes (conversations.history / .replies accept either,
    # per conversation type: channels:history for public, groups:history for private channels).
    # DMs (``D…`` ids from conversations.open) need im:history to be searched the same way.
    "conversations.history": ("channels:history", "groups:history", "im:history"),
    "conversations.replies": ("channels:history", "groups:history", "im:history"),
    # Opening the direct message with a person before posting to it (passwords, results).
    "conversations.open": ("im:write",),
    # Modals and the App Home tab: these methods need no scope.
    "views.open": (),
    "views.update": (),
    "views.publish": (),
    # Token check (``cardinal check``, start-up): no scope.
    "auth.test": (),
    # Socket Mode: called with the app-level token (scope connections:write), not the bot token.
    "apps.connections.open": (),
}
"""Every Web API method Cardinal calls → the bot token scopes it needs (empty: none)."""

FEATURE_SCOPES: dict[str, str] = {
    "commands": "the /lxc slash command",
}
"""Bot scopes that app features need without a Web API call (events such as ``app_home_opened`` need
none)."""


def _required() -> tuple[str, ...]:
    scopes: list[str] = list(FEATURE_SCOPES)
    for needed in METHOD_SCOPES.values():
        scopes.extend(s for s in needed if s not in scopes)
    return tuple(scopes)


REQUIRED_BOT_SCOPES: tuple[str, ...] = _required()
"""Bot token scopes, in the order the manifests list them: features first, then by method."""


def needed_for(scope: str) -> list[str]:
    """What needs ``scope``: the methods of :data:`METHOD_SCOPES` and features of :data:`FEATURE_SCOPES`."""
    uses = [method for method, scopes in METHOD_SCOPES.items() if scope in scopes]
    if scope in FEATURE_SCOPES:
        uses.insert(0, FEATURE_SCOPES[scope])
    return uses
