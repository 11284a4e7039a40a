"""Bench 3 — provisioning throughput: N creations under a concurrency limit of 5.

The ``vzcreate`` durations are drawn once from a seeded spread (``base × U(1 − spread, 1 + spread)``)
and given to each VMID, so every approach sees exactly the same work. Time is simulated: the simulator's
clock is frozen and the bench moves it one sweep interval at a time, so results are deterministic and
the run is fast.

- Cardinal: the real tracker pool (``Tracker.enqueue_creations`` + ``sweep`` every sweep interval,
  product defaults, SQLite ledger) against an in-process simulator over HTTP.
- Fixed batches: the same creations in batches of 5 through the same client; the next batch starts only
  when every task of the current one is seen finished (status polled every sweep interval).
- Ideal: sum of durations / 5 (perfect packing, no detection delay).

Makespan = from the first submission to the end of the last ``vzcreate`` (simulated seconds).
"""

from __future__ import annotations

import asyncio
import random
import sys
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import Bar, parser, report, table

TOKEN_ID = "cardinal@pve!bench"
TOKEN_SECRET = "3f2e1d0c-9b8a-4765-8432-10fedcba9876"
NODES = ("pve", "pve2", "pve3")
START = datetime(2026, 11, 25, 12, 0, tzinfo=UTC).timestamp()
TEMPLATE = "local:vztmpl/debian-12-standard_12.12-1_amd64.tar.zst"
CHANNEL = "C0BENCH"
REQUESTER = "U0BENCH"
ROOT_TS = "1700000000.000100"
FIRST_VMID = 2000
LIMIT = 5
BAR = 1.15


def durations(count: int, *, base: float, spread: float, seed: int) -> dict[int, float]:
    """{vmid: vzcreate seconds} for the workload."""
    rng = random.Random(seed)
    return {FIRST_VMID + i: base * rng.uniform(1 - spread, 1 + spread) for i in range(count)}


def make_sim(table_: Mapping[int, float]) -> Any:
    """A 3-node simulator (frozen clock) whose ``vzcreate`` tasks take the tabled duration of their VMID."""
    from cardinal_sim.proxmox import Simulator

    class TabledSimulator(Simulator):
        def start_task(self, node: str, task_type: str, task_id: str, user: str, **kw: Any) -> Any:
            if task_type == "vzcreate" and kw.get("duration") is None and task_id.isdigit():
                kw["duration"] = table_.get(int(task_id))
            return super().start_task(node, task_type, task_id, user, **kw)

    sim = TabledSimulator(nodes=len(NODES), speed=0, start_time=START, seed=7)
    sim.add_token(TOKEN_ID, TOKEN_SECRET)
    return sim


def create_params(vmid: int) -> dict[str, Any]:
    from bot.containers.spec import ContainerSpec, Features

    # Nesting on, as Cardinal's default policy creates unprivileged containers (no systemd warning).
    spec = ContainerSpec(
        hostname=f"bench-{vmid}",
        template=TEMPLATE,
        storage="local-lvm",
        disk_gib=4,
        features=Features(nesting=True),
    )
    return dict(spec.to_create_params(vmid))


async def serve_client(sim: Any) -> tuple[Any, Any]:
    from pydantic import SecretStr

    from bot.proxmox import ProxmoxClient
    from cardinal_sim.proxmox import serve

    running = await serve(sim)
    return running, ProxmoxClient(running.api_url, token_id=TOKEN_ID, token_secret=SecretStr(TOKEN_SECRET))


def _creates(sim: Any) -> list[Any]:
    return [t for t in sim.tasks if t.type == "vzcreate"]


async def run_cardinal(table_: Mapping[int, float], interval: float, db_dir: Path) -> dict[str, Any]:
    """Cardinal's pool: enqueue everything, then sweep every ``interval`` until every create ended."""
    from bot.containers.stored import RequestSpec
    from bot.db import RequestState, open_database
    from bot.notify import RecordingNotifier
    from bot.outbox import Outbox
    from bot.tracker import CreationItem, Tracker

    sim = make_sim(table_)
    running, px = await serve_client(sim)
    db = await open_database(f"sqlite+aiosqlite:///{db_dir / 'provisioning.db'}")

    def clock() -> datetime:
        return datetime.fromtimestamp(sim.now(), UTC)

    tracker = Tracker(
        db,
        px,
        Outbox(db, RecordingNotifier(), clock),
        owner="bench",
        clock=clock,
        concurrency=LIMIT,
        sweep_interval=interval,
        seed=1,
    )
    vmids = sorted(table_)
    now = clock()
    async with db.transaction() as tx:
        req = await tx.requests.create_request(
            requester=REQUESTER,
            channel=CHANNEL,
            spec=RequestSpec(hostname="bench", template=TEMPLATE, storage="local-lvm"),
            now=now,
            count=len(vmids),
            purpose="benchmark",
            state=RequestState.APPROVED,
            thread_ts=ROOT_TS,
            expires_at=now + timedelta(days=7),
        )
        items = []
        for i, vmid in enumerate(vmids):
            got = await tx.vmids.reserve_vmid(req.id, vmid, vmid, set(), now=now)
            items.append(
                CreationItem(
                    hostname=f"bench-{got}",
                    vmid=got,
                    node=NODES[i % len(NODES)],
                    params=create_params(got),
                    channel=CHANNEL,
                    thread_ts=ROOT_TS,
                    requester=REQUESTER,
                    expires_at=req.expires_at,
                )
            )
    t0 = sim.now()
    await tracker.enqueue_creations(req.id, items)
    peak = 0
    sweeps = 0
    try:
        while True:
            await tracker.sweep()
            sweeps += 1
            creates = _creates(sim)
            peak = max(peak, sum(1 for t in creates if t.running))
            if len(creates) == len(vmids) and not any(t.running for t in creates):
                break
            if sweeps > 100_000:
                raise RuntimeError("the pool never submitted every creation")
            sim.advance(interval)
    finally:
        await tracker.shutdown(grace=5)
        await px.close()
        await running.close()
        await db.dispose()
    creates = _creates(sim)
    failed = [t for t in creates if t.exitstatus != "OK"]
    return {
        "makespan": max(t.ends_at for t in creates) - t0,
        "first_submit": min(t.started for t in creates) - t0,
        "peak_running": peak,
        "sweeps": sweeps,
        "failed": len(failed),
        "ran": {int(t.id): t.ends_at - t.started for t in creates},
    }


