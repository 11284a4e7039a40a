"""Bench 1 — Slack-edge cost against a fair peer: ack latency and server CPU, commands and interactions.

Processes besides this one: the world (``python -m bench.world``: Proxmox simulator over HTTPS and the
fake Slack, also over HTTPS), Cardinal started the way operators start it (``python -m bot run``, HTTP
mode, INFO JSON logging, SQLite), and the peer (``python -m bench.bolt_peer``): a minimal slack-bolt app
that acks and makes the same Slack follow-ups (``views.open`` for create, ``response_url`` for list and
templates, an ephemeral answer to ``response_url`` for an approve click, two posts for a create-form
submission) and nothing else.

This process is the client. It signs every request as Slack does and times it until its response is
read, over keep-alive connections. Per cluster size (an empty cluster, and one running 3,000 guests) and
per repetition, the rounds run **interleaved** — Cardinal then the peer, the order flipped every
repetition — so both see the same machine load:

- commands: ``create``, ``list``, ``templates``, ``help`` at concurrency 50;
- approve clicks (``block_actions``) at concurrency 10;
- create-form submissions (``view_submission`` of the modal each server opened) at concurrency 5.

Server CPU (user + system of the server process, ``psutil``) is counted from the start of a round until
the round's follow-ups have reached the fake Slack, and divided by the round's requests.

Bars (SPEC §6), as ratios to the peer: ack p99 and CPU per command within 1.5× on both cluster sizes;
create-form submission CPU within 5×; no errors; every follow-up done.

``--self-test`` replaces Cardinal by the peer burning 5 ms of CPU per request (``--burn-ms``): the ratio
bars must then fail. It exits 0 when they do, 1 when a deliberate regression went unnoticed.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import signal
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from bench.bolt_peer import READY_PREFIX as PEER_READY
from bench.common import PY, Bar, Child, free_port, module, parser, percentile, report, spawn, table
from bench.world import (
    APPROVALS,
    APPROVER,
    CHANNEL_DEFAULT,
    SIGNING_SECRET,
    USERS,
    World,
    start_world,
    write_policy,
)

COMMANDS = ("create", "list", "help", "templates")
TEMPLATE = "local:vztmpl/debian-12-standard_12.12-1_amd64.tar.zst"
WARMUP = 50
SETTLE = 0.3
SELF_TEST_BURN_MS = 5.0


# --- Cardinal ---------------------------------------------------------------------------------------


def wait_ready(ops_port: int, child: Child, timeout: float = 60.0) -> float:
    """Poll ``/readyz`` until it answers 200; return when that happened (``time.perf_counter``)."""
    deadline = time.monotonic() + timeout
    url = f"http://127.0.0.1:{ops_port}/readyz"
    while time.monotonic() < deadline:
        if child.proc.poll() is not None:
            raise RuntimeError(f"Cardinal exited with {child.proc.returncode}:\n{child.stderr_tail()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return time.perf_counter()
        except OSError:
            pass
        time.sleep(0.01)
    raise TimeoutError(f"Cardinal was not ready within {timeout} s:\n{child.stderr_tail()}")


def start_cardinal(
    world: World, tmp: Path, *, database: str | None = None, profile: Path | None = None
) -> tuple[Child, int, int, float]:
    """``python -m bot run`` in HTTP mode against the world; returns (child, port, ops port, spawn time).

    With ``profile``, Cardinal runs under ``cProfile`` and writes its statistics there when it stops
    (for finding where its CPU goes; the figures of such a run are not comparable)."""
    port, ops = free_port(), free_port()
    env = world.env(
        database or f"sqlite+aiosqlite:///{tmp / 'cardinal.db'}",
        write_policy(tmp / "policy.toml"),
        INTERNAL_PORT=str(ops),
        LOG_FORMAT="json",
        LOG_LEVEL="INFO",
    )
    t0 = time.perf_counter()
    prefix = [PY, "-c", PROFILED, str(profile)] if profile else [PY]
    child = spawn(
        [*prefix, "-m", "bot", "--env-file", str(tmp / "absent.env"), "run", "--port", str(port)], env=env
    )
    return child, port, ops, t0


# ``python -c PROFILED OUT -m bot ...``: Cardinal under cProfile, timed by the main thread's CPU clock
# (idle waits and the database thread's work are not charged to the frame that waits); collecting only
# between SIGUSR1 and SIGUSR2, which the bench sends around the submission rounds; written to OUT on exit.
PROFILED = """
import cProfile, runpy, signal, sys, time
out = sys.argv[1]
sys.argv = ["bot", *sys.argv[4:]]  # after "OUT -m bot"
prof = cProfile.Profile(time.thread_time)
signal.signal(signal.SIGUSR1, lambda *_: prof.enable())
signal.signal(signal.SIGUSR2, lambda *_: prof.disable())
try:
    runpy.run_module("bot", run_name="__main__", alter_sys=True)
