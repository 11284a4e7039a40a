"""A request's progress as its thread root shows it: one line per container and the overall outcome."""

from __future__ import annotations

from collections.abc import Sequence

from bot.containers.advanced import describe_interface, describe_volume
from bot.db import Container, ContainerRequest, RequestState, Task, TaskStatus
from bot.events import ContainerLine, RequestSummary
from bot.tracker import results
from bot.tracker.kinds import TaskKind

_RANK = {TaskKind.CREATE: 0, TaskKind.CREATE_START: 1, TaskKind.CREATE_IP: 2}
DONE_STATES = frozenset({"ready", "failed"})


def _line_state(task: Task | None) -> str:
    if task is None:
        return "queued"
    event = (task.result or {}).get("event")
    if task.status is TaskStatus.QUEUED:
        return "queued"
    if task.is_final and event == results.FAILED:
        return "failed"
    if task.is_final and task.status is not TaskStatus.SUCCEEDED:
        return "failed"
    if task.kind == TaskKind.CREATE:
        return "starting" if task.is_final else "creating"
    if task.kind == TaskKind.CREATE_IP and task.is_final:
        return "ready"
    return "starting"


def container_lines(containers: Sequence[Container], tasks: Sequence[Task]) -> list[ContainerLine]:
    """Each container of a request with its provisioning progress (from the latest step of its chain)."""
    latest: dict[int, Task] = {}
    for task in tasks:
        if task.kind not in _RANK or task.vmid is None:
            continue
        seen = latest.get(task.vmid)
        if seen is None or (_RANK[task.kind], task.created_at) >= (_RANK[seen.kind], seen.created_at):
            latest[task.vmid] = task
    lines = []
    for ct in containers:
        last = latest.get(ct.vmid)
        state = _line_state(last)
        ips: tuple[str, ...] = ()
        if state == "ready" and last is not None:
            ips = tuple(str(ip) for ip in (last.result or {}).get("ips") or ())
        lines.append(ContainerLine(hostname=ct.hostname, vmid=ct.vmid, node=ct.node, state=state, ips=ips))
    return lines


def outcome(lines: Sequence[ContainerLine]) -> RequestState | None:
    """The request's final state once every container is done, else ``None``."""
    if not lines or any(line.state not in DONE_STATES for line in lines):
        return None
    ok = sum(1 for line in lines if line.state == "ready")
    if ok == len(lines):
        return RequestState.READY
    return RequestState.FAILED if ok == 0 else RequestState.PARTIALLY_FAILED


def summary(request: ContainerRequest, lines: Sequence[ContainerLine]) -> RequestSummary:
    """The root message's content for ``request``. The one place a request becomes a
    :class:`RequestSummary`: the request service and the tracker both use it."""
    spec = request.spec
    hostnames = tuple(line.hostname for line in lines) or tuple(spec.hostnames)
    net = spec.nets[0]
    return RequestSummary(
        request_id=request.id,
        requester=request.requester,
        state=request.state,
        hostnames=hostnames,
        template=spec.template.split("/", 1)[-1],
        cores=spec.cores,
        memory_mib=spec.memory_mib,
        disk_gib=spec.disk_gib,
        purpose=request.purpose,
        expires_at=request.expires_at,
        swap_mib=spec.swap_mib,
        preset=spec.preset,
        ipv4=net.ipv4_cidr,
        gateway=net.gateway,
        bridge=net.bridge,
        vlan=net.vlan,
        node=request.node,
        lifetime=(request.expires_at - request.created_at) if request.expires_at else None,
        requested_at=request.created_at,
        decided_by=request.decided_by,
        decision_reason=request.decision_reason,
        containers=tuple(lines),
        volumes=tuple(describe_volume(mp) for mp in spec.mountpoints),
        interfaces=tuple(describe_interface(n) for n in spec.nets[1:]),
    )
