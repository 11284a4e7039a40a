"""Bench 5 — footprint: resident memory with 10,000 rows the running bot reads, and time to ready.

Cardinal is started the way operators start it (``python -m bot run``, HTTP mode, INFO logging)
against the world process (``bench.world``: Proxmox simulator over HTTPS and the fake Slack) on a
SQLite database that already holds what a busy installation has, in tables the bot *reads* while it runs:

- 10,000 ``container`` rows (the whole managed VMID range), each a running guest on the simulator — read
  by the 60 s expiry job, the digest, list and Home, and compared with ``/cluster/resources`` by the
  300 s reconcile job;
- 1,000 running ``tracked_task`` rows (real long tasks on the simulator, swept every 3 s) and 9,000
  finished ones; 10,000 ``audit_event`` rows.

Ready = the first ``200`` from ``/readyz`` (database, migrations, scheduler and Slack all ok), timed
from the moment the process is spawned. Memory is sampled (``psutil``) after ready for long enough to
cover the 60 s jobs and (full run) the 300 s reconcile job, which runs 300 ± 30 s after start; the bar
is on the peak (``VmHWM``).

Baseline, same run: the same start on an empty (migrated) database and an empty cluster.

Bytecode: an installed Cardinal (the image's wheel, ``pip install``) carries compiled ``.pyc`` files; a
checkout run with ``PYTHONDONTWRITEBYTECODE=1`` (as on the development machines) recompiles its ~140 own
modules at every start, about 0.2 s more. The bench compiles ``bot`` and ``handlers`` first
(``compileall``, into the ignored ``__pycache__`` folders), so the start measured is an installed one.
"""

from __future__ import annotations

import asyncio
import compileall
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil

from bench.ack_latency import start_cardinal, wait_ready
from bench.common import ROOT, Bar, parser, report, table
from bench.world import World, start_world

ROWS = 10_000
RUNNING = 1_000
VMID_BASE = 10_000  # the policy's default managed range starts here
NODES = ("pve", "pve2", "pve3")
BAR_RSS_MB = 150.0
BAR_READY_S = 2.0
MB = 1024 * 1024


async def fill_ledger(url: str, upids: list[str], total: int) -> None:
    """Migrate ``url`` and insert ``total`` ledger rows: one running row per UPID, the rest history."""
    from sqlalchemy import insert

    from bot.db import open_database
    from bot.db.enums import NotifyState, TaskStatus
    from bot.db.tables import audit_event, container, tracked_task
    from bot.proxmox import Upid

    db = await open_database(url)
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    for i, upid in enumerate(upids):
        parsed = Upid.parse(upid)
        rows.append(
            _row(
                kind="start",
                upid=upid,
                node=parsed.node,
                vmid=int(parsed.id),
                status=TaskStatus.RUNNING,
                notify=NotifyState.PENDING,
                started=parsed.starttime,
                when=now,
                deadline=now + timedelta(days=1),
                seq=i,
            )
        )
    for i in range(total - len(upids)):
        when = now - timedelta(minutes=total - i)
        rows.append(
            _row(
                kind=("start", "stop", "reboot", "destroy")[i % 4],
                upid=None,
                node=("pve", "pve2", "pve3")[i % 3],
                vmid=10000 + i % 5000,
                status=TaskStatus.SUCCEEDED if i % 20 else TaskStatus.FAILED,
                notify=NotifyState.FINAL,
                started=int(when.timestamp()),
                when=when,
                deadline=when + timedelta(minutes=10),
                seq=i,
                history=True,
            )
        )
    containers = [
        {
            "vmid": VMID_BASE + i,
            "node": NODES[i % len(NODES)],
            "hostname": f"busy-{i}",
            "request_id": None,
            "owner": ("U0REQUEST", "U0OTHER01")[i % 2],
            "state": "running",
            "expires_at": now + timedelta(days=7, minutes=i),
            "ip_addresses": [],
            "thread_channel": None,
            "thread_ts": None,
            "created_at": now,
            "updated_at": now,
            "last_seen_at": now,
            "destroyed_at": None,
        }
        for i in range(total)
    ]
    audit = [
        {
            "at": now - timedelta(minutes=i),
            "actor": "U0REQUEST",
            "action": "container.started",
            "vmid": VMID_BASE + i,
            "request_id": None,
            "upid": None,
            "detail": {},
        }
        for i in range(total)
    ]
    try:
        async with db.engine.begin() as conn:
            for table_, batch in ((tracked_task, rows), (container, containers), (audit_event, audit)):
                for start in range(0, len(batch), 1000):
                    await conn.execute(insert(table_), batch[start : start + 1000])
    finally:
        await db.dispose()


