"""Bench 7 — retention: table sizes stay flat over a simulated week.

A week of a busy installation is written into a SQLite database on simulated time (one step per
simulated 10 minutes): every step adds audit events, finished-and-notified tasks, posted Slack messages,
finished job runs and finished requests with their approvals — plus a few that stay open (a running task,
a request waiting for an approver, an unposted message). Every step then runs the product's retention job
(:class:`bot.db.retention.Retention`, default batch sizes) with a horizon of ``--horizon-days`` (default 2,
so the week shows several horizons; production's default is 30 days).

Bars: the rows in the pruned tables at the end of the week are within 1.1× of their count one horizon + a
day in (flat, not growing); nothing open was pruned. The slowest retention run (wall) is shown.

``--self-test`` runs the same week without the retention job: the flatness bar must fail (exit 0 when it
does).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import Bar, parser, report, table
from bot.containers.stored import RequestSpec

SPEC = RequestSpec(hostname="old", template="local:vztmpl/debian-12.tar.zst", storage="local-lvm")

START = datetime(2026, 11, 1, tzinfo=UTC)
STEP = timedelta(minutes=10)
PER_STEP = 6  # finished requests per step (each with its approval, tasks, messages, audit events)


async def week(days: float, horizon: timedelta, prune: bool, db_dir: Path) -> dict[str, Any]:
    from bot.db import TaskStatus, open_database
    from bot.db.enums import RequestState
    from bot.db.retention import Retention

    db = await open_database(f"sqlite+aiosqlite:///{db_dir / 'retention.db'}")
    now = START

    def clock() -> datetime:
        return now

    retention = Retention(db, horizon, clock)
    sizes: list[tuple[float, dict[str, int]]] = []
    open_ids: list[str] = []
    prune_wall: list[float] = []
    seq = 0
    try:
        steps = int(timedelta(days=days) / STEP)
        for step in range(steps):
            async with db.transaction() as tx:
                for _ in range(PER_STEP):
                    seq += 1
                    req = await tx.requests.create_request(
                        requester="U1", channel="C1", spec=SPEC, now=now, state=RequestState.REQUESTED
                    )
                    await tx.approvals.open_approval(req.id, now=now)
                    await tx.requests.set_state(req.id, RequestState.READY, now=now)
                    task = await tx.ledger.add_task(
                        "start",
                        node="pve",
                        vmid=10000 + seq % 5000,
                        request_id=req.id,
                        upid=f"UPID:pve:{seq:08X}:00000000:00000000:vzstart:{seq}:bench@pve!b:",
                        deadline_at=now + timedelta(hours=1),
                        now=now,
                        lease_owner="bench",
                    )
                    await tx.ledger.finish(task.id, "bench", status=TaskStatus.SUCCEEDED, now=now)
                    await tx.ledger.mark_notified(task.id, now=now)
                    for k in range(2):
                        await tx.outbox.claim_post(f"m:{seq}:{k}", "C1", now=now)
                        await tx.outbox.mark_posted(f"m:{seq}:{k}", f"{seq}.{k}", now=now)
                    for _ in range(3):
                        await tx.audit.append("U1", "request.created", request_id=req.id, now=now)
                    await tx.jobs.try_start_slot(
                        "request.resume", f"{req.id}", "bench", now=now, lease_seconds=60
                    )
                if step % 36 == 0:  # every 6 h something that stays open
                    waiting = await tx.requests.create_request(
                        requester="U2", channel="C1", spec=SPEC, now=now, state=RequestState.PENDING_APPROVAL
                    )
                    await tx.approvals.open_approval(waiting.id, now=now)
                    open_ids.append(waiting.id)
                    await tx.outbox.claim_post(f"intent:{step}", "C1", now=now)
            if prune:
                t0 = time.perf_counter()
                await retention.prune()
                prune_wall.append(time.perf_counter() - t0)
            now += STEP
            if (step + 1) % 6 == 0:  # hourly
                sizes.append(((now - START) / timedelta(days=1), await retention.sizes()))
        async with db.transaction(readonly=True) as tx:
            kept = [await tx.requests.get_request(rid) is not None for rid in open_ids]
            intents = [await tx.outbox.get(f"intent:{i}") is not None for i in range(0, steps, 36)]
    finally:
        await db.dispose()
    return {
        "sizes": sizes,
        "open_kept": sum(kept) + sum(intents),
        "open_total": len(open_ids) * 2,
        "prune_wall_max_s": max(prune_wall, default=0.0),
    }


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__ or "")
    p.add_argument("--days", type=float, default=None, help="simulated days (default 7, quick 4)")
    p.add_argument("--horizon-days", type=float, default=None, help="retention horizon (default 2, quick 1)")
    p.add_argument("--self-test", action="store_true", help="no retention job: the flatness bar must fail")
    args = p.parse_args(argv)
    from bot.logs import configure_logging

    configure_logging("ERROR", "console")
    days = args.days or (4.0 if args.quick else 7.0)
    horizon = timedelta(days=args.horizon_days or (1.0 if args.quick else 2.0))
    with tempfile.TemporaryDirectory(prefix="cardinal-bench-") as tmp:
        out = asyncio.run(week(days, horizon, not args.self_test, Path(tmp)))
    sizes: list[tuple[float, dict[str, int]]] = out["sizes"]
    settle = horizon / timedelta(days=1) + 1
    at_settle = next(s for d, s in sizes if d >= settle)
    end = sizes[-1][1]
    rows = [
        [f"day {d:.1f}", *s.values()] for d, s in sizes if abs(d - round(d)) < 1e-6 or (d, s) == sizes[-1]
    ]
    text = table(
        f"Retention over {days:g} simulated days, horizon {horizon / timedelta(days=1):g} d, "
        f"{PER_STEP} finished requests per 10 min; "
        + ("retention job every step" if not args.self_test else "NO retention job (self-test)")
        + f"; load average {os.getloadavg()[0]:.2f}",
        ["when", *end.keys()],
        rows,
    )
    text += f"\nSlowest retention run: {out['prune_wall_max_s'] * 1000:.0f} ms (wall)."
    total_settle, total_end = sum(at_settle.values()), sum(end.values())
    bars = [
        Bar(
            f"rows at the end / rows at day {settle:g} (flat)",
            total_end / total_settle if total_settle else float("nan"),
            1.1,
            "x",
        ),
        Bar("open things pruned", out["open_total"] - out["open_kept"], 0),
    ]
    code = report(
        "retention",
        quick=args.quick,
        bars=bars,
        tables=[text],
        figures={"rows_end": end, "rows_settled": at_settle, "prune_wall_max_s": out["prune_wall_max_s"]},
        baseline={},
        ratio=total_end / total_settle if total_settle else None,
    )
    if args.self_test:
        grew = not bars[0].passed
        print(
            "SELF-TEST: "
            + ("the flatness bar fails without retention (expected)." if grew else "NO failure.")
        )
        return 0 if grew else 1
    return code


if __name__ == "__main__":
    sys.exit(main())