finally:
    prof.disable()
    prof.dump_stats(out)
"""


# --- the peer --------------------------------------------------------------------------------------


def start_peer(world: World, tmp: Path, *, burn_ms: float = 0.0) -> tuple[Child, int]:
    """``python -m bench.bolt_peer`` against the world; returns (child, port) once it listens."""
    port = free_port()
    env = world.env("unused://", tmp / "unused.toml")
    child = spawn(module("bench.bolt_peer", "--port", str(port), "--burn-ms", str(burn_ms)), env=env)
    child.wait_line("^" + PEER_READY, timeout=60)
    return child, port


# --- the client -------------------------------------------------------------------------------------


@dataclass
class Round:
    """One measured round against one server."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    cpu: float = 0.0
    count: int = 0
    missing: int = 0

    def add(self, other: Round) -> None:
        self.latencies += other.latencies
        self.errors += other.errors
        self.cpu += other.cpu
        self.count += other.count
        self.missing += other.missing

    @property
    def cpu_ms(self) -> float:
        return self.cpu / self.count * 1000 if self.count else math.nan

    def pct(self, p: float) -> float:
        return percentile([x * 1000 for x in self.latencies], p)


async def send(
    url: str, bodies: list[tuple[bytes, str]], concurrency: int, ssl_ctx: Any = None
) -> tuple[list[float], int]:
    """POST the signed bodies at ``concurrency``; return (latencies s, errors)."""
    import aiohttp

    from tests.fakes.signing import signed_request_headers

    latencies: list[float] = []
    errors = 0
    it = iter(bodies)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def worker() -> None:
            nonlocal errors
            for body, ctype in it:
                headers = signed_request_headers(body, SIGNING_SECRET)
                headers["Content-Type"] = ctype
                t0 = time.perf_counter()
                try:
                    async with session.post(url, data=body, headers=headers) as resp:
                        await resp.read()
                        ok = resp.status == 200
                except (aiohttp.ClientError, TimeoutError):
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - t0)
                errors += 0 if ok else 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors


FORM = "application/x-www-form-urlencoded"


def command_bodies(n: int, tag: str, hooks: str) -> list[tuple[bytes, str]]:
    from tests.fakes.signing import form_body, slash_command

    out = []
    for i in range(n):
        fields = slash_command(
            COMMANDS[i % len(COMMANDS)],
            user=USERS[i % 2],
            channel=CHANNEL_DEFAULT,
            trigger_id=f"{tag}-{i}",
            response_url=f"{hooks}/{tag}-{i}",
        )
        out.append((form_body(fields), FORM))
    return out


def click_bodies(n: int, tag: str, hooks: str) -> list[tuple[bytes, str]]:
    from cardinal_sim.slack.payloads import block_action, interactive_body

    out = []
    for i in range(n):
        payload = block_action(
            "approval_approve",
            str(uuid.uuid4()),  # an approval that no longer exists: look-up, refusal, ephemeral answer
            user=APPROVER,
            channel=APPROVALS,
            trigger_id=f"{tag}-{i}",
            response_url=f"{hooks}/{tag}-{i}",
        )
        out.append((interactive_body(payload), FORM))
    return out


