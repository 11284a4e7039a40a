"""Day-2 approvals (destroy, resize): one record per card, the first decision wins, all in the domain.

When someone asks for an action that needs an approver, :meth:`ActionApprovals.ask_destroy` /
:meth:`ActionApprovals.ask_resize` record a pending ``action_approval`` (who asked, what, the action's
parameters and the plan the card shows) and post its card through the outbox. The card's Approve/Deny
buttons carry only the record's id: nothing a click brings along is trusted beyond "which record".

A click (:meth:`ActionApprovals.decide`) looks the record up by id (an unknown or forged id changes
nothing), checks the clicker's approver right *now* and refuses the requester, then claims the decision
with one compare-and-set in the database — across replicas exactly one click wins, and its audit event
is written in the same transaction. The winner runs the action through the
:class:`~bot.containers.service.ContainerService` as the requester with the clicker as ``approved_by``,
revises the card through the outbox and tells the requester.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol

import structlog

from bot.access import Actor, require_approve
from bot.containers.results import DestroyPlan, ResizePlan
from bot.containers.service import ContainerService
from bot.db import ApprovalStatus, Clock, Database
from bot.db.records import ActionApproval
from bot.errors import CardinalError, InputError
from bot.events import ActionApprovalCard, ActionDecided, Event

log = structlog.get_logger(__name__)

ActionKind = Literal["destroy", "resize"]
DESTROY: ActionKind = "destroy"
RESIZE: ActionKind = "resize"


class Publisher(Protocol):
    """Post-once delivery and revision (implemented by :class:`bot.outbox.Outbox`)."""

    async def deliver(self, key: str, channel: str, thread_ts: str | None, event: Event) -> str: ...

    async def revise(self, channel: str, ts: str, event: Event) -> None: ...


class ApproverDirectory(Protocol):
    """Who may approve (resolved at click time)."""

    async def is_approver(self, user_id: str) -> bool: ...


class ApprovalNotOpen(InputError):
    """No approval has this id: a forged or stale button. Nothing was changed."""

    def __init__(self) -> None:
        super().__init__(
            "That button does not match an open approval.",
            field="approval",
            hint="Nothing was changed. Ask again with `/lxc destroy` or `/lxc resize` if it is still needed.",
        )


@dataclass(frozen=True, slots=True)
class ActionDecision:
    """What a click on an approval card did.

    ``won`` False: the approval had been decided already (by ``decided_by``) and nothing changed.
    """

    approval_id: str
    action: str
    won: bool
    approved: bool
    decided_by: str | None


def card_key(approval_id: str) -> str:
    """The outbox key of an approval's card (posted once)."""
    return f"action-approval:{approval_id}:card"


def outcome_key(approval_id: str) -> str:
    """The outbox key of the requester's message about the decision (posted once)."""
    return f"action-approval:{approval_id}:outcome"


