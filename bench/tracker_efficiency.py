"""Bench 2 — tracker efficiency: Proxmox requests and ledger writes per sweep, the delay from a task's
end to its final message, and whether a sweep keeps within its interval.

N day-2 tasks (``vzstart``, durations drawn from a seeded spread, every 50th failing) plus one task that
runs for an hour are started on a 3-node simulator (in-process, served over HTTP, clock moved by the
bench). Cardinal's real ``Tracker`` (SQLite ledger by default, ``--db postgres`` for PostgreSQL at
``CARDINAL_TEST_POSTGRES_URL``; outbox, product defaults: sweep interval, backoff, batch size) follows
them. Runs with 1,000 and with 10,000 pending tasks (``--quick``: 200 and 2,000).

**Time is wall-clock consistent.** After each sweep the simulated clock moves by the sweep interval, or by
the sweep's real duration when the sweep took longer — as under the real scheduler, where an overrunning
sweep delays the next one. The delay of a task = the simulated time of the sweep that posted its final
message − the task's end; "incl. work" adds the real time into that sweep.

**A deadline ends the run**: three sweep intervals after the longest task (the hour-long one) ends.
Tasks not reported by then are counted as missing — the run no longer waits until everything reported.

**Ledger writes** are the ``tracked_task`` rows changed by INSERT/UPDATE/DELETE statements during a sweep
(counted on the database engine). **The control run** follows the same tasks without the hour-long one,
to show what that task adds per sweep.

The baseline (1,000-task run only: at 10,000 it would need ~10,000 requests per sweep) follows the same
tasks on an identical simulator with one ``GET …/tasks/{upid}/status`` per pending task per sweep.

Bars (SPEC §6), per size: requests per sweep beyond (nodes with pending tasks + log reads of failed
tasks) = 0 (the long task included); every task reported within one sweep interval; every task
reported by the deadline; no sweep overruns its interval; no ledger write in a sweep where no task
finished, at most 3 row writes per finished task (claim, finish, delivered); list entries per sweep while
the others run, with the hour-long task / without it ≤ 1.05; list entries per sweep while only the
hour-long task runs, from a minute after the others ended, ≤ 40 (one page: the task, what ended since, a
margin — not the hour's history; the first sweeps after the others ended still size their page from the
busy sweep before).

``--self-test`` runs the tracker as it was before running tasks were watched: every running row is
claimed and written each time it is due (``claim_due`` without ``skip_watched``); the write bars must
fail; it exits 0 when they do.
"""

from __future__ import annotations

import asyncio
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import Bar, parser, percentile, report, table
from bench.ledger_tools import DbTarget, WriteCounter, drop_schema, old_claims, postgres_schema

TOKEN_ID = "cardinal@pve!bench"
TOKEN_SECRET = "6d1c9a0e-2b3f-4e5a-8c7d-9e0f1a2b3c4d"
NODES = ("pve", "pve2", "pve3")
START = datetime(2026, 11, 25, 12, 0, tzinfo=UTC).timestamp()
CHANNEL = "C0BENCH"
THREAD = "1700000000.000100"
SEED = 42
FAIL_EVERY = 50  # every 50th task fails (2 %)
LONG_TASK = 3600.0  # one task runs for an hour: it must cost nothing extra per sweep
WRITES_PER_FINISHED = 3  # claim, finish, delivered
LONG_ONLY_ITEMS = 40
POSTGRES_ENV = "CARDINAL_TEST_POSTGRES_URL"


@dataclass(frozen=True)
class Job:
    node: str
    vmid: int
    duration: float
    fails: bool


def jobs(count: int, seed: int = SEED, *, long: bool = True) -> list[Job]:
    """The workload: ``count`` tasks spread over the nodes, 5–240 s long, every 50th failing, plus (with
    ``long``) the hour-long task."""
    rng = random.Random(seed)
    work = [
        Job(NODES[i % len(NODES)], 1000 + i, rng.uniform(5.0, 240.0), i % FAIL_EVERY == FAIL_EVERY - 1)
        for i in range(count)
    ]
    return [*work, Job(NODES[0], 999, LONG_TASK, False)] if long else work


def deadline(work: list[Job], interval: float) -> float:
    """Seconds after the start by which every task must be reported (see the module docstring)."""
    return max(j.duration for j in work) + 3 * interval


