"""Bench 6 — interactive cost flat in cluster size: Cardinal's CPU per operation at 10,000 guests vs 100.

For each cluster size a world (``bench.world``) is started whose simulator runs that many guests besides
Cardinal's (VMIDs from 20000, outside Cardinal's range — other teams' machines on the same cluster), and
Cardinal (``python -m bot run``, HTTP mode, SQLite). Then, one at a time so that the server's CPU can be
attributed to each operation, ``--ops`` times each:

- **create-form validation**: a ``view_submission`` of the create modal Cardinal opened, with a hostname
  a guest of the cluster already uses, so the answer is the validation error in the ack;
- **list**: ``/lxc list all``, answered through ``response_url``;
- **Home**: an ``app_home_opened`` event, answered by ``views.publish``;
- **digest**: ``/lxc digest``, which builds and posts the digest and answers through ``response_url``.

Server CPU (``psutil``, user + system) is counted from the request until its follow-up reached the fake
Slack. Bar (SPEC §6): CPU per operation at 10,000 guests within 2× of the same at 100.

The bar compares two measurements of the same code, so it fails whenever an operation's cost grows with
the cluster (``--small`` / ``--large`` choose the sizes); bench/README.md records the run where it does.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from bench.ack_latency import (
    FORM,
    TEMPLATE,
    _calls,
    _cpu,
    _wait_followups,
    command_bodies,
    open_views,
    send,
    start_cardinal,
    wait_ready,
)
from bench.common import Bar, parser, report, table
from bench.world import USERS, World, start_world

OPS = ("validation", "list", "home", "digest")
SETTLE = 0.2


def _command(text: str, tag: str, hooks: str) -> tuple[bytes, str]:
    from tests.fakes.signing import form_body, slash_command

    fields = slash_command(
        text, user=USERS[0], channel="C0LAB0001", trigger_id=tag, response_url=f"{hooks}/{tag}"
    )
    return form_body(fields), FORM


def _home(user: str, seq: int) -> tuple[bytes, str]:
    event = {
        "token": "legacy-verification-token",
        "team_id": "T0001",
        "api_app_id": "A0CARDINAL",
        "type": "event_callback",
        "event_id": f"Ev0BENCH{seq:06d}",
        "event_time": int(time.time()),
        "authorizations": [{"team_id": "T0001", "user_id": "UBOT0001", "is_bot": True}],
        "event": {
            "type": "app_home_opened",
            "user": user,
            "channel": f"D{user[1:]}",
            "tab": "home",
            "event_ts": f"{int(time.time())}.{seq:06d}",
        },
    }
    return json.dumps(event).encode(), "application/json"


def _invalid_submission(view: dict[str, Any], taken: str) -> tuple[bytes, str]:
    from cardinal_sim.slack.payloads import interactive_body, number, plain, selected, view_submission

    values: dict[str, Any] = {
        "hostname": {"value": plain(taken)},
        "count": {"value": number("1")},
        "template": {"value": selected(TEMPLATE)},
        "preset": {"value": selected("medium")},
        "net_mode": {"value": selected("dhcp", "radio_buttons")},
        "bridge": {"value": selected("vmbr0")},
        "lifetime": {"value": selected("7d")},
        "node": {"value": selected("auto")},
        "purpose": {"value": plain("benchmark")},
    }
    return interactive_body(view_submission("lxc_create", values, user=USERS[0], view=view)), FORM


def _one(
    world: World, proc: psutil.Process, url: str, body: tuple[bytes, str], expect: dict[str, int]
) -> tuple[float, float, int]:
    """(CPU s, ack latency s, missing follow-ups) of one request."""
    before = _calls(world)
    cpu0 = _cpu(proc)
    lat, errors = asyncio.run(send(url, [body], 1))
    missing = _wait_followups(world, before, expect, timeout=30.0) + errors
    time.sleep(SETTLE)
    return _cpu(proc) - cpu0, (lat[0] if lat else math.nan), missing


def measure(guests: int, ops: int, tmp: Path) -> dict[str, dict[str, float]]:
    """CPU ms per operation (and ack p50) of Cardinal on a cluster running ``guests`` other guests."""
    world = start_world(guests=guests)
    out: dict[str, dict[str, float]] = {}
    try:
        (tmp / f"g{guests}").mkdir()
        child, port, ops_port, _ = start_cardinal(world, tmp / f"g{guests}")
        try:
            wait_ready(ops_port, child)
            proc = psutil.Process(child.pid)
            url = f"http://127.0.0.1:{port}/slack/events"
            hooks = world.slack_url.removesuffix("/api/") + "/hooks"
            asyncio.run(send(url, command_bodies(20, f"warm-{guests}", hooks), 5))
            time.sleep(1.0)
            views = open_views(world, url, ops, f"v{guests}", hooks)
            plans: dict[str, list[tuple[tuple[bytes, str], dict[str, int]]]] = {
                "validation": [(_invalid_submission(v, "busy-1"), {}) for v in views],
                "list": [
                    (_command("list all", f"l{guests}-{i}", hooks), {"response_url": 1}) for i in range(ops)
                ],
                "home": [
                    (_home(USERS[i % len(USERS)], guests * 1000 + i), {"views.publish": 1})
                    for i in range(ops)
                ],
                "digest": [
                    (_command("digest", f"d{guests}-{i}", hooks), {"response_url": 1}) for i in range(ops)
                ],
            }
            for op, plan in plans.items():
                cpu: list[float] = []
                lat: list[float] = []
                missing = 0
                for body, expect in plan:
                    c, la, m = _one(world, proc, url, body, expect)
                    cpu.append(c)
                    lat.append(la)
                    missing += m
                cpu.sort()
                out[op] = {
                    "cpu_ms_mean": sum(cpu) / len(cpu) * 1000,
                    "cpu_ms_median": cpu[len(cpu) // 2] * 1000,
                    "ack_ms_median": sorted(lat)[len(lat) // 2] * 1000,
                    "missing": missing,
                }
        finally:
            child.stop()
    finally:
        world.stop()
    return out


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__ or "")
    p.add_argument("--small", type=int, default=100, help="guests in the small cluster (default 100)")
    p.add_argument("--large", type=int, default=10_000, help="guests in the large cluster (default 10000)")
    p.add_argument("--ops", type=int, default=None, help="operations of each kind (default 15, quick 6)")
    args = p.parse_args(argv)
    ops = args.ops or (6 if args.quick else 15)
    with tempfile.TemporaryDirectory(prefix="cardinal-bench-") as tmp:
        small = measure(args.small, ops, Path(tmp))
        large = measure(args.large, ops, Path(tmp))
    load = os.getloadavg()
    rows = []
    bars = []
    for op in OPS:
        a, b = large[op], small[op]
        ratio = a["cpu_ms_mean"] / b["cpu_ms_mean"] if b["cpu_ms_mean"] else math.nan
        rows.append(
            [
                op,
                b["cpu_ms_mean"],
                a["cpu_ms_mean"],
                ratio,
                b["ack_ms_median"],
                a["ack_ms_median"],
                b["missing"] + a["missing"],
            ]
        )
        bars.append(Bar(f"{op}: CPU at {args.large:,} guests / at {args.small:,}", ratio, 2.0, "x"))
    bars.append(Bar("follow-ups not done", sum(r[-1] for r in rows), 0))
    text = table(
        f"Cardinal CPU per operation by cluster size ({ops} of each, one at a time; load average "
        f"{', '.join(f'{x:.2f}' for x in load)} on {os.cpu_count()} CPUs)",
        [
            "operation",
            f"CPU ms @{args.small:,}",
            f"CPU ms @{args.large:,}",
            "ratio",
            f"ack p50 ms @{args.small:,}",
            f"ack p50 ms @{args.large:,}",
            "missing",
        ],
        rows,
    )
    return report(
        "cluster_scale",
        quick=args.quick,
        bars=bars,
        tables=[text],
        figures={f"g{args.large}": large, "loadavg": list(load)},
        baseline={f"g{args.small}": small},
        ratio=None,
    )


if __name__ == "__main__":
    sys.exit(main())