async def run_fixed_batches(table_: Mapping[int, float], interval: float) -> dict[str, Any]:
    """Batches of ``LIMIT``: submit, poll every ``interval`` until all of the batch ended, next batch."""
    from bot.proxmox import Upid

    sim = make_sim(table_)
    running, px = await serve_client(sim)
    vmids = sorted(table_)
    t0 = sim.now()
    polls = 0
    try:
        for start in range(0, len(vmids), LIMIT):
            batch = vmids[start : start + LIMIT]
            upids: list[Upid] = await asyncio.gather(
                *(
                    px.create_container(NODES[(start + j) % len(NODES)], create_params(v))
                    for j, v in enumerate(batch)
                )
            )
            pending = set(upids)
            while pending:
                sim.advance(interval)
                polls += 1
                states = await asyncio.gather(*(px.task_status(u) for u in pending))
                pending = {u for u, s in zip(pending, states, strict=True) if s.status != "stopped"}
    finally:
        await px.close()
        await running.close()
    creates = _creates(sim)
    return {
        "makespan": max(t.ends_at for t in creates) - t0,
        "polls": polls,
        "failed": sum(1 for t in creates if t.exitstatus != "OK"),
    }


async def amain(table_: Mapping[int, float], interval: float) -> tuple[dict[str, Any], dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="cardinal-bench-") as tmp:
        ours = await run_cardinal(table_, interval, Path(tmp))
    batches = await run_fixed_batches(table_, interval)
    return ours, batches


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__ or "")
    p.add_argument("--creations", type=int, default=None, help="number of creations (default 100)")
    p.add_argument("--base", type=float, default=60.0, help="mean vzcreate duration in s (default 60)")
    p.add_argument("--spread", type=float, default=0.75, help="relative spread of durations (default 0.75)")
    p.add_argument("--seed", type=int, default=2026, help="seed of the durations (default 2026)")
    p.add_argument("--interval", type=float, default=None, help="sweep interval in s (default: settings)")
    args = p.parse_args(argv)
    from bot.logs import configure_logging
    from bot.settings import Settings

    configure_logging("ERROR", "console")
    count = args.creations or (30 if args.quick else 100)
    interval = args.interval or float(Settings.model_fields["sweep_interval"].default)
    table_ = durations(count, base=args.base, spread=args.spread, seed=args.seed)
    ours, batches = asyncio.run(amain(table_, interval))
    ideal = sum(table_.values()) / LIMIT
    ratio = ours["makespan"] / ideal
    rows = [
        ["Cardinal (work-conserving pool)", ours["makespan"], ratio, ours["makespan"] / batches["makespan"]],
        ["fixed batches of 5", batches["makespan"], batches["makespan"] / ideal, 1.0],
        ["ideal (sum / 5)", ideal, 1.0, ideal / batches["makespan"]],
    ]
    spread_lo, spread_hi = min(table_.values()), max(table_.values())
    text = table(
        f"Provisioning: {count} creations, limit {LIMIT}, vzcreate {spread_lo:.1f}–{spread_hi:.1f} s "
        f"(base {args.base:g} s ± {args.spread:.0%}, seed {args.seed}), sweep every {interval:g} s "
        "(simulated time)",
        ["approach", "makespan s", "× ideal", "× fixed batches"],
        rows,
    )
    text += (
        f"\nCardinal: peak {ours['peak_running']} creates running at Proxmox, {ours['sweeps']} sweeps, "
        f"first submission after {ours['first_submit']:g} s, {ours['failed']} failed; "
        f"fixed batches: {batches['polls']} poll rounds, {batches['failed']} failed."
    )
    bars = [
        Bar("Cardinal makespan / ideal", ratio, BAR, "x"),
        Bar("creates running at once (peak)", ours["peak_running"], LIMIT, ""),
        Bar("failed creations", ours["failed"], 0, ""),
    ]
    figures = {
        "creations": count,
        "limit": LIMIT,
        "interval_s": interval,
        "durations_sum_s": sum(table_.values()),
        "makespan_s": ours["makespan"],
        "peak_running": ours["peak_running"],
        "sweeps": ours["sweeps"],
    }
    baseline = {
        "fixed_batches_makespan_s": batches["makespan"],
        "ideal_s": ideal,
        "fixed_batches_vs_ideal": batches["makespan"] / ideal,
    }
    return report(
        "provisioning",
        quick=args.quick,
        bars=bars,
        tables=[text],
        figures=figures,
        baseline=baseline,
        ratio=ratio,
    )


if __name__ == "__main__":
    sys.exit(main())