def _row(
    *,
    kind: str,
    upid: str | None,
    node: str,
    vmid: int,
    status: Any,
    notify: Any,
    started: int,
    when: datetime,
    deadline: datetime,
    seq: int,
    history: bool = False,
) -> dict[str, Any]:
    pid, pstart = 0x10000 + seq, 0x200000 + seq
    fake_upid = upid or f"UPID:{node}:{pid:08X}:{pstart:08X}:{started:08X}:vz{kind}:{vmid}:hist@pve!bench:"
    return {
        "id": str(uuid.uuid4()),
        "kind": kind,
        "upid": fake_upid,
        "node": node,
        "vmid": vmid,
        "request_id": None,
        "actor": "U0REQUEST",
        "channel": "C0LAB0001",
        "thread_ts": f"1700000000.{seq:06d}",
        "status": str(status),
        "lease_owner": None,
        "lease_until": None,
        "next_poll_at": when,
        "attempts": 3 if history else 0,
        "consecutive_errors": 0,
        "deadline_at": deadline,
        "started_at": started,
        "exitstatus": ("OK" if str(status) == "succeeded" else "command 'lxc-start' failed")
        if history
        else None,
        "error": None,
        "result": {"event": "succeeded", "action": kind, "detail": ""} if history else None,
        "params": None,
        "notify_state": str(notify),
        "created_at": when,
        "updated_at": when,
    }


def measure(world: World, tmp: Path, *, rows: int, watch: float) -> dict[str, Any]:
    """Start Cardinal on a database with ``rows`` rows per table; time to ready and memory after."""
    url = f"sqlite+aiosqlite:///{tmp / f'footprint-{rows}.db'}"
    upids = world.upids[: min(RUNNING, rows)]
    t_fill = time.perf_counter()
    asyncio.run(fill_ledger(url, upids if rows else [], rows))
    fill_s = time.perf_counter() - t_fill
    child, _port, ops, t0 = start_cardinal(world, tmp, database=url)
    try:
        ready_at = wait_ready(ops, child)
        ready_s = ready_at - t0
        proc = psutil.Process(child.pid)
        rss_at_ready = proc.memory_info().rss
        samples = [rss_at_ready]
        deadline = time.monotonic() + watch
        while time.monotonic() < deadline:
            time.sleep(0.1)
            samples.append(proc.memory_info().rss)
        peak = _hwm(child.pid) or max(samples)
        cpu = proc.cpu_times()
    finally:
        child.stop()
    return {
        "rows": rows,
        "fill_s": fill_s,
        "ready_s": ready_s,
        "rss_ready_mb": rss_at_ready / MB,
        "rss_end_mb": samples[-1] / MB,
        "rss_peak_mb": peak / MB,
        "cpu_s": cpu.user + cpu.system,
    }


def _hwm(pid: int) -> int | None:
    """Peak resident set size (``VmHWM``) of a live process, in bytes."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__ or "")
    p.add_argument("--rows", type=int, default=ROWS, help="ledger rows (default 10000)")
    p.add_argument(
        "--watch",
        type=float,
        default=None,
        help="seconds to watch memory after ready (default 335: past the 300 s reconcile; quick 65)",
    )
    args = p.parse_args(argv)
    watch = args.watch or (65.0 if args.quick else 335.0)
    for package in ("bot", "handlers"):  # as installed: with bytecode (see the module docstring)
        compileall.compile_dir(ROOT / package, quiet=1)
    with tempfile.TemporaryDirectory(prefix="cardinal-bench-") as tmp:
        world = start_world()
        try:
            empty = measure(world, Path(tmp), rows=0, watch=min(watch, 65.0))
        finally:
            world.stop()
        world = start_world(running=RUNNING, guests=args.rows, guest_base=VMID_BASE)
        try:
            full = measure(world, Path(tmp), rows=args.rows, watch=watch)
        finally:
            world.stop()
    rows = [
        [
            f"Cardinal, {full['rows']:,} containers / tasks / audit rows",
            full["ready_s"],
            full["rss_ready_mb"],
            full["rss_end_mb"],
            full["rss_peak_mb"],
            full["cpu_s"],
        ],
        [
            "Cardinal, empty database and cluster (baseline)",
            empty["ready_s"],
            empty["rss_ready_mb"],
            empty["rss_end_mb"],
            empty["rss_peak_mb"],
            empty["cpu_s"],
        ],
    ]
    text = table(
        f"Footprint: `python -m bot run` (HTTP mode, SQLite), memory watched {watch:g} s after ready",
        ["process", "ready s", "RSS at ready MB", "RSS at end MB", "peak RSS MB", "CPU s"],
        rows,
    )
    text += (
        f"\nDatabase filled in {full['fill_s']:.1f} s before the start (not counted). Watched {watch:g} s "
        + ("(covers the 60 s jobs and the 300 s reconcile)." if watch >= 330 else "(the 60 s jobs only).")
    )
    bars = [
        Bar(f"peak RSS with {args.rows:,} rows read by the bot", full["rss_peak_mb"], BAR_RSS_MB, "MB"),
        Bar("start to ready", full["ready_s"], BAR_READY_S, "s"),
    ]
    figures = {k: v for k, v in full.items() if k != "fill_s"}
    baseline = {k: v for k, v in empty.items() if k != "fill_s"}
    return report(
        "footprint",
        quick=args.quick,
        bars=bars,
        tables=[text],
        figures=figures,
        baseline=baseline,
        ratio=full["rss_peak_mb"] / empty["rss_peak_mb"],
    )


if __name__ == "__main__":
    sys.exit(main())
