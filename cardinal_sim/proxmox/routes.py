"""The handler registry and the per-request context the handlers receive."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from cardinal_sim.proxmox.auth import Identity
from cardinal_sim.proxmox.core import Simulator
from cardinal_sim.proxmox.errors import ApiError, die
from cardinal_sim.proxmox.schema import Endpoint
from cardinal_sim.proxmox.state import Container


@dataclass
class Paged:
    """A list answer that also carries ``total`` in the envelope (task list, task log)."""

    data: list[Any]
    total: int


@dataclass
class Ctx:
    """One validated request: the simulator, the caller and the coerced parameters."""

    sim: Simulator
    identity: Identity
    endpoint: Endpoint
    params: dict[str, Any]
    method: str
    path: str

    @property
    def node(self) -> str:
        return str(self.params["node"])

    @property
    def vmid(self) -> int:
        return int(self.params["vmid"])

    @property
    def userid(self) -> str:
        return self.identity.userid

    def check(self, path: str, privs: Iterable[str], *, any_of: bool = False) -> None:
        """Raise 403 unless the caller holds the privileges on ``path``."""
        self.sim.access.check(self.identity, path, privs, any_of=any_of)

    def has(self, path: str, priv: str) -> bool:
        """Whether the caller holds ``priv`` on ``path``."""
        return self.sim.access.has(self.identity, path, priv)

    def load_config(self, vmid: int | None = None) -> Container:
        """``load_config``: the container on this node, or 500 ``Configuration file … does not exist``."""
        vmid = self.vmid if vmid is None else vmid
        ct = self.sim.containers.get(vmid)
        if ct is None or ct.node != self.node:
            raise die(f"Configuration file 'nodes/{self.node}/lxc/{vmid}.conf' does not exist")
        return ct


Handler = Callable[[Ctx], Awaitable[Any]]
HANDLERS: dict[tuple[str, str], Handler] = {}


def route(method: str, path: str) -> Callable[[Handler], Handler]:
    """Register ``fn`` for a schema method/path."""

    def deco(fn: Handler) -> Handler:
        HANDLERS[(method, path)] = fn
        return fn

    return deco


def param_exc(errors: dict[str, str]) -> ApiError:
    """``raise_param_exc`` from inside a handler."""
    return ApiError(400, "Parameter verification failed.\n", errors=errors)
