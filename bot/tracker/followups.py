"""After a create: start the container, wait for it, find its addresses, and report the result.

The chain of ledger rows for one container is ``create`` → ``create_start`` (only when the container is
not already running) → ``create_ip``. Each hand-off ends one row and adds the next in one transaction,
so a crash at any point leaves exactly one live row to resume from.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime, timedelta

import structlog

from bot.db import ContainerState, RequestState, Task, TaskStatus, Tx
from bot.db.audit import SYSTEM_ACTOR
from bot.db.payloads import CreateParams, ProvisioningParams
from bot.errors import InputError
from bot.events import Notice
from bot.outbox import OutboxBusy
from bot.proxmox import (
    ProxmoxAuthError,
    ProxmoxConflictError,
    ProxmoxError,
    ProxmoxNotFoundError,
    ProxmoxPermissionError,
    ProxmoxUnreachableError,
)
from bot.proxmox.codec import parse_net
from bot.proxmox.models import ContainerConfig, Interface
from bot.tracker import results
from bot.tracker.context import Ctx, describe, submitted_at
from bot.tracker.kinds import TaskKind, action_word
from bot.tracker.poller import Observation, Seen
from bot.tracker.reporter import Effects, Reporter
from bot.tracker.warnings import report_warnings

log = structlog.get_logger(__name__)

_DYNAMIC = frozenset({"dhcp", "auto", "manual"})


def is_unknown_outcome(exc: ProxmoxError) -> bool:
    """A failed write whose effect is unknown: no answer, a timeout, or a bare gateway/5xx error."""
    if isinstance(exc, ProxmoxUnreachableError):
        return True
    return exc.status in (502, 503, 504) or (
        exc.status == 500 and exc.what.endswith(("Internal Server Error", "HTTP 500"))
    )


def addresses_from_config(config: ContainerConfig) -> tuple[list[str], bool, bool]:
    """Static addresses from the ``netN`` entries (``ip=``/``ip6=`` CIDRs), and whether IPv4 / IPv6 come
    from DHCP (or SLAAC) — then only the running container can tell them."""
    static: list[str] = []
    dhcp4 = dhcp6 = False
    for key in sorted(k for k in config if k.startswith("net") and k[3:].isdigit()):
        try:
            net = parse_net(str(config[key]), field=key)
        except InputError:
            continue
        if net.ip == "dhcp":
            dhcp4 = True
        elif net.ip and net.ip not in _DYNAMIC:
            static.append(net.ip.split("/", 1)[0])
        if net.ip6 in ("dhcp", "auto"):
            dhcp6 = True
        elif net.ip6 and net.ip6 not in _DYNAMIC:
            static.append(net.ip6.split("/", 1)[0])
    return static, dhcp4, dhcp6


def addresses_from_interfaces(interfaces: list[Interface]) -> tuple[list[str], list[str]]:
    """(IPv4, global IPv6) addresses of a container's interfaces (``lo`` already skipped)."""
    v4: list[str] = []
    v6: list[str] = []
    for iface in interfaces:
        v4.extend(a for a in iface.ipv4 if not ipaddress.ip_address(a).is_loopback)
        v6.extend(a for a in iface.ipv6_global if not ipaddress.ip_address(a).is_loopback)
    return v4, v6


def password_notice_key(task: Task) -> str:
    """The outbox key of the thread message saying a generated root password did not reach its requester.

    Its record is also how the "ready" message knows to say so (the password itself is never stored)."""
    return f"container:{task.vmid}:password-undelivered:{task.request_id}"


def _chain_params(task: Task) -> ProvisioningParams:
    """What the next provisioning step of ``task`` carries (hostname, requester, expiry)."""
    return (task.params or ProvisioningParams()).chain()


