"""``/lxc start|stop|shutdown|reboot``: power actions on a managed container."""

from __future__ import annotations

from bot.access import Actor
from bot.containers.context import ContainerContext
from bot.containers.errors import ContainerAlreadyRunning, ContainerNotRunning, busy
from bot.containers.results import PowerResult
from bot.db.records import Container
from bot.errors import CardinalError, InputError
from bot.proxmox.client import PowerAction
from bot.proxmox.errors import ProxmoxConflictError, ProxmoxLockedError

__all__ = ["POWER_ACTIONS", "PowerOps"]

POWER_ACTIONS: tuple[PowerAction, ...] = ("start", "stop", "shutdown", "reboot")
"""The power actions people may run (suspend/resume are Proxmox's, not offered in Slack)."""


class PowerOps:
    """Start, stop, shut down and reboot containers."""

    def __init__(self, ctx: ContainerContext) -> None:
        self.ctx = ctx

    async def power(self, actor: Actor, vmid: int, action: str) -> PowerResult:
        """Start, stop, shutdown or reboot a container (owner or approver); the task is followed.

        ``restart`` is refused with a pointer to ``reboot`` (LXC has no restart). Raises
        :class:`ContainerNotManaged`, :class:`~bot.access.AccessDenied`, :class:`ContainerAlreadyRunning`,
        :class:`ContainerNotRunning`, :class:`ContainerBusy` or a :class:`~bot.proxmox.errors.ProxmoxError`.
        """
        if action == "restart":
            raise InputError("Containers have no restart; use `reboot`.", field="action")
        if action not in POWER_ACTIONS:
            raise InputError(
                f"Unknown action {action[:20]!r}; use one of {', '.join(POWER_ACTIONS)}.", field="action"
            )
        verb: PowerAction = action
        container = await self.ctx.operable(actor, vmid, action)
        try:
            container, upid = await self.ctx.on_node(
                container, lambda node: self.ctx.proxmox.power(node, vmid, verb)
            )
        except ProxmoxConflictError as exc:
            raise self._conflict(container, action, exc) from exc
        except ProxmoxLockedError as exc:
            raise busy(container, exc) from exc
        await self.ctx.follow(action, upid, container, actor.user_id)
        await self.ctx.audit(
            actor.user_id, f"container.{action}", vmid=vmid, upid=str(upid), detail={"node": upid.node}
        )
        return PowerResult(vmid=vmid, action=verb, node=upid.node, upid=str(upid))

    @staticmethod
    def _conflict(container: Container, action: str, exc: ProxmoxConflictError) -> CardinalError:
        name = f"{container.hostname} ({container.vmid})"
        text = exc.what.lower()
        if "already running" in text:
            return ContainerAlreadyRunning(
                f"{name} is already running.",
                hint=(
                    f"To restart it use `/lxc reboot {container.vmid}`; "
                    f"to stop it `/lxc stop {container.vmid}`."
                ),
            )
        if "not running" in text:
            return ContainerNotRunning(
                f"{name} is not running, so it cannot {action}.",
                hint=f"Start it with `/lxc start {container.vmid}`.",
            )
        return exc
