"""Bench 4 — Proxmox client cost: Cardinal's async client against proxmoxer, same simulator, same run.

The simulator runs in its own process (``python -m cardinal_sim.proxmox``, the stock sandbox: HTTPS, API
token). Each client runs in a fresh child process of its own and reads container status
(``GET /nodes/{node}/lxc/{vmid}/status/current``) N times at concurrency 20 — Cardinal with 20
coroutines on one pooled session, proxmoxer with a thread pool of 20 sharing one ``ProxmoxAPI``. The
figure that decides is the client process's own CPU time (user + sys, ``getrusage``) per 1,000
requests, so the shared simulator's speed does not decide the ratio. Connections opened are counted with
a wrapper around the aiohttp connector's ``_create_connection`` and urllib3's per-pool ``num_connections``
(neither adds work per request).

proxmoxer is measured twice: as usually set up (requests' default pool of 10 connections per host, so
20 threads keep opening connections) and tuned (a pool of 20, keep-alive for every thread). The bar is
taken against the tuned one — the cheaper, fairer baseline.

Cardinal's client is built as production builds it, with the metrics hook (``on_request=
Metrics().observe_proxmox``) that times and counts every request. Each client is also measured one
request at a time (concurrency 1: no batching of work across concurrent requests to hide behind), and the
bar applies to both figures.

``--self-test`` makes Cardinal's worker burn 0.5 ms of CPU per request (a deliberate regression): the ratio
bars must then fail; it exits 0 when they do.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from typing import Any

from bench.common import (
    Bar,
    Sandbox,
    cpu_seconds,
    module,
    parser,
    report,
    spawn,
    start_sandbox,
    table,
)

RESULT = "CLIENT_RESULT "
CONCURRENCY = 20
TARGETS = (("pve", 100), ("pve", 101))  # the sandbox's two containers
BAR_RATIO = 1 / 3
SELF_TEST_BURN_MS = 0.5


def _measure(fn: Any) -> dict[str, float]:
    user0, sys0 = cpu_seconds()
    t0 = time.perf_counter()
    fn()
    wall = time.perf_counter() - t0
    user1, sys1 = cpu_seconds()
    return {"wall": wall, "user": user1 - user0, "sys": sys1 - sys0}


# --- the workers (each in its own process) --------------------------------------------------------


async def _cardinal_worker(args: argparse.Namespace) -> dict[str, Any]:
    import aiohttp
    from pydantic import SecretStr

    from bot.ops.metrics import Metrics
    from bot.proxmox import ProxmoxClient

    client = ProxmoxClient(
        args.url,
        token_id=args.token,
        token_secret=SecretStr(args.secret),
        fingerprint=args.fingerprint,
        on_request=Metrics().observe_proxmox,  # as in production (handlers.runtime.assemble)
    )
    burn = args.burn_ms / 1000
    opened = 0

    # Count the connections the pool opens by wrapping the connector's private ``_create_connection``
    # (bench-only). An aiohttp ``TraceConfig`` would do it too, but any trace config makes aiohttp build
    # and send its trace events on every request, a cost production (which traces nothing) never pays.
    connector = client._t._session_now().connector
    assert isinstance(connector, aiohttp.TCPConnector)
    create = connector._create_connection

    async def counting_create(*a: Any, **kw: Any) -> Any:
        nonlocal opened
        proto = await create(*a, **kw)
        opened += 1
        return proto

    connector._create_connection = counting_create  # type: ignore[method-assign]

    async def run(n: int) -> None:
        counter = iter(range(n))

        async def worker() -> None:
            for i in counter:
                node, vmid = TARGETS[i % len(TARGETS)]
                await client.container_status(node, vmid)
                if burn:
                    end = time.thread_time() + burn
                    while time.thread_time() < end:
                        pass

        await asyncio.gather(*(worker() for _ in range(args.concurrency)))

    await run(args.warmup)
    warm_conns = opened
    user0, sys0 = cpu_seconds()
    t0 = time.perf_counter()
    await run(args.requests)
    wall = time.perf_counter() - t0
    user1, sys1 = cpu_seconds()
    await client.close()
    return {
        "wall": wall,
        "user": user1 - user0,
        "sys": sys1 - sys0,
        "connections_warmup": warm_conns,
        "connections_measured": opened - warm_conns,
    }


def _proxmoxer_worker(args: argparse.Namespace, *, pool: int | None) -> dict[str, Any]:
    from concurrent.futures import ThreadPoolExecutor

    import requests.adapters
    import urllib3
    from proxmoxer import ProxmoxAPI

    urllib3.disable_warnings()  # verify_ssl=False would warn on every request
    user, token_name = args.token.split("!", 1)
    host, port = args.url.removeprefix("https://").split("/", 1)[0].rsplit(":", 1)
    prox = ProxmoxAPI(
        host,
        port=int(port),
        user=user,
        token_name=token_name,
        token_value=args.secret,
        verify_ssl=False,
        timeout=10,
    )
    session = prox._store["session"]
    if pool is not None:
        session.mount("https://", requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=pool))
    adapter = session.get_adapter("https://")

    def connections() -> int:
        pools = adapter.poolmanager.pools
        return sum(int(pools[key].num_connections) for key in list(pools.keys()))

    def one(i: int) -> None:
        node, vmid = TARGETS[i % len(TARGETS)]
        prox.nodes(node).lxc(vmid).status.current.get()

    with ThreadPoolExecutor(args.concurrency) as pool_ex:
        list(pool_ex.map(one, range(args.warmup)))
        warm_conns = connections()
        measured = _measure(lambda: list(pool_ex.map(one, range(args.requests))))
    return {
        **measured,
        "connections_warmup": warm_conns,
        "connections_measured": connections() - warm_conns,
    }


def worker_main(args: argparse.Namespace) -> int:
    """Run one client (``--worker``) and print its figures as one ``CLIENT_RESULT`` line."""
    if args.worker == "cardinal":
        from bot.cli import run_async  # the event loop `cardinal run` uses

        result = run_async(_cardinal_worker(args))
    elif args.worker == "proxmoxer":
        result = _proxmoxer_worker(args, pool=None)
    else:
        result = _proxmoxer_worker(args, pool=CONCURRENCY)
    print(RESULT + json.dumps(result), flush=True)
    return 0


# --- the orchestrator -------------------------------------------------------------------------------


def _run_client(
    sandbox: Sandbox, name: str, requests: int, warmup: int, *, concurrency: int, burn_ms: float = 0.0
) -> dict[str, Any]:
    child = spawn(
        module(
            "bench.client_cost",
            "--worker",
            name,
            "--concurrency",
            str(concurrency),
            "--burn-ms",
            str(burn_ms),
            "--url",
            sandbox.api_url,
            "--token",
            sandbox.token,
            "--secret",
            sandbox.secret,
            "--fingerprint",
            sandbox.fingerprint,
            "--requests",
            str(requests),
            "--warmup",
            str(warmup),
        )
    )
    try:
        result = child.json_line(RESULT, timeout=600)
    finally:
        child.stop()
    cpu = result["user"] + result["sys"]
    result["cpu"] = cpu
    result["cpu_per_1k"] = cpu / requests * 1000
    result["rps"] = requests / result["wall"]
    result["connections"] = result["connections_warmup"] + result["connections_measured"]
    return result


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__ or "")
    p.add_argument("--worker", choices=["cardinal", "proxmoxer", "proxmoxer-pool20"], help=argparse.SUPPRESS)
    p.add_argument("--url", help=argparse.SUPPRESS)
    p.add_argument("--token", help=argparse.SUPPRESS)
    p.add_argument("--secret", help=argparse.SUPPRESS)
    p.add_argument("--fingerprint", help=argparse.SUPPRESS)
    p.add_argument("--requests", type=int, default=None, help="status reads per client (default 5000)")
    p.add_argument("--warmup", type=int, default=None, help="reads before measuring (default 200)")
    p.add_argument("--concurrency", type=int, default=CONCURRENCY, help=argparse.SUPPRESS)
    p.add_argument("--burn-ms", type=float, default=0.0, help=argparse.SUPPRESS)
    p.add_argument(
        "--self-test", action="store_true", help="a deliberately slow Cardinal worker: bars must fail"
    )
    args = p.parse_args(argv)
    if args.worker:
        return worker_main(args)
    requests = args.requests or (1000 if args.quick else 5000)
    warmup = args.warmup if args.warmup is not None else (100 if args.quick else 200)
    burn = SELF_TEST_BURN_MS if args.self_test else 0.0
    seq_requests = max(200, requests // 5)
    sandbox = start_sandbox()
    try:
        runs = {
            name: _run_client(
                sandbox,
                name,
                requests,
                warmup,
                concurrency=CONCURRENCY,
                burn_ms=burn if name == "cardinal" else 0,
            )
            for name in ("cardinal", "proxmoxer-pool20", "proxmoxer")
        }
        seq = {
            name: _run_client(
                sandbox, name, seq_requests, warmup, concurrency=1, burn_ms=burn if name == "cardinal" else 0
            )
            for name in ("cardinal", "proxmoxer-pool20")
        }
    finally:
        sandbox.stop()
    seq_ratio = seq["cardinal"]["cpu_per_1k"] / seq["proxmoxer-pool20"]["cpu_per_1k"]
    ours, base, default = runs["cardinal"], runs["proxmoxer-pool20"], runs["proxmoxer"]
    ratio = ours["cpu_per_1k"] / base["cpu_per_1k"]
    rows = [
        [
            label,
            r["cpu_per_1k"],
            r["user"] / requests * 1000,
            r["sys"] / requests * 1000,
            r["rps"],
            r["connections_warmup"],
            r["connections_measured"],
        ]
        for label, r in (
            ("Cardinal ProxmoxClient (aiohttp, 20 tasks)", ours),
            ("proxmoxer, pool of 20 (20 threads)", base),
            ("proxmoxer, default pool (20 threads)", default),
        )
    ]
    text = table(
        f"Client cost: {requests:,} status reads at concurrency {CONCURRENCY} "
        f"(after {warmup} warm-up reads); CPU of the client process",
        ["client", "CPU s/1k req", "user s/1k", "sys s/1k", "req/s", "conns (warm-up)", "conns (measured)"],
        rows,
    )
    text += (
        f"\nCardinal / proxmoxer(pool 20) CPU per request: {ratio:.3f}"
        f"   (vs default proxmoxer: {ours['cpu_per_1k'] / default['cpu_per_1k']:.3f})"
        f"\nOne request at a time ({seq_requests:,} reads): "
        f"Cardinal {seq['cardinal']['cpu_per_1k']:.3f} CPU s/1k ({seq['cardinal']['rps']:.0f} req/s), "
        f"proxmoxer {seq['proxmoxer-pool20']['cpu_per_1k']:.3f} CPU s/1k "
        f"({seq['proxmoxer-pool20']['rps']:.0f} req/s): ratio {seq_ratio:.3f}."
        f"\nCardinal's client carries the production metrics hook. Load average "
        f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}."
    )
    bars = [
        Bar("CPU per request vs proxmoxer (pool 20), concurrency 20", ratio, round(BAR_RATIO, 4), "x"),
        Bar("CPU per request vs proxmoxer, one at a time", seq_ratio, round(BAR_RATIO, 4), "x"),
        Bar("connections opened while measured (keep-alive)", ours["connections_measured"], 0, "conns"),
    ]
    figures = {
        "requests": requests,
        "concurrency": CONCURRENCY,
        "cpu_s_per_1k": ours["cpu_per_1k"],
        "rps": ours["rps"],
        "connections": ours["connections"],
        "connections_measured": ours["connections_measured"],
        "sequential_cpu_s_per_1k": seq["cardinal"]["cpu_per_1k"],
        "sequential_ratio": seq_ratio,
    }
    baseline = {
        "proxmoxer_pool20": {
            "cpu_s_per_1k": base["cpu_per_1k"],
            "rps": base["rps"],
            "connections": base["connections"],
        },
        "proxmoxer_default": {
            "cpu_s_per_1k": default["cpu_per_1k"],
            "rps": default["rps"],
            "connections": default["connections"],
        },
        "proxmoxer_pool20_sequential": {"cpu_s_per_1k": seq["proxmoxer-pool20"]["cpu_per_1k"]},
    }
    code = report(
        "client_cost",
        quick=args.quick,
        bars=bars,
        tables=[text],
        figures=figures,
        baseline=baseline,
        ratio=ratio,
    )
    if args.self_test:
        failed = [b.name for b in bars if b.unit == "x" and not b.passed]
        print(
            f"SELF-TEST: {len(failed)} ratio bar(s) failed with {SELF_TEST_BURN_MS} ms burnt per request: "
            + ("the bars can fail (expected)." if failed else "NO bar failed - a regression went unnoticed.")
        )
        return 0 if failed else 1
    return code


if __name__ == "__main__":
    sys.exit(main())