class FollowUps:
    """Everything between "Proxmox finished the create" and the container's final message."""

    def __init__(self, ctx: Ctx, reporter: Reporter) -> None:
        self.ctx = ctx
        self.reporter = reporter

    # --- the generated root password ---------------------------------------------------------------

    async def deliver_password(self, task: Task, password: str) -> None:
        """Send the generated root password to the requester by direct message (``conversations.open`` +
        ``chat.postMessage``). If Slack does not confirm it, the request's thread says so — without the
        secret — with what to do instead (:meth:`password_undelivered`). The password is never logged
        and never stored."""
        params = task.params or ProvisioningParams()
        requester = params.requester
        if requester is None:
            await self.password_undelivered(task)
            return
        hostname = params.hostname
        text = (
            f"Root password for {hostname} (CT {task.vmid}): `{password}`\n"
            "Cardinal does not keep the password; change it after your first login, and delete this "
            "message once you have."
        )
        try:
            await self.ctx.outbox.notifier.send_direct(user=requester, text=text)
        except Exception as exc:  # never log the text: it holds the password
            log.warning("tracker.password_not_delivered", vmid=task.vmid, error=type(exc).__name__)
            await self.password_undelivered(task)
            return
        log.info("tracker.password_delivered", vmid=task.vmid)

    async def password_undelivered(self, task: Task) -> None:
        """Tell the request's thread that the requester does not have the generated root password, and how
        to get into the container anyway. The "ready" message repeats it (see :meth:`ready`)."""
        params = task.params
        if not isinstance(params, CreateParams) or not params.generate_password:
            return
        requester = params.requester
        who = f"<@{requester}>, the" if requester is not None else "The"
        hostname = params.hostname
        name = f"{hostname} (CT {task.vmid})" if hostname else f"CT {task.vmid}"
        text = (
            f"{who} generated root password of {name} could not be delivered to you "
            "by direct message, and Cardinal does not keep it. Log in with your SSH key if you gave one. "
            f"Otherwise ask a Proxmox administrator to set a new root password (`pct enter {task.vmid}` "
            f"on node {task.node}, then `passwd`), or `/lxc destroy {task.vmid}` and request it again "
            "with an SSH key."
        )
        if task.channel is None:
            log.warning("tracker.password_undelivered_untold", vmid=task.vmid)
            return
        try:
            await self.ctx.outbox.deliver(
                password_notice_key(task), task.channel, task.thread_ts, Notice(text)
            )
        except OutboxBusy:
            pass  # being posted by another worker right now
        except Exception as exc:  # Slack is down: the "ready" message still says so
            log.warning("tracker.password_notice_failed", vmid=task.vmid, error=type(exc).__name__)

    async def _password_missing(self, task: Task) -> bool:
        async with self.ctx.db.transaction(readonly=True) as tx:
            return await tx.outbox.get(password_notice_key(task)) is not None

    # --- the create task ended -----------------------------------------------------------------

    async def create_finished(self, task: Task, obs: Observation) -> None:
        """The ``vzcreate`` task ended: continue with start, or report the failure with its log."""
        if obs.seen is Seen.OK:
            if await report_warnings(self.ctx, task, obs.exitstatus):
                await self.created(task)
        else:
            tail = await self.ctx.log_tail(task)
            await self.fail(task, obs.exitstatus or "the create task failed", tail, exitstatus=obs.exitstatus)

    async def created(self, task: Task) -> None:
        """The container exists: start it unless it already runs (then go straight to addresses)."""
        ctx = self.ctx
        assert task.vmid is not None
        try:
            status = await ctx.px.container_status(task.node, task.vmid)
        except ProxmoxError as exc:
            await ctx.retry_after_error(task, exc)  # the next sweep sees the same finished task again
            return
        params = _chain_params(task)
        if status.running:
            if await self.reporter.hand_off(task, TaskKind.CREATE_IP, self._add_ip_step(task, params)):
                await self._now_starting(task)
            return
        added: list[Task] = []

        async def add_start(tx: Tx, now: datetime) -> None:
            await self._audit_created(tx, task, now)
            added.append(
                await tx.ledger.add_task(
                    TaskKind.CREATE_START,
                    node=task.node,
                    vmid=task.vmid,
                    request_id=task.request_id,
                    upid=None,
                    deadline_at=now + ctx.config.deadline(TaskKind.CREATE_START),
                    now=now,
                    actor=task.actor,
                    channel=task.channel,
                    thread_ts=task.thread_ts,
                    lease_owner=ctx.owner,
                    lease_seconds=ctx.config.lease_seconds,
                    params=params,
                )
            )

        if not await self.reporter.hand_off(task, TaskKind.CREATE_START, add_start):
            return
        await self._now_starting(task)
        await self.submit_start(added[0])

    async def _now_starting(self, task: Task) -> None:
        if task.request_id is not None:
            await self.reporter.refresh_request(task.request_id, state=RequestState.STARTING)

    async def _audit_created(self, tx: Tx, task: Task, now: datetime) -> None:
        await tx.audit.append(
            SYSTEM_ACTOR,
            "container.created",
            now=now,
            vmid=task.vmid,
            request_id=task.request_id,
            upid=task.upid,
            detail={"node": task.node},
        )

    def _add_ip_step(self, task: Task, params: ProvisioningParams, *, audit_created: bool = True) -> Effects:
        ctx = self.ctx

        async def add(tx: Tx, now: datetime) -> None:
            if audit_created:
                await self._audit_created(tx, task, now)
            await tx.ledger.add_step(
                TaskKind.CREATE_IP,
                node=task.node,
                vmid=task.vmid,
                request_id=task.request_id,
                deadline_at=now + ctx.config.deadline(TaskKind.CREATE_IP),
                now=now,
                params=params,
                actor=task.actor,
                channel=task.channel,
                thread_ts=task.thread_ts,
            )

        return add

    # --- starting the new container ----------------------------------------------------------------

    async def submit_start(self, task: Task) -> None:
        """POST ``status/start`` for a ``create_start`` row we hold (``submitting``) and record its UPID."""
        ctx = self.ctx
        assert task.vmid is not None
        try:
            upid = await ctx.px.power(task.node, task.vmid, "start")
        except ProxmoxConflictError:  # "CT … already running": nothing left to start
            await self.started(task)
            return
        except ProxmoxError as exc:
            if is_unknown_outcome(exc):
                await ctx.reschedule(task, ctx.config.submit_grace, str(exc))  # recovery looks first
            else:
                await self.fail(task, describe(exc), [])
            return
        await self._adopt(task, str(upid))

    async def _adopt(self, task: Task, upid: str) -> None:
        now = self.ctx.now()
        async with self.ctx.db.transaction() as tx:
            ok = await tx.ledger.set_upid(task.id, upid, now=now)
        log.info("tracker.submitted", task_id=task.id, kind=task.kind, vmid=task.vmid, upid=upid, ok=ok)

    async def recover_start(self, task: Task) -> None:
        """A ``create_start`` row left ``submitting`` (crash, unclear answer): look before starting again."""
        ctx = self.ctx
        assert task.vmid is not None
        submitted = submitted_at(task)
        try:
            found = await ctx.lookup_submitted(task, TaskKind.CREATE_START)
            if found:
                await self._adopt(task, found[0].upid)
                return
            status = await ctx.px.container_status(task.node, task.vmid)
        except ProxmoxError as exc:
            await ctx.retry_after_error(task, exc)
            return
        if status.running:
            await self.started(task)
        elif ctx.epoch() - submitted < ctx.config.submit_grace:
            await ctx.reschedule(task, ctx.config.submit_grace)
        else:
            async with ctx.db.transaction() as tx:
                await tx.ledger.restart_submission(task.id, ctx.owner, now=ctx.now())
            await self.submit_start(task)

    async def start_finished(self, task: Task, obs: Observation) -> None:
        """The ``vzstart`` task ended: look for addresses next, or report why it did not start."""
        if obs.seen is Seen.OK:
            if await report_warnings(self.ctx, task, obs.exitstatus):
                await self.started(task)
        else:
            tail = await self.ctx.log_tail(task)
            await self.fail(task, obs.exitstatus or "the start task failed", tail, exitstatus=obs.exitstatus)

    async def started(self, task: Task) -> None:
        """The container runs: hand over to address discovery."""
        step = self._add_ip_step(task, _chain_params(task), audit_created=False)
        await self.reporter.hand_off(task, TaskKind.CREATE_IP, step)

    # --- addresses -----------------------------------------------------------------------------

    async def discover(self, task: Task) -> None:
        """One attempt at the container's addresses; report once found or after ``address_attempts``."""
        ctx = self.ctx
        assert task.vmid is not None
        attempt = task.attempts
        last = attempt >= ctx.config.address_attempts or ctx.now() >= task.deadline_at
        static: list[str] = []
        v4: list[str] = []
        v6: list[str] = []
        dhcp4 = dhcp6 = False
        try:
            config = await ctx.px.container_config(task.node, task.vmid)
            static, dhcp4, dhcp6 = addresses_from_config(config)
            if dhcp4 or dhcp6:
                v4, v6 = addresses_from_interfaces(await ctx.px.interfaces(task.node, task.vmid))
        except (ProxmoxAuthError, ProxmoxPermissionError, ProxmoxNotFoundError) as exc:
            log.warning("tracker.addresses_unavailable", vmid=task.vmid, error=str(exc))
            last = True
        except ProxmoxError as exc:
            if not last:
                await ctx.retry_after_error(task, exc)
                return
        found = bool(v4) if dhcp4 else bool(v6) if dhcp6 else True
        if not found and not last:
            await self._again(task, attempt)
            return
        # Prefer IPv4; global IPv6 only when no IPv4 is known (link-local never counts).
        discovered = v4 or ([] if static else v6)
        ips = list(dict.fromkeys([*static, *discovered]))
        await self.ready(task, ips)

    async def _again(self, task: Task, attempt: int) -> None:
        ctx = self.ctx
        now = ctx.now()
        nxt = now + timedelta(seconds=ctx.address_backoff.delay(attempt - 1))
        async with ctx.db.transaction() as tx:
            await tx.ledger.record_poll(task.id, ctx.owner, now=now, next_poll_at=nxt)

    async def ready(self, task: Task, ips: list[str]) -> None:
        """Report the container ready with ``ips`` (or a note how to ask again later)."""
        assert task.vmid is not None
        vmid = task.vmid
        params = task.params or ProvisioningParams()
        notes = [] if ips else [f"no address yet — `/lxc ip {vmid}`"]
        if await self._password_missing(task):
            notes.append(
                "the generated root password did not reach you (see above): use your SSH key, or have a "
                "new root password set"
            )
        note = "; ".join(notes) or None
        result = results.ready(params.hostname, ips, note, params.expires_at)

        async def effects(tx: Tx, now: datetime) -> None:
            await tx.containers.set_ips(vmid, ips, now=now)
            await tx.containers.set_state(vmid, ContainerState.RUNNING, now=now, seen=True)
            await tx.audit.append(
                SYSTEM_ACTOR,
                "container.ready",
                now=now,
                vmid=vmid,
                request_id=task.request_id,
                detail={"ips": ips, "node": task.node},
            )

        await self.reporter.conclude(task, TaskStatus.SUCCEEDED, result, exitstatus="OK", effects=effects)

    # --- failures ------------------------------------------------------------------------------

    async def fail(
        self,
        task: Task,
        error: str,
        log_tail: list[str],
        *,
        exitstatus: str | None = None,
        timed_out: bool = False,
    ) -> None:
        """End the container's chain with a failure message (create/start failed or timed out)."""
        vmid = task.vmid
        action = action_word(task.kind)
        creating = task.kind == TaskKind.CREATE

        async def effects(tx: Tx, now: datetime) -> None:
            if vmid is None:
                return
            if timed_out:
                # Proxmox may still finish it: keep the VMID reserved and the state open.
                state = ContainerState.UNKNOWN
            else:
                state = ContainerState.FAILED if creating else ContainerState.STOPPED
            await tx.containers.set_state(vmid, state, now=now)
            if creating and not timed_out:
                await tx.vmids.release(vmid)
            await tx.audit.append(
                SYSTEM_ACTOR,
                f"container.{action.replace(' ', '_')}_{'timed_out' if timed_out else 'failed'}",
                now=now,
                vmid=vmid,
                request_id=task.request_id,
                upid=task.upid,
                detail={"error": error},
            )

        await self.reporter.conclude_failed(
            task, action, error, log_tail, exitstatus=exitstatus, timed_out=timed_out, effects=effects
        )

    async def timed_out(self, task: Task) -> None:
        """A provisioning step passed its deadline: report it with the log so far."""
        tail = await self.ctx.log_tail(task)
        error = self.ctx.overdue(task, f"{action_word(task.kind)} of CT {task.vmid}")
        await self.fail(task, error, tail, timed_out=True)
