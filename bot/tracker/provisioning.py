"""The provisioning pool: queued creations are submitted while fewer than ``concurrency`` creates run.

Work-conserving: every sweep (right after it has seen tasks finish) claims as many queued creations as
there are free slots, cluster-wide (:meth:`bot.db.ledger.LedgerRepo.claim_queued` counts and claims in
one critical section). A creation is marked ``submitting`` before its POST and gets its UPID after. A POST
whose outcome is unknown is never repeated blindly: Proxmox is asked first (task list by vmid, then the
config), the task adopted if it is there, and only when neither exists after a grace period is the
create sent again — so a container is never created twice.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import datetime
from typing import Any

import structlog

from bot.db import Task, Tx
from bot.db.audit import SYSTEM_ACTOR
from bot.db.errors import StoredRowInvalid
from bot.db.payloads import CreateParams
from bot.proxmox import ProxmoxError, ProxmoxExistsError, ProxmoxNotFoundError, TaskListItem
from bot.tracker.context import Ctx, describe, submitted_at
from bot.tracker.followups import FollowUps, is_unknown_outcome
from bot.tracker.kinds import TaskKind

log = structlog.get_logger(__name__)

PASSWORD_BYTES = 12
"""Entropy of a generated root password (16 URL-safe characters)."""


def _create_params(task: Task) -> CreateParams:
    """The stored parameters of a ``create`` row (the ledger has validated them on read)."""
    if not isinstance(task.params, CreateParams):
        raise StoredRowInvalid(
            "tracked_task", task.id, [f"params: a {task.kind} row has no create parameters"]
        )
    return task.params


class Provisioner:
    """Submits queued creations under the concurrency limit and recovers unclear submissions."""

    def __init__(self, ctx: Ctx, followups: FollowUps) -> None:
        self.ctx = ctx
        self.followups = followups

    async def fill(self, *, stopping: asyncio.Event | None = None) -> int:
        """Claim free slots and submit those creations; repeat while submissions free slots at once
        (refused creates). Returns how many creations were submitted."""
        ctx = self.ctx
        submitted = 0
        for _ in range(ctx.config.concurrency + 1):
            if stopping is not None and stopping.is_set():
                break
            now = ctx.now()
            async with ctx.db.transaction() as tx:
                claimed = await tx.ledger.claim_queued(
                    ctx.owner,
                    TaskKind.CREATE,
                    max_in_flight=ctx.config.concurrency,
                    now=now,
                    lease_seconds=ctx.config.lease_seconds,
                    deadline_at=now + ctx.config.deadline(TaskKind.CREATE),
                )
            if not claimed:
                break
            outcomes = await asyncio.gather(*(self.submit(task) for task in claimed))
            submitted += len(claimed)
            if all(outcomes):
                break  # every claimed slot is busy now; nothing freed meanwhile
        return submitted

    async def submit(self, task: Task) -> bool:
        """POST the create of a ``submitting`` row we hold. True when it is (or may be) at Proxmox."""
        ctx = self.ctx
        create = _create_params(task)
        params: dict[str, Any] = dict(create.create)
        password: str | None = None
        if create.generate_password:
            password = secrets.token_urlsafe(PASSWORD_BYTES)
            params["password"] = password
        try:
            upid = await ctx.px.create_container(task.node, params)
        except ProxmoxExistsError as exc:
            # Ours, from an earlier attempt whose answer got lost? Look it up; otherwise it is taken.
            return await self._look_then(task, password, exc, refused=True)
        except ProxmoxError as exc:
            if is_unknown_outcome(exc):
                return await self._look_then(task, password, exc, refused=False)
            await self.followups.fail(task, describe(exc), [])
            return False
        finally:
            params.pop("password", None)
        await self._adopt(task, str(upid), password)
        return True

    async def _look_then(self, task: Task, password: str | None, exc: ProxmoxError, *, refused: bool) -> bool:
        ctx = self.ctx
        log.warning("tracker.create_unclear", task_id=task.id, vmid=task.vmid, error=str(exc))
        try:
            found = await self._lookup(task)
        except ProxmoxError:
            found = None
        if found is not None:
            await self._adopt(task, found.upid, password)
            return True
        if refused:
            await self.followups.fail(task, describe(exc), [])
            return False
        await ctx.reschedule(task, ctx.config.submit_grace, str(exc))
        return True

    async def _lookup(self, task: Task) -> TaskListItem | None:
        items = await self.ctx.lookup_submitted(task, TaskKind.CREATE)
        return items[0] if items else None

    async def _adopt(self, task: Task, upid: str, password: str | None) -> None:
        ctx = self.ctx
        now = ctx.now()

        async with ctx.db.transaction() as tx:
            ok = await tx.ledger.set_upid(task.id, upid, now=now)
            if ok:
                await self._audit(tx, task, upid, now)
        log.info("tracker.create_submitted", task_id=task.id, vmid=task.vmid, upid=upid, recorded=ok)
        if password is not None:
            await self.followups.deliver_password(task, password)

    async def _audit(self, tx: Tx, task: Task, upid: str, now: datetime) -> None:
        await tx.audit.append(
            SYSTEM_ACTOR,
            "container.create_submitted",
            now=now,
            vmid=task.vmid,
            request_id=task.request_id,
            upid=upid,
            detail={"node": task.node},
        )

    async def recover(self, task: Task) -> None:
        """A ``create`` row found ``submitting`` by a sweep (its submitter died, or the POST's answer was
        unclear): adopt the task Proxmox has for the vmid, continue if the container exists, resubmit only
        when Proxmox shows neither a task nor a config after the grace period."""
        ctx = self.ctx
        assert task.vmid is not None
        submitted = submitted_at(task)
        try:
            found = await self._lookup(task)
            if found is not None:
                await self._adopt(task, found.upid, None)
                await self._password_lost(task)
                return
            exists, locked = await self._config_state(task)
        except ProxmoxError as exc:
            await ctx.retry_after_error(task, exc)
            return
        if exists:
            if locked:
                await ctx.reschedule(task, ctx.config.submit_grace)
            else:
                await self._password_lost(task)
                await self.followups.created(task)
            return
        if ctx.now() >= task.deadline_at:
            await self.followups.fail(
                task, f"the create could not be submitted: {task.error or 'no answer'}", []
            )
        elif ctx.epoch() - submitted < ctx.config.submit_grace:
            await ctx.reschedule(task, ctx.config.submit_grace - (ctx.epoch() - submitted))
        else:
            async with ctx.db.transaction() as tx:
                await tx.ledger.restart_submission(task.id, ctx.owner, now=ctx.now())
            log.info("tracker.create_resubmitted", task_id=task.id, vmid=task.vmid)
            await self.submit(task)

    async def _config_state(self, task: Task) -> tuple[bool, bool]:
        assert task.vmid is not None
        try:
            config = await self.ctx.px.container_config(task.node, task.vmid)
        except ProxmoxNotFoundError:
            return False, False
        return True, "lock" in config

    async def _password_lost(self, task: Task) -> None:
        # The create was adopted after a crash or an unclear answer: the password generated for it is gone.
        await self.followups.password_undelivered(task)
