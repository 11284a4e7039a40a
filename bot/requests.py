"""Container requests: validate what a person asked for, route it through approval, start provisioning.

This is the service the create modal and the Approve / Deny buttons call. It never talks Slack: it
emits events through the :class:`~bot.outbox.Outbox` and hands creations to the tracker's queue.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

import structlog

from bot.containers.spec import ContainerSpec
from bot.containers.stored import RequestSpec
from bot.db import (
    Approval,
    ApprovalStatus,
    ContainerRequest,
    Database,
    PendingApproval,
    RequestState,
    Tx,
)
from bot.db.audit import SYSTEM_ACTOR
from bot.errors import CardinalError, InputError
from bot.events import (
    ApprovalCard,
    ContainerLine,
    Notice,
    PreflightCheck,
    RequestProgress,
    RequestSummary,
)
from bot.notify import ChannelUnavailable
from bot.observe import NoObserver, Observer
from bot.outbox import OutboxBusy, Then
from bot.ownership import ownership_line, ownership_tags
from bot.placement import choose_node
from bot.policy import CUSTOM_PRESET, Policy
from bot.preflight import PreflightInput, run_preflight
from bot.proxmox.client import ProxmoxClient
from bot.proxmox.errors import ProxmoxError
from bot.proxmox.models import NodeInfo
from bot.request_form import CreateFormRules, ValidRequest
from bot.request_messages import AUTO_APPROVED, card_key, moved_text, root_key
from bot.template_locations import locate_templates
from bot.tracker import progress
from bot.tracker.tracker import CreationItem

log = structlog.get_logger(__name__)

Clock = Callable[[], datetime]


class ApproverDirectory(Protocol):
    """Who may approve. The Slack edge answers it from user groups (cached briefly)."""

    async def is_approver(self, user_id: str) -> bool:
        """True when ``user_id`` may approve or deny requests and act on any container."""
        ...


@dataclass(frozen=True, slots=True)
class StaticApprovers:
    """Approvers given as user ids only (no Slack lookup needed)."""

    user_ids: frozenset[str]

    async def is_approver(self, user_id: str) -> bool:
        return user_id in self.user_ids


class CreationQueue(Protocol):
    """The tracker's provisioning queue (a work-conserving pool bounded by Proxmox concurrency)."""

    async def enqueue_creations(self, request_id: str, items: list[CreationItem]) -> None:
        """Queue the creations; they are submitted as Proxmox capacity frees."""
        ...


class Publisher(Protocol):
    """Post-once delivery (implemented by :class:`bot.outbox.Outbox`)."""

    async def deliver(
        self,
        key: str,
        channel: str,
        thread_ts: str | None,
        event: Any,
        *,
        recorded: bool = False,
        then: Then | None = None,
    ) -> str: ...

    async def intend(self, tx: Tx, key: str, channel: str, thread_ts: str | None) -> bool: ...

    async def revise(self, channel: str, ts: str, event: Any) -> None: ...

    async def conversation(self, channel: str) -> str: ...


@dataclass(frozen=True, slots=True)
class Decision:
    """What a click on Approve / Deny did."""

    applied: bool
    message: str


