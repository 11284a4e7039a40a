"""The App Home tab: published when a person opens it, and refreshed after changes that touch it.

``app_home_opened`` (tab ``home``) publishes the person's view (``views.publish``). After a request is
submitted, an approval decided or a container action finished, the places that made the change call a hook
on ``services.home`` (one line each: :meth:`HomeRefresher.request`,
:meth:`~HomeRefresher.refresh_after_decision`, :meth:`~HomeRefresher.refresh_after_submit`,
:meth:`~HomeRefresher.run_then_refresh`). It refreshes the people concerned who are looking at their
Home (opened it within the last hour; everyone else gets a fresh view when they open it), at most once per
person every ``min_interval`` seconds (calls inside that window coalesce into one trailing publish), in the
background, so a refresh never delays or fails the action that caused it. ``views.publish`` is Tier 4
(100+/min per workspace); the debounce keeps bursts (several alike, double clicks) to one publish each.
Approvers looking at their Home are refreshed too when the pending approvals change.

Viewers are remembered per process: with several replicas, a change handled by another replica than the
one that saw the ``app_home_opened`` is shown at the next opening of the tab."""

from __future__ import annotations

import asyncio
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import structlog
from slack_bolt.async_app import AsyncApp, AsyncBoltContext, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.models.attachments import Attachment
from slack_sdk.models.blocks import Block
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook import WebhookResponse

from bot.access import Actor
from bot.containers.service import ContainerService
from bot.db.records import PendingApproval
from bot.requests import ApproverDirectory, RequestService
from handlers.background import Background
from handlers.blocks.home import home_view

__all__ = [
    "MIN_INTERVAL",
    "DirectMessageResponder",
    "HomeRefresher",
    "register",
]

log = structlog.get_logger(__name__)

#: At most one publish per person in this many seconds (later calls coalesce into one trailing publish).
MIN_INTERVAL = 5.0
#: How many recent Home viewers are remembered (to refresh approvers when pending approvals change).
MAX_VIEWERS = 200
#: A viewer counts as recent for this long (seconds).
VIEWER_TTL = 3600.0

_USER_RE = re.compile(r"^[UW][A-Z0-9]{2,30}$")


class HomeRefresher:
    """Builds and publishes Home views, debounced and coalesced for the people looking at their Home.

    Only recent viewers (who opened their Home within :data:`VIEWER_TTL` seconds; the rest get a fresh
    view when they open it) are refreshed, at most once per ``min_interval`` seconds each: a call inside
    that window schedules one trailing publish (a timer, not a sleeping task, so shutdown and
    ``Background.idle`` never wait for it) and further calls join it. The publish reads the data when it
    runs, so it shows every change made before it. ``clock`` (monotonic seconds) and ``schedule`` (like
    ``loop.call_later``) are injectable so the debounce is testable without waiting.
    """

    def __init__(
        self,
        *,
        requests: RequestService,
        approvers: ApproverDirectory,
        containers: ContainerService,
        background: Background,
        client: AsyncWebClient,
        min_interval: float = MIN_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
        schedule: Callable[[float, Callable[[], None]], object] | None = None,
    ) -> None:
        self.requests = requests
        self.approvers = approvers
        self.containers = containers
        self.background = background
        self.client = client
        self.min_interval = min_interval
        self._clock = clock
        self._schedule = schedule
        self._last: dict[str, float] = {}
        self._due: set[str] = set()
        self._viewers: OrderedDict[str, float] = OrderedDict()
        self.published = 0

    async def build(self, user_id: str) -> dict[str, object]:
        """The Home view for ``user_id`` as of now: their containers and, for approvers, pending
        approvals."""
        is_approver = await self.approvers.is_approver(user_id)
        now = self.requests.clock()
        containers = await self.containers.list_containers(Actor(user_id, is_approver), "mine")
        approvals: list[PendingApproval] = []
        if is_approver:
            approvals = await self.requests.pending_approvals()
        return home_view(containers, approvals, is_approver=is_approver, now=now, viewer=user_id)

    async def publish(self, user_id: str) -> bool:
        """Publish ``user_id``'s Home now. Best effort: failures are logged and answered False, never
        raised."""
        if not _USER_RE.fullmatch(user_id):
            return False
        try:
            view = await self.build(user_id)
            await self.client.views_publish(user_id=user_id, view=view)
        except Exception as exc:  # a refresh must never fail what caused it
            log.warning("home.publish_failed", error_type=type(exc).__name__, error=str(exc)[:200])
            return False
        return True

    def request(self, *user_ids: str | None) -> None:
        """Publish these people's Homes soon (coalesced); people not looking at their Home are skipped."""
        recent = set(self.recent_viewers())
        for user in dict.fromkeys(u for u in user_ids if u and u in recent):
            if user in self._due:
                continue  # the publish already due reads fresh data when it runs
            self._due.add(user)
            wait = self._last.get(user, float("-inf")) + self.min_interval - self._clock()
            if wait > 0:
                self._later(wait, user)
            else:
                self._start(user)

    def opened(self, user_id: str) -> None:
        """``user_id`` opened their Home tab: remember them as a viewer and publish."""
        if not _USER_RE.fullmatch(user_id):
            return
        self._viewers[user_id] = self._clock()
        self._viewers.move_to_end(user_id)
        while len(self._viewers) > MAX_VIEWERS:
            self._viewers.popitem(last=False)
        self.request(user_id)

    def recent_viewers(self) -> list[str]:
        """People who opened their Home within :data:`VIEWER_TTL` seconds."""
        cutoff = self._clock() - VIEWER_TTL
        return [u for u, seen in self._viewers.items() if seen >= cutoff]

    def refresh_after_decision(self, approval_id: str, *users: str | None) -> None:
        """Hook after an approval decision (applied or refused): clicker, requester, approver viewers."""
        if self.recent_viewers():
            self.background.spawn(self.after_decision(approval_id, *users), name="home-after-decision")

    def refresh_after_submit(self, requester: str) -> None:
        """Hook after a request was submitted: the requester and approver viewers."""
        if self.recent_viewers():
            self.background.spawn(self.after_submit(requester), name="home-after-submit")

    async def run_then_refresh(
        self, user_id: str | None, work: Awaitable[object], *, approvers: bool = False
    ) -> None:
        """Await ``work`` (a click's or a submission's work), then refresh ``user_id``'s Home whatever
        happened (with ``approvers``, also recent viewers who are approvers: the pending approvals may
        have changed)."""
        try:
            await work
        finally:
            if approvers and user_id:
                self.refresh_after_submit(user_id)
            else:
                self.request(user_id)

    async def after_decision(self, approval_id: str, *users: str | None) -> None:
        """After an approval was decided (or a click was refused): the clicker(s), the requester and
        viewers who are approvers (their pending list changed)."""
        requester: str | None = None
        try:
            requester = await self.requests.requester_of(approval_id)
        except Exception as exc:
            log.warning("home.lookup_failed", error_type=type(exc).__name__)
        self.request(*users, requester, *await self._approver_viewers())

    async def after_submit(self, requester: str) -> None:
        """After a request was submitted: the requester and viewers who are approvers."""
        self.request(requester, *await self._approver_viewers())

    async def _approver_viewers(self) -> list[str]:
        out = []
        for user in self.recent_viewers():
            try:
                if await self.approvers.is_approver(user):
                    out.append(user)
            except Exception as exc:
                log.warning("home.approver_check_failed", error_type=type(exc).__name__)
        return out

    def _later(self, delay: float, user: str) -> None:
        if self._schedule is not None:
            self._schedule(delay, lambda: self._start(user))
        else:
            asyncio.get_running_loop().call_later(delay, self._start, user)

    def _start(self, user: str) -> None:
        # From here on a call schedules a new publish: this one may already have read the data.
        self._due.discard(user)
        self._last[user] = self._clock()
        self.background.spawn(self._publish(user), name="home-refresh")

    async def _publish(self, user: str) -> None:
        if await self.publish(user):
            self.published += 1


