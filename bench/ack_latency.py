"""Bench 1 — slash-command ack latency over HTTP mode.

Three processes besides this one: the world (``python -m bench.world``: Proxmox simulator over HTTPS and
the fake Slack Web API), Cardinal itself started the way operators start it (``python -m bot run`` —
the ``cardinal run`` entry point — in HTTP mode, configured through the environment, INFO logging), and
the baseline: a bare aiohttp handler that reads the body and answers 200, on the same machine.

This process is the client: it sends signed ``/lxc`` commands (Slack's v0 signature, fresh timestamp)
at a fixed concurrency over keep-alive connections and times each request until its response is read.
The command mix is ``create`` (ack, then ``views.open`` and a background fill of the modal),
``list`` and ``templates`` (ack, then Proxmox and a ``response_url`` answer in the background) and
``help`` (answered in the ack itself), so the work after each ack competes with the next acks for
Cardinal's CPU. A warm-up round (not counted) comes first.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil

from bench.common import PY, Bar, Child, free_port, module, parser, percentile, report, spawn, table
from bench.world import CHANNEL_DEFAULT, SIGNING_SECRET, USERS, World, start_world, write_policy

COMMANDS = ("create", "list", "help", "templates")
BAR_P99_MS = 150.0
READY_PREFIX = "BARE_READY"


# --- the baseline server ----------------------------------------------------------------------------


async def _bare(port: int) -> None:
    from aiohttp import web

    async def handler(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/slack/events", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print(READY_PREFIX, flush=True)
    await asyncio.Event().wait()


def start_bare() -> tuple[Child, str]:
    port = free_port()
    child = spawn(module("bench.ack_latency", "--bare", str(port)))
    child.wait_line("^" + READY_PREFIX, timeout=30)
    return child, f"http://127.0.0.1:{port}/slack/events"


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


def start_cardinal(world: World, tmp: Path, *, database: str | None = None) -> tuple[Child, int, int, float]:
    """``python -m bot run`` in HTTP mode against the world; returns (child, port, ops port, spawn time)."""
    port, ops = free_port(), free_port()
    env = world.env(
        database or f"sqlite+aiosqlite:///{tmp / 'cardinal.db'}",
        write_policy(tmp / "policy.toml"),
        INTERNAL_PORT=str(ops),
        LOG_FORMAT="json",
        LOG_LEVEL="INFO",
    )
    t0 = time.perf_counter()
    child = spawn(
        [PY, "-m", "bot", "--env-file", str(tmp / "absent.env"), "run", "--port", str(port)], env=env
    )
    return child, port, ops, t0


# --- the client -------------------------------------------------------------------------------------


async def load(
    url: str, hooks: str, *, requests: int, concurrency: int, tag: str, commands: tuple[str, ...] = COMMANDS
) -> tuple[list[float], int, dict[int, int]]:
    """Send ``requests`` signed commands at ``concurrency``; return (latencies s, errors, statuses)."""
    import aiohttp

    from tests.fakes.signing import form_body, signed_request_headers, slash_command

    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors = 0
    counter = iter(range(requests))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal errors
            for i in counter:
                fields = slash_command(
                    commands[i % len(commands)],
                    user=USERS[i % 2],
                    channel=CHANNEL_DEFAULT,
                    trigger_id=f"{tag}-{i}",
                    response_url=f"{hooks}/{tag}-{i}",
                )
                body = form_body(fields)
                headers = signed_request_headers(body, SIGNING_SECRET)
                t0 = time.perf_counter()
                try:
                    async with session.post(url, data=body, headers=headers) as resp:
                        await resp.read()
                        status = resp.status
                except (aiohttp.ClientError, TimeoutError):
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - t0)
                statuses[status] = statuses.get(status, 0) + 1
                if status != 200:
                    errors += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors, statuses


def _row(label: str, lat: list[float], errors: int, wall: float) -> list[Any]:
    ms = [x * 1000 for x in lat]
    return [
        label,
        len(lat) + errors,
        percentile(ms, 50),
        percentile(ms, 90),
        percentile(ms, 99),
        max(ms) if ms else float("nan"),
        errors,
        (len(lat) + errors) / wall,
    ]


def _cpu(proc: psutil.Process | None) -> float:
    if proc is None:
        return 0.0
    t = proc.cpu_times()
    return float(t.user + t.system)


async def _measure(
    url: str,
    hooks: str,
    requests: int,
    concurrency: int,
    warmup: int,
    tag: str,
    proc: psutil.Process | None = None,
) -> Any:
    """Warm up, then the measured round: (latencies, errors, statuses, wall s, server CPU before, during)."""
    await load(url, hooks, requests=warmup, concurrency=concurrency, tag=f"{tag}-warm")
    await asyncio.sleep(1.0)  # let the warm-up's background work finish
    cpu0 = _cpu(proc)
    t0 = time.perf_counter()
    lat, errors, statuses = await load(url, hooks, requests=requests, concurrency=concurrency, tag=tag)
    wall = time.perf_counter() - t0
    return lat, errors, statuses, wall, cpu0, _cpu(proc) - cpu0


def _count(requests: int, warmup: int, names: set[str]) -> int:
    """How many commands of the warm-up and the measured round are one of ``names``."""
    return sum(1 for n in (requests, warmup) for i in range(n) if COMMANDS[i % len(COMMANDS)] in names)


def _follow_up(world: World, expected: dict[str, int], timeout: float = 60.0) -> dict[str, int]:
    """Wait until the work after the acks reached Slack (views.open, response_url answers)."""
    deadline = time.monotonic() + timeout
    got: dict[str, int] = {}
    while time.monotonic() < deadline:
        stats = world.stats()
        got = {
            "views.open": stats["calls"].get("views.open", 0),
            "views.update": stats["calls"].get("views.update", 0),
            "response_url": stats["hooks"],
        }
        if all(got[k] >= v for k, v in expected.items()):
            break
        time.sleep(0.2)
    return got


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__ or "")
    p.add_argument("--bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    p.add_argument("--requests", type=int, default=None, help="measured commands (default 500)")
    p.add_argument("--concurrency", type=int, default=50)
    args = p.parse_args(argv)
    if args.bare:
        asyncio.run(_bare(args.bare))
        return 0
    requests = args.requests or (200 if args.quick else 500)
    warmup = 50
    world = start_world()
    bare, bare_url = start_bare()
    try:
        with tempfile.TemporaryDirectory(prefix="cardinal-bench-") as tmp:
            child, port, ops, _t0 = start_cardinal(world, Path(tmp))
            try:
                wait_ready(ops, child)
                hooks = world.slack_url.removesuffix("/api/") + "/hooks"
                url = f"http://127.0.0.1:{port}/slack/events"
                proc = psutil.Process(child.pid)
                ours = asyncio.run(_measure(url, hooks, requests, args.concurrency, warmup, "cardinal", proc))
                n_create = _count(requests, warmup, {"create"})
                n_answers = _count(requests, warmup, {"list", "templates"})
                follow = _follow_up(world, {"views.open": n_create, "response_url": n_answers})
                cpu_total = _cpu(proc) - ours[4]
            finally:
                child.stop()
        base = asyncio.run(_measure(bare_url, hooks, requests, args.concurrency, warmup, "bare"))
    finally:
        bare.stop()
        world.stop()

    lat, errors, statuses, wall, _cpu0, cpu_acks = ours
    b_lat, b_errors, _b_statuses, b_wall, _, _ = base
    p99 = percentile([x * 1000 for x in lat], 99)
    b_p99 = percentile([x * 1000 for x in b_lat], 99)
    text = table(
        f"Ack latency: {requests} signed /lxc commands at concurrency {args.concurrency} over HTTP "
        f"(mix: {', '.join(COMMANDS)}; {warmup} warm-up commands first)",
        ["server", "requests", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors", "req/s"],
        [
            _row("Cardinal (cardinal run, HTTP mode)", lat, errors, wall),
            _row("bare aiohttp handler (200)", b_lat, b_errors, b_wall),
        ],
    )
    text += (
        f"\nCardinal statuses: {statuses}. Work after the acks reached the fake Slack: "
        f"views.open {follow['views.open']}/{n_create}, views.update {follow['views.update']}, "
        f"response_url answers {follow['response_url']}/{n_answers}."
        f"\nCardinal process CPU: {cpu_acks / requests * 1000:.2f} ms per command while acking, "
        f"{cpu_total / requests * 1000:.2f} ms per command including the work after the acks. "
        f"Load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs."
    )
    bars = [
        Bar("ack p99", p99, BAR_P99_MS, "ms", op="<"),
        Bar("errors", errors, 0, ""),
        Bar(
            "work after the acks not done",
            max(n_create - follow["views.open"], 0) + max(n_answers - follow["response_url"], 0),
            0,
            "",
        ),
    ]
    figures = {
        "requests": requests,
        "concurrency": args.concurrency,
        "p50_ms": percentile([x * 1000 for x in lat], 50),
        "p99_ms": p99,
        "max_ms": max(lat) * 1000 if lat else float("nan"),
        "errors": errors,
        "rps": requests / wall,
        "followup_views_open": follow["views.open"],
        "followup_response_url": follow["response_url"],
        "server_cpu_ms_per_command": cpu_total / requests * 1000,
        "loadavg_1m": os.getloadavg()[0],
    }
    baseline = {
        "p50_ms": percentile([x * 1000 for x in b_lat], 50),
        "p99_ms": b_p99,
        "max_ms": max(b_lat) * 1000 if b_lat else float("nan"),
        "errors": b_errors,
        "rps": requests / b_wall,
    }
    return report(
        "ack_latency",
        quick=args.quick,
        bars=bars,
        tables=[text],
        figures=figures,
        baseline=baseline,
        ratio=p99 / b_p99 if b_p99 else None,
    )


if __name__ == "__main__":
    sys.exit(main())
