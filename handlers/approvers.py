"""Who may approve, answered from Slack: approver user ids plus members of approver user groups.

Group membership is read with ``usergroups.users.list`` and cached briefly (default 60 s), so a person
removed from the group loses the right within a minute, and a burst of clicks costs one API call.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = structlog.get_logger(__name__)


@dataclass
class SlackApproverDirectory:
    """Implements :class:`bot.requests.ApproverDirectory` with Slack user groups."""

    client: AsyncWebClient
    user_ids: frozenset[str]
    group_ids: tuple[str, ...]
    ttl: float = 60.0
    clock: Callable[[], float] = time.monotonic
    _cache: dict[str, tuple[float, frozenset[str]]] = field(default_factory=dict)

    async def is_approver(self, user_id: str) -> bool:
        """True for a listed approver or a member of an approver group (fails closed on Slack errors)."""
        if user_id in self.user_ids:
            return True
        for group in self.group_ids:
            if user_id in await self._members(group):
                return True
        return False

    async def _members(self, group: str) -> frozenset[str]:
        now = self.clock()
        cached = self._cache.get(group)
        if cached and now - cached[0] < self.ttl:
            return cached[1]
        try:
            resp = await self.client.usergroups_users_list(usergroup=group)
        except SlackApiError as exc:
            log.warning("approvers.lookup_failed", usergroup=group, error=str(exc.response.get("error")))
            return cached[1] if cached else frozenset()
        users: list[str] = resp.get("users", []) or []
        members = frozenset(str(u) for u in users)
        self._cache[group] = (now, members)
        return members
