"""Bench 5 — footprint: resident memory with 10,000 ledger rows, and time from start to ready.

Cardinal is started the way operators start it (``python -m bot run``, HTTP mode, INFO logging)
against the world process (``bench.world``: Proxmox simulator over HTTPS and the fake Slack) on a
SQLite database that already holds 10,000 ``tracked_task`` rows: 9,000 finished and notified (history)
and 1,000 still running — real long tasks on the simulator that the tracker follows from its first
sweep on. Ready = the first ``200`` from ``/readyz`` (database, migrations, scheduler and Slack all
ok), timed from the moment the process is spawned (so Python's start and imports count). Memory is
sampled (``psutil``) for a few sweeps after ready; the bar is on the peak (``VmHWM``).

Baseline, same run: the same start on an empty (migrated) database.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil

from bench.ack_latency import start_cardinal, wait_ready
from bench.common import Bar, parser, report, table
from bench.world import World, start_world

ROWS = 10_000
RUNNING = 1_000
BAR_RSS_MB = 150.0
BAR_READY_S = 2.0
MB = 1024 * 1024


async def fill_ledger(url: str, upids: list[str], total: int) -> None:
    """Migrate ``url`` and insert ``total`` ledger rows: one running row per UPID, the rest history."""
    from sqlalchemy import insert

    from bot.db import open_database
    from bot.db.enums import NotifyState, TaskStatus
    from bot.db.tables import tracked_task
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
    try:
        async with db.engine.begin() as conn:
            for start in range(0, len(rows), 1000):
                await conn.execute(insert(tracked_task), rows[start : start + 1000])
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
    """Start Cardinal on a database with ``rows`` ledger rows; time to ready and memory after."""
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
        "--watch", type=float, default=None, help="seconds to watch memory after ready (default 8)"
    )
    args = p.parse_args(argv)
    watch = args.watch or (4.0 if args.quick else 8.0)
    world = start_world(running=RUNNING)
    try:
        with tempfile.TemporaryDirectory(prefix="cardinal-bench-") as tmp:
            empty = measure(world, Path(tmp), rows=0, watch=watch)
            full = measure(world, Path(tmp), rows=args.rows, watch=watch)
    finally:
        world.stop()
    rows = [
        [
            f"Cardinal, {full['rows']:,} ledger rows ({min(RUNNING, full['rows']):,} running)",
            full["ready_s"],
            full["rss_ready_mb"],
            full["rss_end_mb"],
            full["rss_peak_mb"],
            full["cpu_s"],
        ],
        [
            "Cardinal, empty ledger (baseline)",
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
    text += f"\nLedger filled in {full['fill_s']:.1f} s before the start (not counted)."
    bars = [
        Bar("peak RSS with 10,000 ledger rows", full["rss_peak_mb"], BAR_RSS_MB, "MB"),
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