@dataclass
class RequestService(CreateFormRules):
    """Create requests, decide approvals, queue provisioning. Validation of the create form is inherited
    from :class:`bot.request_form.CreateFormRules`."""

    db: Database
    proxmox: ProxmoxClient
    outbox: Publisher
    queue: CreationQueue
    policy: Policy
    approvers: ApproverDirectory
    clock: Clock
    observer: Observer = field(default_factory=NoObserver)
    #: ``PROXMOX_NODE``: where containers go when it fits (and it is listed first in the modal).
    default_node: str | None = None

    # ----------------------------------------------------------------------------- submission
    async def submit(self, valid: ValidRequest, *, requester: str, channel: str) -> ContainerRequest:
        """Record the request, then carry it on: open its thread and ask approvers, or provision.

        One transaction records the request, its audit event and the intent to post its thread's root;
        the one recording the root's ``ts`` also applies the policy (approval opened, or approved) and
        records the card's post intent: no request awaits a decision, or is approved, without a thread.
        All after the first is resumable (:meth:`resume_stalled`; posts are at most once per key).
        Returns the request as it stands afterwards, built from what was written (nothing is read back).
        """
        now = self.clock()
        stored = RequestSpec.of(
            valid.spec,
            list(valid.hostnames),
            preset=None if valid.form.preset in (None, CUSTOM_PRESET) else valid.form.preset,
            needs_approval=valid.needs_approval,
        )
        async with self.db.transaction() as tx:
            req = await tx.requests.create_request(
                requester=requester,
                channel=channel,
                spec=stored,
                count=len(valid.hostnames),
                purpose=valid.form.purpose,
                node=valid.form.node,
                expires_at=now + valid.lifetime,
                now=now,
            )
            await tx.audit.append(
                requester,
                "request.created",
                request_id=req.id,
                now=now,
                detail={"hostnames": list(valid.hostnames), "needs_approval": valid.needs_approval},
            )
            root_recorded = await self.outbox.intend(tx, root_key(req.id), req.channel, None)
        # Nothing has been created for a new request: its summary has no container lines.
        return await self._carry(req, None, (), root_recorded=root_recorded, fresh=True)

    async def advance(self, request_id: str) -> None:
        """Carry a request as far as it can go now; safe to repeat (each step checks before acting)."""
        async with self.db.transaction(readonly=True) as tx:
            req = await tx.requests.get_request(request_id)
            if req is None:
                raise CardinalError(f"request {request_id} not found")
            approvals = await tx.approvals.for_request(request_id)
            lines = progress.container_lines(
                await tx.containers.list_by_request(request_id),
                await tx.ledger.tasks_for_request(request_id),
            )
        pending = [a for a in approvals if a.status is ApprovalStatus.PENDING]
        await self._carry(req, pending[0] if pending else None, lines)

    async def _carry(
        self,
        req: ContainerRequest,
        approval: Approval | None,
        lines: Sequence[ContainerLine],
        *,
        root_recorded: bool = False,
        fresh: bool = False,
    ) -> ContainerRequest:
        """The steps of :meth:`advance` for a request known as ``req``, with its pending ``approval`` and
        its container ``lines``: each step carries on with the records it wrote instead of reading them.

        ``fresh``: ``req`` was recorded just now by :meth:`submit`; its root is posted in the state recorded
        with it. A resumed request's root is revised after its card (an earlier attempt may have stopped
        before the root showed the current state).
        """
        card_recorded = False
        revise = not fresh
        shown: RequestSummary | None = None  # what the root was just posted with
        preflight = None
        if req.thread_ts is None:
            if self._after_policy(req).state is RequestState.PENDING_APPROVAL:
                preflight = await self._preflight(req)  # before the card's intent (see _post_card)
            req, approval, card_recorded, shown = await self._post_root(
                req, approval, lines, recorded=root_recorded, fresh=fresh
            )
        elif req.state is RequestState.REQUESTED:  # the thread is open, the policy was not applied yet
            async with self.db.transaction() as tx:
                req, approval = await self._apply_policy(tx, req, approval, fresh=False)
            revise = True
        if req.state is RequestState.PENDING_APPROVAL:
            if approval is not None and approval.card_ts is None:
                summary = shown if shown is not None and shown.state is req.state else None
                summary = summary or progress.summary(req, lines)
                await self._post_card(req, approval, summary, recorded=card_recorded, preflight=preflight)
                if revise and req.thread_ts:
                    await self.outbox.revise(req.channel, req.thread_ts, RequestProgress(summary))
        elif req.state is RequestState.APPROVED:
            await self.provision(req.id)
        return req

    async def _apply_policy(
        self,
        tx: Tx,
        req: ContainerRequest,
        approval: Approval | None,
        *,
        fresh: bool,
        thread_ts: str | None = None,
    ) -> tuple[ContainerRequest, Approval | None]:
        """In ``tx``: a ``requested`` request gets its pending approval, or is approved when the policy
        needs nobody's; with ``thread_ts``, its thread is recorded too. Returns the request and approval
        as they are now. ``fresh``: ``req`` was recorded moments ago and nobody else knows it (no approval
        can exist yet)."""
        now = self.clock()
        if thread_ts is not None:
            req = replace(req, thread_ts=thread_ts, updated_at=now)
            waits = req.state is RequestState.REQUESTED and req.spec.needs_approval
            moving = (RequestState.REQUESTED, RequestState.PENDING_APPROVAL) if waits else None
            await tx.requests.set_thread_ts(req.id, thread_ts, now=now, moving=moving)
        if req.state is not RequestState.REQUESTED:
            return req, approval
        if req.spec.needs_approval:
            if approval is None and not fresh:
                pending = [
                    a for a in await tx.approvals.for_request(req.id) if a.status is ApprovalStatus.PENDING
                ]
                approval = pending[0] if pending else None
            if approval is None:  # the request moved with its thread, or moves now
                approval = await tx.approvals.open_approval(req.id, now=now, move_request=thread_ts is None)
            elif thread_ts is None:
                await tx.requests.set_state(
                    req.id, RequestState.PENDING_APPROVAL, now=now, expect=RequestState.REQUESTED
                )
            return replace(req, state=RequestState.PENDING_APPROVAL, updated_at=now), approval
        if await tx.requests.record_decision(
            req.id, approved=True, by=SYSTEM_ACTOR, reason=AUTO_APPROVED, now=now
        ):
            await tx.audit.append(SYSTEM_ACTOR, "request.auto_approved", request_id=req.id, now=now)
        decided = replace(
            req,
            state=RequestState.APPROVED,
            decided_by=SYSTEM_ACTOR,
            decided_at=now,
            decision_reason=AUTO_APPROVED,
            updated_at=now,
        )
        return decided, approval

    def _after_policy(self, req: ContainerRequest) -> ContainerRequest:
        """``req`` as :meth:`_apply_policy` leaves it (what its root message shows when it is posted)."""
        if req.state is not RequestState.REQUESTED or req.spec.needs_approval:
            waits = req.state is RequestState.REQUESTED
            return replace(req, state=RequestState.PENDING_APPROVAL) if waits else req
        return replace(
            req, state=RequestState.APPROVED, decided_by=SYSTEM_ACTOR, decision_reason=AUTO_APPROVED
        )

    async def _post_root(
        self,
        req: ContainerRequest,
        approval: Approval | None,
        lines: Sequence[ContainerLine],
        *,
        recorded: bool = False,
        fresh: bool = False,
    ) -> tuple[ContainerRequest, Approval | None, bool, RequestSummary]:
        """Open the request's thread in its channel — or, when Slack refuses that channel for good (the
        bot was never invited, a DM between people, an archived channel), in the requester's direct
        message, saying why, so the requester follows the request there instead of it stalling.

        The transaction that records the root's ``ts`` also records the thread on the request, applies
        the policy (:meth:`_apply_policy`) and, when the request then waits for approvers, records the
        intent to post its approval card. Returns the request and its approval as they are now, whether
        that card intent was recorded (see :meth:`bot.outbox.Outbox.intend`) and the summary posted.
        """
        summary = progress.summary(self._after_policy(req), lines)
        base, now_req, now_approval, card_recorded = req, req, approval, False

        async def record_thread(tx: Tx, ts: str) -> None:
            nonlocal now_req, now_approval, card_recorded
            now_req, now_approval = await self._apply_policy(tx, base, approval, fresh=fresh, thread_ts=ts)
            if (
                now_req.state is RequestState.PENDING_APPROVAL
                and now_approval is not None
                and now_approval.card_ts is None
            ):
                channel = self._card_channel(now_req)
                card_recorded = await self.outbox.intend(tx, card_key(now_approval.id), channel, None)

        try:
            await self.outbox.deliver(
                root_key(req.id),
                req.channel,
                None,
                RequestProgress(summary),
                recorded=recorded,
                then=record_thread,
            )
        except ChannelUnavailable as refused:
            base = await self._move_to_dm(req, refused)
            await self._post_root_in_dm(base, req.channel, summary, refused, record_thread)
        return now_req, now_approval, card_recorded, summary

    async def _move_to_dm(self, req: ContainerRequest, refused: ChannelUnavailable) -> ContainerRequest:
        """The channel refused the root message: the request's thread goes to the requester's DM."""
        dm = await self.outbox.conversation(req.requester)
        log.warning("request.channel_refused", request_id=req.id, reason=refused.reason)
        async with self.db.transaction() as tx:
            await tx.requests.move_thread(req.id, dm, now=self.clock())
            await tx.audit.append(
                SYSTEM_ACTOR,
                "request.moved_to_dm",
                request_id=req.id,
                now=self.clock(),
                detail={"channel": req.channel, "reason": refused.reason},
            )
        return replace(req, channel=dm)

    async def _post_root_in_dm(
        self,
        req: ContainerRequest,
        asked_in: str,
        summary: RequestSummary,
        refused: ChannelUnavailable,
        then: Then,
    ) -> None:
        """Open the thread of ``req`` (moved to the DM) there, with a note saying why; ``then`` records
        it. Neither the channel nor the DM taking a post ends the request (:meth:`_give_up_unreachable`)."""
        try:
            ts = await self.outbox.deliver(
                f"request:{req.id}:root:dm", req.channel, None, RequestProgress(summary), then=then
            )
        except ChannelUnavailable as unreachable:
            await self._give_up_unreachable(replace(req, channel=asked_in), unreachable)
            raise
        await self.outbox.deliver(
            f"request:{req.id}:moved", req.channel, ts, Notice(moved_text(asked_in, refused.reason))
        )

    async def _give_up_unreachable(self, req: ContainerRequest, refused: ChannelUnavailable) -> None:
        """Neither the channel nor the requester's DM takes a post: nobody can be told, so the request
        ends (failed, audited, an error logged for the operators) instead of being retried forever."""
        now = self.clock()
        async with self.db.transaction() as tx:
            if await tx.requests.set_state(
                req.id, RequestState.FAILED, now=now, expect=(RequestState.REQUESTED,)
            ):
                await tx.audit.append(
                    SYSTEM_ACTOR,
                    "request.undeliverable",
                    request_id=req.id,
                    now=now,
                    detail={"channel": req.channel, "reason": refused.reason},
                )
        log.error("request.undeliverable", request_id=req.id, requester=req.requester, reason=refused.reason)

    async def _unqueue_if_lost(self, req: ContainerRequest) -> bool:
        """A request claimed for creation whose creations were never queued (the process died in
        between) goes back to approved, its VMID reservations released. True when that happened."""
        now = self.clock()
        async with self.db.transaction() as tx:
            if await tx.containers.list_by_request(req.id) or await tx.ledger.tasks_for_request(req.id):
                return False
            if not await tx.requests.set_state(
                req.id, RequestState.APPROVED, now=now, expect=RequestState.CREATING
            ):
                return False
            await tx.vmids.release_for_request(req.id)
            await tx.audit.append(SYSTEM_ACTOR, "request.requeued", request_id=req.id, now=now)
        return True

    def _card_channel(self, req: ContainerRequest) -> str:
        """Where a request's approval card goes: the approval channel, else the request's own."""
        return self.policy.approval_channel or req.channel

    async def _post_card(
        self,
        req: ContainerRequest,
        approval: Approval,
        summary: RequestSummary,
        *,
        recorded: bool,
        preflight: tuple[PreflightCheck, ...] | None = None,
    ) -> None:
        """Post the approval card (the request's summary and its pre-flight) and note where it is. With
        ``recorded`` (the card's intent is committed) ``preflight`` was read before that intent, so the
        post follows it at once and a resume cannot take a slow Proxmox for a lost card."""
        if preflight is None:
            preflight = await self._preflight(req)
        card_channel = self._card_channel(req)
        card = ApprovalCard(approval.id, summary, preflight)

        async def record_card(tx: Tx, ts: str) -> None:
            await tx.approvals.set_card(approval.id, channel=card_channel, ts=ts)

        try:
            await self.outbox.deliver(
                card_key(approval.id), card_channel, None, card, recorded=recorded, then=record_card
            )
        except ChannelUnavailable as refused:
            # Only an invite fixes this: say so once in the request's thread; the card is posted by
            # resume_stalled as soon as Cardinal is in the approval channel (`cardinal check` flags it).
            await self.outbox.deliver(
                f"approval:{approval.id}:card-refused",
                req.channel,
                req.thread_ts,
                Notice(
                    f"Approvers have not been asked yet: {refused.what} An admin must invite Cardinal "
                    f"there (`/invite @Cardinal` in <#{card_channel}>); the request waits until then."
                ),
            )
            raise

    async def _preflight(self, req: ContainerRequest) -> tuple[PreflightCheck, ...]:
        return await run_preflight(self.proxmox, PreflightInput.of(req.spec, self.policy.placement, req.node))

    async def resume_stalled(self, *, owner: str, older_than: timedelta = timedelta(minutes=1)) -> int:
        """Carry on requests that stopped half-way (a failed post, a crash, Proxmox down).

        Runs on every replica; each request is taken by one replica per attempt window (a job slot), so
        two replicas never advance the same request at once. Returns how many were advanced.
        """
        now = self.clock()
        async with self.db.transaction(readonly=True) as tx:
            candidates = []
            for req in await tx.requests.list_by_state(
                RequestState.REQUESTED,
                RequestState.PENDING_APPROVAL,
                RequestState.APPROVED,
                RequestState.CREATING,
            ):
                if now - req.updated_at < older_than:
                    continue
                if req.state is RequestState.PENDING_APPROVAL and req.thread_ts is not None:
                    pending = [
                        a
                        for a in await tx.approvals.for_request(req.id)
                        if a.status is ApprovalStatus.PENDING
                    ]
                    if pending and pending[0].card_ts is not None:
                        continue  # waiting for an approver: nothing to carry on, nothing to write
                candidates.append(req)
        advanced = 0
        for req in candidates:
            # One lease row per request, taken over each window: no job_run row per attempt.
            async with self.db.transaction() as tx:
                mine = await tx.jobs.try_lease(
                    "request.resume", req.id, owner, now=now, lease_seconds=older_than.total_seconds()
                )
            if not mine:
                continue
            if req.state is RequestState.CREATING and not await self._unqueue_if_lost(req):
                continue
            try:
                await self.advance(req.id)
                advanced += 1
            except (CardinalError, OutboxBusy) as exc:
                log.warning("request.resume_failed", request_id=req.id, error=str(exc))
        return advanced

    # ----------------------------------------------------------------------------- decisions
    async def decide(
        self, approval_id: str, *, clicker: str, approve: bool, reason: str | None = None
    ) -> Decision:
        """Apply an approver's click. The first decision wins; the clicker's right is checked now."""
        async with self.db.transaction(readonly=True) as tx:
            approval = await tx.approvals.get_approval(approval_id)
            req = await tx.requests.get_request(approval.request_id) if approval else None
        if approval is None or req is None:
            raise InputError("That approval no longer exists.", hint="Nothing to do.")
        if clicker == req.requester:
            return Decision(False, "You can't decide on your own request; another approver has to.")
        if not await self.approvers.is_approver(clicker):
            return Decision(False, "Only approvers can approve or deny requests.")
        if not approve and not (reason and reason.strip()):
            raise InputError(
                "A denial needs a reason.", field="reason", hint="Say why, so the requester knows."
            )
        now = self.clock()
        async with self.db.transaction() as tx:
            won = await tx.approvals.decide(approval_id, approve=approve, by=clicker, reason=reason, now=now)
            fresh = await tx.approvals.get_approval(approval_id)
        if not won:
            who = f"<@{fresh.decided_by}>" if fresh and fresh.decided_by else "someone else"
            return Decision(False, f"Already decided by {who}; nothing changed.")
        self.observer.approval_decided(
            approved=approve, waited_seconds=(now - approval.created_at).total_seconds()
        )
        if fresh and fresh.card_channel and fresh.card_ts:
            card = ApprovalCard(
                approval_id,
                await self.summary(req.id),
                (),
                decided_by=clicker,
                approved=approve,
                decided_at=now,
                reason=reason,
            )
            await self.outbox.revise(fresh.card_channel, fresh.card_ts, card)
        verdict = f"approved by <@{clicker}>" if approve else f"denied by <@{clicker}>: {reason}"
        await self.outbox.deliver(
            f"approval:{approval_id}:outcome",
            req.channel,
            req.thread_ts,
            Notice(f"<@{req.requester}> your request was {verdict}"),
        )
        if approve:
            await self.provision(req.id)
        else:
            await self.refresh(req.id)
        return Decision(True, "Approved." if approve else "Denied.")

    # ----------------------------------------------------------------------------- provisioning
    async def provision(self, request_id: str) -> bool:
        """Reserve VMIDs, place each container and queue its creation. False when Proxmox is down
        (the request stays approved and :meth:`provision_pending` retries it)."""
        req = await self._get(request_id)
        if req.state is not RequestState.APPROVED:
            return False
        spec = req.spec.container_spec()
        hostnames = list(req.spec.hostnames)
        try:
            nodes = await self.proxmox.nodes()
            guests = await self.proxmox.cluster_resources("vm")
            holders = await self._template_holders(spec.template, nodes)
        except ProxmoxError as exc:
            log.warning("provision.deferred", request_id=request_id, error=exc.what)
            await self.outbox.deliver(
                f"request:{request_id}:deferred",
                req.channel,
                req.thread_ts,
                Notice(
                    f"Proxmox is unreachable right now ({exc.what}). Your request is approved and "
                    "kept; Cardinal creates it as soon as Proxmox answers again."
                ),
            )
            return False
        taken = {g.vmid for g in guests if g.vmid is not None}
        now = self.clock()
        try:
            items = await self._reserve_and_place(req, spec, hostnames, nodes, taken, now, holders)
        except InputError as exc:
            await self._fail(req, f"Cardinal could not place this request: {exc.what}")
            return False
        if items is None:
            return False  # another replica got here first
        await self.queue.enqueue_creations(request_id, items)
        await self.refresh(request_id)
        return True

    async def _template_holders(self, template: str, nodes: list[NodeInfo]) -> tuple[str, ...]:
        """The allowed online nodes whose template storage holds ``template``."""
        place = self.policy.placement
        names = [n.node for n in nodes if n.status == "online" and place.node_allowed(n.node)]
        if not names:
            return ()
        where = await locate_templates(self.proxmox, template.split(":", 1)[0], names)
        return where.nodes_with(template)

    async def _fail(self, req: ContainerRequest, why: str) -> None:
        now = self.clock()
        async with self.db.transaction() as tx:
            await tx.requests.set_state(req.id, RequestState.FAILED, now=now, expect=RequestState.APPROVED)
            await tx.audit.append(
                SYSTEM_ACTOR, "request.failed", request_id=req.id, now=now, detail={"why": why}
            )
        await self.outbox.deliver(f"request:{req.id}:failed", req.channel, req.thread_ts, Notice(why))
        await self.refresh(req.id)

    async def _reserve_and_place(
        self,
        req: ContainerRequest,
        spec: ContainerSpec,
        hostnames: list[str],
        nodes: list[NodeInfo],
        taken: set[int],
        now: datetime,
        holders: tuple[str, ...],
    ) -> list[CreationItem] | None:
        """In one transaction: claim the request (approved → creating), reserve VMIDs, pick nodes."""
        p = self.policy.placement
        request_id = req.id
        items: list[CreationItem] = []
        async with self.db.transaction() as tx:
            if not await tx.requests.set_state(
                request_id, RequestState.CREATING, now=now, expect=RequestState.APPROVED
            ):
                return None
            for hostname in hostnames:
                node = choose_node(
                    nodes,
                    p.nodes,
                    wanted=req.node,
                    memory_mib=spec.memory_mib,
                    holders=holders,
                    preferred=self.default_node,
                )
                vmid = await tx.vmids.reserve_vmid(request_id, p.vmid_min, p.vmid_max, taken, now=now)
                taken.add(vmid)
                one = spec.model_copy(update={"hostname": hostname})
                params = one.to_create_params(
                    vmid,
                    tags=ownership_tags(req.requester),
                    description=ownership_line(req.requester, req.expires_at, request_id),
                )
                if p.pool is not None:
                    params["pool"] = p.pool  # the CT joins the pool the token is scoped to
                items.append(
                    CreationItem(
                        hostname=hostname,
                        vmid=vmid,
                        node=node,
                        params=params,
                        channel=req.channel,
                        thread_ts=req.thread_ts,
                        requester=req.requester,
                        generate_password=spec.generate_password,
                        expires_at=req.expires_at,
                    )
                )
        return items

    async def provision_pending(self) -> int:
        """Retry provisioning of approved requests that could not be placed yet (Proxmox was down)."""
        async with self.db.transaction(readonly=True) as tx:
            waiting = await tx.requests.list_by_state(RequestState.APPROVED)
        done = 0
        for req in waiting:
            if await self.provision(req.id):
                done += 1
        return done

    # ----------------------------------------------------------------------------- display
    async def summary(self, request_id: str) -> RequestSummary:
        """The request as its thread's root message shows it (with each container's progress)."""
        async with self.db.transaction(readonly=True) as tx:
            req = await tx.requests.get_request(request_id)
            containers = await tx.containers.list_by_request(request_id)
            tasks = await tx.ledger.tasks_for_request(request_id)
        if req is None:
            raise CardinalError(f"request {request_id} not found")
        return progress.summary(req, progress.container_lines(containers, tasks))

    async def pending_approvals(self) -> list[PendingApproval]:
        """Requests waiting for an approver, oldest first, with how long they have waited."""
        async with self.db.transaction(readonly=True) as tx:
            return await tx.approvals.pending_approvals(now=self.clock())

    async def requester_of(self, approval_id: str) -> str | None:
        """Who asked for the request an approval is about."""
        async with self.db.transaction(readonly=True) as tx:
            approval = await tx.approvals.get_approval(approval_id)
            req = await tx.requests.get_request(approval.request_id) if approval else None
        return req.requester if req else None

    async def approval_subject(self, approval_id: str) -> str:
        """What an approval is about, for the deny modal (e.g. ``web-1, web-2``); ``""`` if unknown."""
        async with self.db.transaction(readonly=True) as tx:
            approval = await tx.approvals.get_approval(approval_id)
            req = await tx.requests.get_request(approval.request_id) if approval else None
        if req is None:
            return ""
        return ", ".join(req.spec.hostnames)

    async def refresh(self, request_id: str) -> None:
        """Update the thread's root message to the request's current state."""
        req = await self._get(request_id)
        if req.thread_ts:
            await self.outbox.revise(
                req.channel, req.thread_ts, RequestProgress(await self.summary(request_id))
            )

    async def _get(self, request_id: str) -> ContainerRequest:
        async with self.db.transaction(readonly=True) as tx:
            req = await tx.requests.get_request(request_id)
        if req is None:
            raise CardinalError(f"request {request_id} not found")
        return req