class DirectMessageResponder(AsyncRespond):
    """``respond`` for clicks in the Home tab, which carry no ``response_url``: the answer the listener
    would have shown under the clicked message goes to the person's direct messages with Cardinal instead
    (best effort; replacing or deleting "the original" has no meaning there and is ignored)."""

    def __init__(self, client: AsyncWebClient, user_id: str) -> None:
        super().__init__(response_url=None)
        self._client = client
        self._user = user_id

    async def __call__(
        self,
        text: str | dict[str, Any] = "",
        blocks: Sequence[dict[str, Any] | Block] | None = None,
        attachments: Sequence[dict[str, Any] | Attachment] | None = None,
        response_type: str | None = None,
        replace_original: bool | None = None,
        delete_original: bool | None = None,
        unfurl_links: bool | None = None,
        unfurl_media: bool | None = None,
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> WebhookResponse:
        message: dict[str, Any] = dict(text) if isinstance(text, dict) else {"text": text, "blocks": blocks}
        if delete_original or message.get("delete_original"):
            return WebhookResponse(url="", status_code=200, body="ok", headers={})
        try:
            # The DM's D… id from conversations.open, not the user id (docs/slack-dm.md).
            opened = await self._client.conversations_open(users=self._user)
            await self._client.chat_postMessage(
                channel=opened["channel"]["id"],
                text=str(message.get("text") or ""),
                blocks=message.get("blocks"),
            )
        except SlackApiError as exc:
            log.warning("home.answer_failed", error=str(exc.response.get("error")))
            return WebhookResponse(url="", status_code=500, body="not delivered", headers={})
        return WebhookResponse(url="", status_code=200, body="ok", headers={})


def register(app: AsyncApp, home: HomeRefresher) -> None:
    """Attach the ``app_home_opened`` listener (it publishes through ``home``) and the middleware that
    answers clicks in the Home tab by DM."""

    @app.middleware
    async def answer_home_clicks_by_dm(
        body: dict[str, Any], context: AsyncBoltContext, next: Callable[[], Awaitable[None]]
    ) -> None:
        """Clicks in the Home tab have no ``response_url``: listeners answer through a DM instead."""
        view = body.get("view") if body.get("type") == "block_actions" else None
        user = (body.get("user") or {}).get("id")
        from_home = isinstance(view, dict) and view.get("type") == "home" and not context.response_url
        if from_home and isinstance(user, str) and _USER_RE.fullmatch(user):
            context["respond"] = DirectMessageResponder(context.client, user)
        await next()

    @app.event("app_home_opened")
    async def home_opened(event: dict[str, Any]) -> None:
        if event.get("tab", "home") != "home":
            return  # the Messages tab
        user = event.get("user")
        if isinstance(user, str):
            home.opened(user)