class ActionApprovals:
    """The day-2 approval model: ask (record + card), decide (first click wins), act, revise, tell."""

    def __init__(
        self,
        db: Database,
        containers: ContainerService,
        outbox: Publisher,
        approvers: ApproverDirectory,
        clock: Clock,
    ) -> None:
        self.db = db
        self.containers = containers
        self.outbox = outbox
        self.approvers = approvers
        self.clock = clock

    # --- asking ---------------------------------------------------------------------------------------

    async def ask_destroy(self, plan: DestroyPlan, *, channel: str) -> ActionApproval:
        """Record a pending destroy approval for ``plan`` and post its card in ``channel``."""
        return await self._ask(DESTROY, plan, {}, channel, {"owner": plan.owner})

    async def ask_resize(self, plan: ResizePlan, *, channel: str) -> ActionApproval:
        """Record a pending resize approval for ``plan`` (its requested sizes) and post its card."""
        sizes = {"cores": plan.cores, "memory_mib": plan.memory_mib, "disk_add_gib": plan.disk_add_gib}
        return await self._ask(RESIZE, plan, sizes, channel, {"owner": plan.owner, "reason": plan.reason})

    async def _ask(
        self,
        action: ActionKind,
        plan: DestroyPlan | ResizePlan,
        sizes: dict[str, Any],
        channel: str,
        detail: dict[str, Any],
    ) -> ActionApproval:
        params = {**sizes, "plan": asdict(plan)}
        async with self.db.transaction() as tx:
            record = await tx.action_approvals.open(
                action, vmid=plan.vmid, requested_by=plan.requested_by, params=params, now=self.clock()
            )
        card = ActionApprovalCard(record.id, plan)
        ts = await self.outbox.deliver(card_key(record.id), channel, None, card)
        async with self.db.transaction() as tx:
            await tx.action_approvals.set_card(record.id, channel=channel, ts=ts)
            await tx.audit.append(
                plan.requested_by,
                f"container.{action}_approval_requested",
                now=self.clock(),
                vmid=plan.vmid,
                detail={**detail, **sizes, "approval_id": record.id, "card_channel": channel, "card_ts": ts},
            )
            fresh = await tx.action_approvals.get(record.id)
        assert fresh is not None  # just written in this process
        return fresh

    # --- deciding -------------------------------------------------------------------------------------

    async def decide(self, approval_id: str, *, clicker: str, approve: bool) -> ActionDecision:
        """Apply an approver's click on the approval ``approval_id``.

        Raises :class:`ApprovalNotOpen` for an id with no record, :class:`~bot.access.AccessDenied` when
        ``clicker`` is not an approver now or asked for the action themselves. Of all clicks on one record
        only the first changes anything (``won``); an approved action that fails is shown on the card and
        its error re-raised for the clicker.
        """
        async with self.db.transaction(readonly=True) as tx:
            record = await tx.action_approvals.get(approval_id)
        if record is None:
            raise ApprovalNotOpen()
        approver = Actor(clicker, is_approver=await self.approvers.is_approver(clicker))
        require_approve(approver, record.requested_by)
        if record.status is not ApprovalStatus.PENDING:
            return self._lost(record)
        async with self.db.transaction() as tx:
            decided = await tx.action_approvals.decide(
                approval_id, approve=approve, by=clicker, now=self.clock(), audit_detail={}
            )
            fresh = decided or await tx.action_approvals.get(approval_id)
        assert fresh is not None  # records are never deleted
        if decided is None:
            return self._lost(fresh)
        plan = plan_of(decided)
        if approve:
            plan = await self._act(decided, plan, approver)
        await self._revise(decided, ActionApprovalCard(approval_id, plan, clicker, approve))
        await self._tell_requester(decided, ActionDecided(plan, clicker, approve))
        return ActionDecision(approval_id, decided.action, won=True, approved=approve, decided_by=clicker)

    @staticmethod
    def _lost(record: ActionApproval) -> ActionDecision:
        approved = record.status is ApprovalStatus.APPROVED
        return ActionDecision(
            record.id, record.action, won=False, approved=approved, decided_by=record.decided_by
        )

    async def _act(
        self, record: ActionApproval, plan: DestroyPlan | ResizePlan, approver: Actor
    ) -> DestroyPlan | ResizePlan:
        """Run the approved action as its requester; the plan to show afterwards (a resize re-plans)."""
        asker = record.requested_by
        requester = Actor(asker, is_approver=await self.approvers.is_approver(asker))
        try:
            if record.action == DESTROY:
                destroyed = await self.containers.destroy(requester, record.vmid, approved_by=approver)
                gone = destroyed.already_gone
                await self._record(record.id, {"upid": destroyed.upid, "already_gone": gone})
                return plan
            p = record.params
            cores, memory, disk = p.get("cores"), p.get("memory_mib"), p.get("disk_add_gib")
            resized = await self.containers.resize(
                requester, record.vmid, cores, memory, disk, approved_by=approver
            )
            await self._record(record.id, {"upid": resized.upid, "applied": resized.applied})
            return resized.plan
        except CardinalError as exc:
            await self._record(record.id, {"error": exc.what})
            note = f"The {record.action} failed: {exc.what}"
            await self._revise(record, ActionApprovalCard(record.id, plan, approver.user_id, True, note))
            raise

    async def _record(self, approval_id: str, result: dict[str, Any]) -> None:
        async with self.db.transaction() as tx:
            await tx.action_approvals.set_result(approval_id, result)

    async def _revise(self, record: ActionApproval, card: ActionApprovalCard) -> None:
        """Replace the card with its decided variant (best effort: the decision already stands)."""
        if record.card_channel is None or record.card_ts is None:
            return
        try:
            await self.outbox.revise(record.card_channel, record.card_ts, card)
        except Exception as exc:  # the notifier's transport errors; the decision is recorded
            log.warning("approval.card_not_revised", approval_id=record.id, error=type(exc).__name__)

    async def _tell_requester(self, record: ActionApproval, event: ActionDecided) -> None:
        """A direct message to the requester, posted once (best effort)."""
        try:
            await self.outbox.deliver(outcome_key(record.id), record.requested_by, None, event)
        except Exception as exc:  # the notifier's transport errors; the decision is recorded
            log.warning("approval.requester_not_told", approval_id=record.id, error=type(exc).__name__)


def plan_of(record: ActionApproval) -> DestroyPlan | ResizePlan:
    """The plan the approval card showed when it was posted (stored with the record)."""
    stored = dict(record.params["plan"])
    if record.action == DESTROY:
        return DestroyPlan(**stored)
    return ResizePlan(**stored)
