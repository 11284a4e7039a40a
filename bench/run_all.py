"""``python -m bench.run_all`` (``make bench``): every benchmark, one after the other, each in its own
process; their output is passed through, then a summary of every bar and one ``BENCH_JSON`` line with
all results. Exit code 0 only when every bar of every benchmark passes.

``--quick`` runs the smaller variants; ``--only ack_latency,footprint`` picks benchmarks;
``--markdown`` also prints the summary as a Markdown table (for ``bench/README.md``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

from bench.common import JSON_PREFIX, ROOT, bench_env, fmt, module, parser, table

BENCHES = (
    "footprint",
    "ack_latency",
    "cluster_scale",
    "client_cost",
    "tracker_efficiency",
    "provisioning",
    "retention",
)


def run_one(name: str, quick: bool) -> tuple[dict[str, Any] | None, int, float]:
    """Run ``python -m bench.<name>``, echoing its output; return (its BENCH_JSON, exit code, seconds)."""
    args = module(f"bench.{name}", *(["--quick"] if quick else []))
    print(f"\n=== {' '.join(['python', *args[1:]])}", flush=True)
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=bench_env(), cwd=str(ROOT))
    doc: dict[str, Any] | None = None
    assert proc.stdout is not None
    for line in proc.stdout:
        sys.stdout.write(line)
        if line.startswith(JSON_PREFIX):
            doc = json.loads(line[len(JSON_PREFIX) :])
    code = proc.wait()
    sys.stdout.flush()
    return doc, code, time.perf_counter() - t0


def _bar_rows(results: dict[str, dict[str, Any] | None]) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for name, doc in results.items():
        if doc is None:
            rows.append([name, "(no result: the benchmark crashed)", "-", "-", "FAIL"])
            continue
        for bar in doc["bars"]:
            value = f"{fmt(bar['value'], 3)} {bar['unit']}".strip()
            limit = f"{bar['op']} {fmt(bar['limit'], 3)} {bar['unit']}".strip()
            rows.append([name, bar["name"], value, limit, "PASS" if bar["pass"] else "FAIL"])
    return rows


def markdown(rows: list[list[Any]]) -> str:
    """The summary rows as a Markdown table."""
    out = ["| benchmark | bar | value | limit | result |", "|---|---|---|---|---|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__ or "")
    p.add_argument("--only", default="", help="comma-separated benchmark names (default: all)")
    p.add_argument("--markdown", action="store_true", help="also print the summary as Markdown")
    args = p.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or list(BENCHES)
    unknown = sorted(set(names) - set(BENCHES))
    if unknown:
        p.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHES)}")
    results: dict[str, dict[str, Any] | None] = {}
    codes: dict[str, int] = {}
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    for name in names:
        results[name], codes[name], seconds[name] = run_one(name, args.quick)
    total = time.perf_counter() - t0
    rows = _bar_rows(results)
    print()
    print(
        table(
            f"Summary ({'quick' if args.quick else 'full'} run, {total:.0f} s, {os.cpu_count()} CPUs, "
            f"load average {os.getloadavg()[0]:.2f})",
            ["benchmark", "bar", "value", "limit", "result"],
            rows,
        )
    )
    if args.markdown:
        print()
        print(markdown(rows))
    ok = all(code == 0 for code in codes.values()) and all(doc is not None for doc in results.values())
    doc = {
        "bench": "run_all",
        "quick": args.quick,
        "seconds": {k: round(v, 1) for k, v in seconds.items()},
        "results": results,
        "pass": ok,
    }
    print(JSON_PREFIX + json.dumps(doc))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