def make_sim() -> Any:
    from cardinal_sim.proxmox import Simulator

    sim = Simulator(nodes=len(NODES), speed=0, start_time=START, seed=SEED)
    sim.add_token(TOKEN_ID, TOKEN_SECRET)
    return sim


def start_jobs(sim: Any, work: list[Job]) -> dict[str, tuple[Job, float]]:
    """Start every job's task on the simulator; return {upid: (job, end time)}."""
    from cardinal_sim.proxmox.state import TaskResult

    def failing(_task: Any) -> TaskResult:
        return TaskResult(lines=["lxc-start: failed to start"], error="startup for container failed")

    out: dict[str, tuple[Job, float]] = {}
    for job in work:
        task = sim.start_task(
            job.node,
            "vzstart",
            str(job.vmid),
            TOKEN_ID,
            duration=job.duration,
            finish=failing if job.fails else None,
        )
        out[task.upid] = (job, task.ends_at)
    return out


async def make_client(sim: Any) -> tuple[Any, Any]:
    from pydantic import SecretStr

    from bot.proxmox import ProxmoxClient
    from cardinal_sim.proxmox import serve

    running = await serve(sim)
    client = ProxmoxClient(running.api_url, token_id=TOKEN_ID, token_secret=SecretStr(TOKEN_SECRET))
    return running, client


@dataclass
class SweepRow:
    at: float
    pending_before: int
    nodes_pending: int
    requests: int
    status_calls: int
    list_calls: int
    log_calls: int
    other_calls: int
    finished: int
    failures: int
    wall: float
    ledger_rows: int = 0
    ledger_statements: int = 0
    listed: int = 0
    cpu: float = 0.0


@dataclass
class Outcome:
    sweeps: list[SweepRow] = field(default_factory=list)
    delays: list[float] = field(default_factory=list)
    sim_delays: list[float] = field(default_factory=list)
    reported: int = 0
    wall: float = 0.0
    missing: int = 0


def _classify(records: list[Any]) -> Counter[str]:
    c: Counter[str] = Counter()
    for r in records:
        if r.path.endswith("/status"):
            c["status"] += 1
        elif r.path.endswith("/log"):
            c["log"] += 1
        elif r.path.endswith("/tasks"):
            c["list"] += 1
        else:
            c["other"] += 1
    return c


def _sweep_row(
    records: list[Any],
    *,
    at: float,
    pending_before: int,
    nodes_pending: int,
    finished: int,
    failures: int,
    wall: float,
) -> SweepRow:
    """One sweep's row: its simulator requests (``records``) counted by kind."""
    kinds = _classify(records)
    return SweepRow(
        at=at,
        pending_before=pending_before,
        nodes_pending=nodes_pending,
        requests=len(records),
        status_calls=kinds["status"],
        list_calls=kinds["list"],
        log_calls=kinds["log"],
        other_calls=kinds["other"],
        finished=finished,
        failures=failures,
        wall=wall,
    )


class _Timer:
    """The simulated time of the current sweep plus the real time it has been running."""

    def __init__(self) -> None:
        self.sim_at = 0.0
        self.real0 = time.perf_counter()

    def start(self, sim_at: float) -> None:
        self.sim_at, self.real0 = sim_at, time.perf_counter()

    def now(self) -> tuple[float, float]:
        return self.sim_at, time.perf_counter() - self.real0