def submission_bodies(views: list[dict[str, Any]], tag: str) -> list[tuple[bytes, str]]:
    from cardinal_sim.slack.payloads import interactive_body, number, plain, selected, view_submission

    out = []
    for i, view in enumerate(views):
        values: dict[str, Any] = {
            "hostname": {"value": plain(f"{tag}-{i}")},
            "count": {"value": number("1")},
            "template": {"value": selected(TEMPLATE)},
            "preset": {"value": selected("medium")},  # not auto-approved: thread and approval card
            "net_mode": {"value": selected("dhcp", "radio_buttons")},
            "bridge": {"value": selected("vmbr0")},
            "lifetime": {"value": selected("7d")},
            "node": {"value": selected("auto")},
            "purpose": {"value": plain("benchmark")},
        }
        payload = view_submission("lxc_create", values, user=USERS[0], view=view)
        out.append((interactive_body(payload), FORM))
    return out


def _calls(world: World) -> Counter[str]:
    stats = world.stats()
    calls: Counter[str] = Counter(stats["calls"])
    calls["response_url"] = int(stats["hooks"])
    return calls


def _wait_followups(world: World, before: Counter[str], expected: dict[str, int], timeout: float) -> int:
    """Wait until the fake Slack saw ``expected`` more calls than ``before``; return how many are missing."""
    deadline = time.monotonic() + timeout
    missing = sum(expected.values())
    while time.monotonic() < deadline:
        now = _calls(world)
        missing = sum(max(0, n - (now[k] - before[k])) for k, n in expected.items())
        if missing == 0:
            break
        time.sleep(0.05)
    return missing


def run_round(
    world: World,
    proc: psutil.Process,
    url: str,
    bodies: list[tuple[bytes, str]],
    concurrency: int,
    expected: dict[str, int],
) -> Round:
    """Send one round and wait for its follow-ups; CPU from the first request to the last follow-up."""
    before = _calls(world)
    cpu0 = _cpu(proc)
    lat, errors = asyncio.run(send(url, bodies, concurrency))
    missing = _wait_followups(world, before, expected, timeout=30.0)
    time.sleep(SETTLE)  # work after the last follow-up (Home refreshes, bookkeeping) belongs to the round
    return Round(lat, errors, _cpu(proc) - cpu0, len(bodies), missing)


def open_views(world: World, url: str, n: int, tag: str, hooks: str) -> list[dict[str, Any]]:
    """``/lxc create`` ``n`` times, one at a time, keeping each modal the server opened (not timed)."""
    views: list[dict[str, Any]] = []
    for i in range(n):
        before = _calls(world)
        body = command_bodies(1, f"{tag}-{i}", hooks)
        asyncio.run(send(url, body, 1))
        _wait_followups(world, before, {"views.open": 1}, timeout=30.0)
        view = world.view("lxc_create")
        if view is None:
            raise RuntimeError("no create modal was opened")
        views.append(view)
    return views


def _ratio(ours: float, peer: float) -> float:
    """``ours / peer``; when the peer's figure is 0 (a round too short for the 10 ms CPU clock), any cost
    of ours is an unbounded ratio (the bar fails: run more requests), none is 1."""
    if peer > 0:
        return ours / peer
    return math.inf if ours > 0 else 1.0


def _cpu(proc: psutil.Process | None) -> float:
    if proc is None:
        return 0.0
    t = proc.cpu_times()
    return float(t.user + t.system)


@dataclass
class Server:
    name: str
    child: Child
    url: str
    proc: psutil.Process
    rounds: dict[str, Round] = field(default_factory=dict)