async def run_cardinal(work: list[Job], interval: float, target: DbTarget) -> Outcome:
    """Cardinal's tracker on its own simulator; returns per-sweep figures and per-task delays."""
    from bot.db import open_database
    from bot.events import Event
    from bot.notify import RecordingNotifier
    from bot.outbox import Outbox
    from bot.tracker import Tracker

    sim = make_sim()
    running, px = await make_client(sim)
    db = await open_database(target.url, schema=target.schema)
    writes = WriteCounter(db.engine)
    timer = _Timer()
    ends: dict[int, float] = {}
    out = Outcome()

    class TimedNotifier(RecordingNotifier):
        async def post(self, *, key: str, channel: str, thread_ts: str | None, event: Event) -> str:
            at, real = timer.now()
            vmid = getattr(event, "vmid", None)
            if vmid in ends:
                out.sim_delays.append(at - ends[vmid])
                out.delays.append(at - ends[vmid] + real)
            return await super().post(key=key, channel=channel, thread_ts=thread_ts, event=event)

    def clock() -> datetime:
        return datetime.fromtimestamp(sim.now(), UTC)

    notifier = TimedNotifier()
    tracker = Tracker(
        db,
        px,
        Outbox(db, notifier, clock),
        owner="bench",
        clock=clock,
        sweep_interval=interval,
        seed=1,
        # Day-2 kinds time out after 10 minutes by default; the hour-long task must be followed to its end.
        deadlines={"start": timedelta(hours=2)},
    )
    started = start_jobs(sim, work)
    for upid, (job, end) in started.items():
        ends[job.vmid] = end
        await tracker.track("start", upid, vmid=job.vmid, actor="U0BENCH", channel=CHANNEL, thread_ts=THREAD)
    pending = {job.vmid: job for job, _ in started.values()}
    t_all = time.perf_counter()
    until = START + deadline(work, interval)
    try:
        while pending and sim.now() <= until:
            before = len(sim.request_log)
            rows0, statements0 = writes.rows, writes.statements
            nodes_pending = len({j.node for j in pending.values()})
            count_before = len(pending)
            timer.start(sim.now())
            cpu0 = time.process_time()
            report_ = await tracker.sweep()
            wall = time.perf_counter() - timer.real0
            cpu = time.process_time() - cpu0
            done = [p for p in notifier.posts if getattr(p.event, "vmid", None) in pending]
            for p in done:
                pending.pop(int(getattr(p.event, "vmid", 0)), None)
            row = _sweep_row(
                sim.request_log[before:],
                at=sim.now() - START,
                pending_before=count_before,
                nodes_pending=nodes_pending,
                finished=report_.finished,
                failures=sum(1 for p in done if type(p.event).__name__ == "TaskFailed"),
                wall=wall,
            )
            row.ledger_rows, row.ledger_statements = writes.rows - rows0, writes.statements - statements0
            row.listed, row.cpu = report_.listed, cpu
            out.sweeps.append(row)
            sim.advance(max(interval, wall))  # an overrunning sweep delays the next one
        out.wall = time.perf_counter() - t_all
        out.reported = len(notifier.posts)
        out.missing = len(pending)
    finally:
        await tracker.shutdown(grace=5)
        await px.close()
        await running.close()
        await db.dispose()
    return out


async def run_baseline(work: list[Job], interval: float, parallel: int = 10) -> Outcome:
    """One ``task_status`` per pending task per sweep, on an identical simulator."""
    from bot.proxmox import Upid

    sim = make_sim()
    running, px = await make_client(sim)
    started = start_jobs(sim, work)
    pending = {upid: job for upid, (job, _end) in started.items()}
    ends = {upid: end for upid, (_job, end) in started.items()}
    limit = asyncio.Semaphore(parallel)
    out = Outcome()
    t_all = time.perf_counter()

    async def status(upid: str) -> tuple[str, bool]:
        async with limit:
            st = await px.task_status(Upid.parse(upid))
        return upid, st.status == "stopped"

    until = START + deadline(work, interval)
    try:
        while pending and sim.now() <= until:
            before = len(sim.request_log)
            nodes_pending = len({j.node for j in pending.values()})
            count_before = len(pending)
            sim_at, real0 = sim.now(), time.perf_counter()
            answers = await asyncio.gather(*(status(u) for u in list(pending)))
            finished = [u for u, stopped in answers if stopped]
            real = time.perf_counter() - real0
            for upid in finished:
                out.sim_delays.append(sim_at - ends[upid])
                out.delays.append(sim_at - ends[upid] + real)
                pending.pop(upid)
            out.sweeps.append(
                _sweep_row(
                    sim.request_log[before:],
                    at=sim_at - START,
                    pending_before=count_before,
                    nodes_pending=nodes_pending,
                    finished=len(finished),
                    failures=0,
                    wall=real,
                )
            )
            sim.advance(max(interval, real))
        out.wall = time.perf_counter() - t_all
        out.reported = len(out.delays)
        out.missing = len(pending)
    finally:
        await px.close()
        await running.close()
    return out


@dataclass
class SizeResult:
    ours: Outcome
    control: Outcome | None
    base: Outcome | None


async def _run_on(db: str, work: list[Job], interval: float) -> Outcome:
    import os

    if db == "postgres":
        target = await postgres_schema(os.environ[POSTGRES_ENV])
        try:
            return await run_cardinal(work, interval, target)
        finally:
            await drop_schema(target)
    with tempfile.TemporaryDirectory(prefix="cardinal-bench-") as tmp:
        return await run_cardinal(work, interval, DbTarget(f"sqlite+aiosqlite:///{Path(tmp) / 'tracker.db'}"))


async def amain(
    sizes: list[int], interval: float, *, db: str, control: bool, self_test: bool
) -> dict[int, SizeResult]:
    out: dict[int, SizeResult] = {}
    undo = old_claims() if self_test else None
    try:
        for count in sizes:
            ours = await _run_on(db, jobs(count), interval)
            other = await _run_on(db, jobs(count, long=False), interval) if control else None
            base = await run_baseline(jobs(count), interval) if count <= 1000 and not self_test else None
            out[count] = SizeResult(ours, other, base)
    finally:
        if undo is not None:
            undo()
    return out


def _summary(label: str, o: Outcome, interval: float) -> list[Any]:
    busy = [s for s in o.sweeps if s.pending_before]
    reqs = [s.requests for s in busy]
    return [
        label,
        len(busy),
        max(reqs),
        sum(reqs) / len(reqs),
        sum(reqs),
        max(s.requests - s.nodes_pending - s.log_calls for s in busy),
        percentile(o.sim_delays, 50),
        percentile(o.sim_delays, 100),
        percentile(o.delays, 100),
        max(s.wall for s in busy),
        o.wall,
    ]


def _excess(s: SweepRow) -> int:
    return s.requests - s.nodes_pending - s.log_calls


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


_BUCKETS = ((0, 0), (1, 10), (11, 50), (51, 150), (151, 10**9))