def measure_cluster(guests: int, args: argparse.Namespace, tmp: Path) -> dict[str, Server]:
    """Start a world with ``guests`` busy containers, Cardinal and the peer; run the interleaved rounds."""
    world = start_world(guests=guests)
    servers: dict[str, Server] = {}
    try:
        hooks = world.slack_url.removesuffix("/api/") + "/hooks"
        if args.self_test:
            child, port = start_peer(world, tmp, burn_ms=SELF_TEST_BURN_MS)
            servers["cardinal"] = Server(
                "peer burning CPU", child, f"http://127.0.0.1:{port}/slack/events", psutil.Process(child.pid)
            )
        else:
            profile = Path(f"{args.profile}.g{guests}") if args.profile else None
            child, port, ops, _ = start_cardinal(world, tmp / f"g{guests}", profile=profile)
            servers["cardinal"] = Server(
                "Cardinal", child, f"http://127.0.0.1:{port}/slack/events", psutil.Process(child.pid)
            )
            wait_ready(ops, child)
        child, port = start_peer(world, tmp)
        servers["peer"] = Server(
            "Bolt peer", child, f"http://127.0.0.1:{port}/slack/events", psutil.Process(child.pid)
        )
        for key, srv in servers.items():  # warm-up, not counted
            asyncio.run(
                send(srv.url, command_bodies(WARMUP, f"{key}-g{guests}-warm", hooks), args.concurrency)
            )
        time.sleep(1.0)
        n_create = sum(1 for i in range(args.requests) if COMMANDS[i % len(COMMANDS)] == "create")
        n_answer = sum(
            1 for i in range(args.requests) if COMMANDS[i % len(COMMANDS)] in ("list", "templates")
        )
        for rep in range(args.reps):
            order = list(servers.items()) if rep % 2 == 0 else list(reversed(servers.items()))
            for key, srv in order:
                tag = f"{key}-g{guests}-r{rep}"
                rounds = {
                    "commands": run_round(
                        world,
                        srv.proc,
                        srv.url,
                        command_bodies(args.requests, tag, hooks),
                        args.concurrency,
                        {"views.open": n_create, "response_url": n_answer},
                    ),
                    "clicks": run_round(
                        world,
                        srv.proc,
                        srv.url,
                        click_bodies(args.clicks, f"{tag}-c", hooks),
                        10,
                        # A click is answered through its response_url (ephemeral), as Slack suggests
                        # for interactions; not by chat.postEphemeral.
                        {"response_url": args.clicks},
                    ),
                }
                views = open_views(world, srv.url, args.submissions, f"{tag}-v", hooks)
                profiling = args.profile is not None and key == "cardinal"
                if profiling:
                    srv.proc.send_signal(signal.SIGUSR1)
                rounds["submissions"] = run_round(
                    world,
                    srv.proc,
                    srv.url,
                    submission_bodies(views, f"{tag}-s"),
                    5,
                    {"chat.postMessage": 2 * args.submissions},
                )
                if profiling:
                    srv.proc.send_signal(signal.SIGUSR2)
                for kind, r in rounds.items():
                    srv.rounds.setdefault(kind, Round()).add(r)
    finally:
        for srv in servers.values():
            srv.child.stop()
        world.stop()
    return servers


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__ or "")
    p.add_argument("--requests", type=int, default=None, help="commands per round (default 500, quick 200)")
    p.add_argument("--clicks", type=int, default=None, help="approve clicks per round (default 100)")
    p.add_argument("--submissions", type=int, default=None, help="form submissions per round (default 20)")
    p.add_argument("--reps", type=int, default=None, help="interleaved repetitions (default 3, quick 2)")
    p.add_argument("--concurrency", type=int, default=50)
    p.add_argument("--guests", default="0,3000", help="cluster sizes (busy guests), comma-separated")
    p.add_argument(
        "--self-test", action="store_true", help="measure a deliberately slow peer: bars must fail"
    )
    p.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="run Cardinal under cProfile, statistics to PROFILE.g<guests> (figures then not comparable)",
    )
    args = p.parse_args(argv)
    args.requests = args.requests or (200 if args.quick else 500)
    args.clicks = args.clicks or (40 if args.quick else 100)
    args.submissions = args.submissions or (8 if args.quick else 20)
    args.reps = args.reps or (2 if args.quick else 3)
    sizes = [int(x) for x in args.guests.split(",") if x]
    results: dict[int, dict[str, Server]] = {}
    with tempfile.TemporaryDirectory(prefix="cardinal-bench-") as tmp:
        for guests in sizes:
            (Path(tmp) / f"g{guests}").mkdir()
            results[guests] = measure_cluster(guests, args, Path(tmp))
    load = os.getloadavg()
    rows: list[list[Any]] = []
    bars: list[Bar] = []
    figures: dict[str, Any] = {"loadavg": [round(x, 2) for x in load], "reps": args.reps}
    baseline: dict[str, Any] = {}
    for guests, servers in results.items():
        ours, peer = servers["cardinal"], servers["peer"]
        for kind in ("commands", "clicks", "submissions"):
            for srv in (ours, peer):
                r = srv.rounds[kind]
                rows.append(
                    [
                        f"{guests:,} guests",
                        kind,
                        srv.name,
                        r.count,
                        r.pct(50),
                        r.pct(99),
                        max(r.latencies) * 1000 if r.latencies else math.nan,
                        r.cpu_ms,
                        r.errors,
                        r.missing,
                    ]
                )
            a, b = ours.rounds[kind], peer.rounds[kind]
            figures[f"g{guests}_{kind}"] = {"p50_ms": a.pct(50), "p99_ms": a.pct(99), "cpu_ms": a.cpu_ms}
            baseline[f"g{guests}_{kind}"] = {"p50_ms": b.pct(50), "p99_ms": b.pct(99), "cpu_ms": b.cpu_ms}
        c, pc = ours.rounds["commands"], peer.rounds["commands"]
        s, ps = ours.rounds["submissions"], peer.rounds["submissions"]
        k, pk = ours.rounds["clicks"], peer.rounds["clicks"]
        bars += [
            Bar(f"{guests:,} guests: command ack p99 / peer's", _ratio(c.pct(99), pc.pct(99)), 1.5, "x"),
            Bar(f"{guests:,} guests: server CPU per command / peer's", _ratio(c.cpu_ms, pc.cpu_ms), 1.5, "x"),
            Bar(f"{guests:,} guests: click ack p99 / peer's", _ratio(k.pct(99), pk.pct(99)), 1.5, "x"),
            Bar(f"{guests:,} guests: submission CPU / peer's", _ratio(s.cpu_ms, ps.cpu_ms), 5.0, "x"),
            Bar(f"{guests:,} guests: errors", c.errors + k.errors + s.errors, 0),
            Bar(f"{guests:,} guests: follow-ups not done", c.missing + k.missing + s.missing, 0),
        ]
    text = table(
        f"Slack edge vs a minimal Bolt peer: {args.reps} interleaved repetitions per cluster size; per round "
        f"{args.requests} commands (c={args.concurrency}), {args.clicks} approve clicks (c=10), "
        f"{args.submissions} create-form submissions (c=5); fake Slack over HTTPS. "
        f"Load average {', '.join(f'{x:.2f}' for x in load)} on {os.cpu_count()} CPUs.",
        [
            "cluster",
            "round",
            "server",
            "requests",
            "p50 ms",
            "p99 ms",
            "max ms",
            "CPU ms/req",
            "errors",
            "missing",
        ],
        rows,
    )
    code = report(
        "ack_latency",
        quick=args.quick,
        bars=bars,
        tables=[text],
        figures=figures,
        baseline=baseline,
        ratio=None,
        command=None,
    )
    if args.self_test:
        ratio_failed = [b.name for b in bars if b.unit == "x" and not b.passed]
        print(
            f"SELF-TEST: {len(ratio_failed)} ratio bar(s) failed for a peer burning "
            f"{SELF_TEST_BURN_MS} ms per request: "
            + (
                "the bars can fail (expected)."
                if ratio_failed
                else "NO bar failed - the benchmark cannot see a regression."
            )
        )
        return 0 if ratio_failed else 1
    return code


if __name__ == "__main__":
    sys.exit(main())