def _writes_table(count: int, sweeps: list[SweepRow]) -> str:
    """Ledger rows written per sweep against the tasks that finished in it."""
    rows: list[list[Any]] = []
    for lo, hi in _BUCKETS:
        group = [s for s in sweeps if lo <= s.finished <= hi]
        if not group:
            continue
        label = f"{lo}" if lo == hi else (f"{lo}-{hi}" if hi < 10**9 else f">= {lo}")
        finished = sum(s.finished for s in group)
        rows.append(
            [
                label,
                len(group),
                finished,
                _mean([float(s.ledger_rows) for s in group]),
                max(s.ledger_rows for s in group),
                sum(s.ledger_rows for s in group) / finished if finished else 0.0,
                _mean([float(s.listed) for s in group]),
                _mean([s.cpu * 1000 for s in group]),
            ]
        )
    head = [
        "tasks finished in sweep",
        "sweeps",
        "finished",
        "mean rows written",
        "max rows written",
        "rows per finished",
        "mean list entries",
        "mean CPU ms",
    ]
    return table(f"Ledger writes per sweep vs tasks finished in it ({count:,} tasks)", head, rows)


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__ or "")
    p.add_argument("--tasks", default=None, help="pending-task counts, comma-separated (default 1000,10000)")
    p.add_argument("--interval", type=float, default=None, help="sweep interval in s (default: settings)")
    p.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite", help="where the ledger lives")
    p.add_argument("--no-control", action="store_true", help="skip the run without the hour-long task")
    p.add_argument(
        "--self-test", action="store_true", help="the old claims (rows written each poll): must fail"
    )
    args = p.parse_args(argv)
    import os

    from bot.logs import configure_logging
    from bot.settings import Settings

    if args.db == "postgres" and not os.environ.get(POSTGRES_ENV):
        print(f"SKIPPED: {POSTGRES_ENV} is unset, so the PostgreSQL variant cannot run.")
        return 0
    configure_logging("ERROR", "console")
    sizes = [int(x) for x in (args.tasks or ("200,2000" if args.quick else "1000,10000")).split(",")]
    interval = args.interval or float(Settings.model_fields["sweep_interval"].default)
    control = not args.no_control and not args.self_test
    results = asyncio.run(amain(sizes, interval, db=args.db, control=control, self_test=args.self_test))

    head = [
        "approach",
        "sweeps",
        "max req/sweep",
        "mean req/sweep",
        "total req",
        "max excess",
        "delay p50 s",
        "delay max s",
        "max incl. work s",
        "max sweep wall s",
        "run wall s",
    ]
    tables: list[str] = []
    bars: list[Bar] = []
    figures: dict[str, Any] = {
        "interval_s": interval,
        "nodes": len(NODES),
        "db": args.db,
        "loadavg": list(os.getloadavg()),
    }
    baseline: dict[str, Any] = {}
    for count, res in results.items():
        ours, base, other = res.ours, res.base, res.control
        busy = [s for s in ours.sweeps if s.pending_before]
        first = busy[0]
        worst = max(busy, key=_excess)
        rows = [_summary(f"Cardinal ({args.db}), {count:,} + 1 long", ours, interval)]
        if other is not None:
            rows.append(_summary(f"Cardinal ({args.db}), {count:,}, no long task", other, interval))
        if base is not None:
            rows.append(_summary(f"one status call per task, {count:,} + 1 long", base, interval))
        long_only = [s for s in busy if s.pending_before == 1]
        others_running = [s for s in busy if s.pending_before > 1]
        idle_writes = max((s.ledger_rows for s in busy if s.finished == 0), default=0)
        per_finished = max((s.ledger_rows / s.finished for s in busy if s.finished), default=0.0)
        # The first sweeps after the others ended still size their page from the busy sweep before
        # (running tasks and ends seen then); the bar is on the steady state, from a minute later on.
        settled = [s for s in long_only if long_only and s.at >= long_only[0].at + 60]
        listed_long_only = max((s.listed for s in settled), default=0)
        last_ten = [s for s in long_only if s.at >= long_only[-1].at - 600] if long_only else []
        text = table(
            f"Tracker: {count:,} tasks of 5-240 s + one of {LONG_TASK:g} s on {len(NODES)} nodes, "
            f"ledger on {args.db}, sweep every {interval:g} s (clock moves by max(interval, sweep wall)), "
            f"every {FAIL_EVERY}th task fails",
            head,
            rows,
        )
        text += (
            f"\nFirst sweep: {first.pending_before} pending on {first.nodes_pending} nodes → "
            f"{first.requests} requests ({first.list_calls} task lists, {first.status_calls} status), "
            f"{first.ledger_rows} ledger rows written, {first.listed} list entries."
            f" Worst sweep at t={worst.at:g} s: {worst.list_calls} lists, {worst.status_calls} status, "
            f"{worst.log_calls} logs, {worst.other_calls} other."
            f"\nWhile only the long task ran: {len(long_only)} sweeps, max "
            f"{max((s.requests for s in long_only), default=0)} request(s), max "
            f"{max((s.listed for s in long_only), default=0)} list entries (from a minute after the "
            f"others ended: max {listed_long_only}; in its last 10 minutes: max "
            f"{max((s.listed for s in last_ten), default=0)}), max "
            f"{max((s.ledger_rows for s in long_only), default=0)} ledger rows (its own end) and mean "
            f"{_mean([s.cpu * 1000 for s in long_only]):.1f} ms CPU per sweep."
            f"\nReported by the deadline ({deadline(jobs(count), interval):g} s): {ours.reported}/{count + 1}"
            + (f" (baseline {base.reported}/{count + 1})" if base is not None else "")
            + f". Load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}."
        )
        tables.append(text)
        tables.append(_writes_table(count, busy))
        bars += [
            Bar(
                f"{count:,} tasks: requests per sweep beyond nodes + failures (max)", _excess(worst), 0, "req"
            ),
            Bar(
                f"{count:,} tasks: delay from task end to final message (max)",
                percentile(ours.sim_delays, 100),
                interval,
                "s",
            ),
            Bar(f"{count:,} tasks: not reported by the deadline", ours.missing, 0, "tasks"),
            Bar(f"{count:,} tasks: slowest sweep (wall)", max(s.wall for s in busy), interval, "s"),
            Bar(
                f"{count:,} tasks: ledger rows written in a sweep where no task finished (max)",
                idle_writes,
                0,
                "rows",
            ),
            Bar(
                f"{count:,} tasks: ledger rows written per task finished in the sweep (max)",
                per_finished,
                WRITES_PER_FINISHED,
                "rows",
            ),
            Bar(
                f"{count:,} tasks: list entries per sweep while only the hour-long task runs, from a minute"
                " after the others ended (max)",
                listed_long_only,
                LONG_ONLY_ITEMS,
                "entries",
            ),
        ]
        size_figures: dict[str, Any] = {
            "sweeps": len(busy),
            "requests_first_sweep": first.requests,
            "requests_per_sweep_max": max(s.requests for s in busy),
            "requests_total": sum(s.requests for s in busy),
            "excess_max": _excess(worst),
            "delay_p50_s": percentile(ours.sim_delays, 50),
            "delay_p99_s": percentile(ours.sim_delays, 99),
            "delay_max_s": percentile(ours.sim_delays, 100),
            "delay_incl_work_max_s": percentile(ours.delays, 100),
            "sweep_wall_p99_s": percentile([s.wall for s in busy], 99),
            "sweep_wall_max_s": max(s.wall for s in busy),
            "missing": ours.missing,
            "ledger_rows_total": sum(s.ledger_rows for s in busy),
            "ledger_rows_idle_sweep_max": idle_writes,
            "ledger_rows_per_finished_max": per_finished,
            "finished_per_sweep_max": max(s.finished for s in busy),
            "list_entries_first_sweep": first.listed,
            "list_entries_per_sweep_max": max(s.listed for s in busy),
            "long_only_sweeps": len(long_only),
            "long_only_list_entries_max": max((s.listed for s in long_only), default=0),
            "long_only_settled_list_entries_max": listed_long_only,
            "long_only_last_10_min_list_entries_max": max((s.listed for s in last_ten), default=0),
            "long_only_cpu_ms_mean": _mean([s.cpu * 1000 for s in long_only]),
        }
        if other is not None:
            other_busy = [s for s in other.sweeps if s.pending_before]
            with_long = _mean([float(s.listed) for s in others_running])
            without = _mean([float(s.listed) for s in other_busy])
            ratio = with_long / without if without else float("nan")
            bars.append(
                Bar(
                    f"{count:,} tasks: list entries per sweep while the others run, with the hour-long task"
                    " / without (mean)",
                    ratio,
                    1.05,
                    "x",
                )
            )
            size_figures["control"] = {
                "sweeps": len(other_busy),
                "list_entries_mean": without,
                "cpu_ms_mean": _mean([s.cpu * 1000 for s in other_busy]),
                "sweep_wall_max_s": max(s.wall for s in other_busy),
                "delay_max_s": percentile(other.sim_delays, 100),
                "missing": other.missing,
            }
            size_figures["with_long_while_others_run"] = {
                "sweeps": len(others_running),
                "list_entries_mean": with_long,
                "cpu_ms_mean": _mean([s.cpu * 1000 for s in others_running]),
            }
            tables.append(
                f"While the {count:,} others run: {with_long:.1f} list entries and "
                f"{size_figures['with_long_while_others_run']['cpu_ms_mean']:.1f} ms CPU per sweep with the "
                f"hour-long task ({len(others_running)} sweeps), {without:.1f} entries and "
                f"{size_figures['control']['cpu_ms_mean']:.1f} ms without it ({len(other_busy)} sweeps)."
            )
        figures[f"n{count}"] = size_figures
        if base is not None:
            base_busy = [s for s in base.sweeps if s.pending_before]
            baseline[f"n{count}"] = {
                "requests_first_sweep": base_busy[0].requests,
                "requests_total": sum(s.requests for s in base_busy),
                "delay_p50_s": percentile(base.sim_delays, 50),
                "delay_max_s": percentile(base.sim_delays, 100),
                "sweep_wall_max_s": max(s.wall for s in base_busy),
            }
    code = report(
        "tracker_efficiency",
        quick=args.quick,
        bars=bars,
        tables=tables,
        figures=figures,
        baseline=baseline,
        ratio=None,
    )
    if args.self_test:
        failed = [b.name for b in bars if not b.passed]
        print(
            f"SELF-TEST: {len(failed)} bar(s) failed with running rows claimed and written each poll: "
            + ("the bars can fail (expected)." if failed else "NO bar failed - a regression went unnoticed.")
        )
        return 0 if failed else 1
    return code


if __name__ == "__main__":
    sys.exit(main())
