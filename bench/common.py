"""Shared helpers for the benchmarks: bars, percentiles, tables, the ``BENCH_JSON`` line, child processes
(with a line reader that never lets a pipe fill up), free ports and the sandbox simulator process."""

from __future__ import annotations

import argparse
import json
import math
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PY = sys.executable
ROOT = Path(__file__).resolve().parents[1]
JSON_PREFIX = "BENCH_JSON "


@dataclass(frozen=True)
class Bar:
    """One quality bar: ``value op limit`` must hold (``op`` is ``<`` or ``<=``)."""

    name: str
    value: float
    limit: float
    unit: str = ""
    op: str = "<="

    @property
    def passed(self) -> bool:
        if math.isnan(self.value):
            return False
        return self.value < self.limit if self.op == "<" else self.value <= self.limit

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": round(self.value, 4),
            "op": self.op,
            "limit": self.limit,
            "unit": self.unit,
            "pass": self.passed,
        }


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (``p`` in 0..100) of ``values``; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def fmt(value: Any, digits: int = 2) -> str:
    """A number for a table cell."""
    if isinstance(value, bool) or not isinstance(value, float | int):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if math.isnan(value):
        return "-"
    return f"{value:,.{digits}f}"


def table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table with a title, right-aligned numbers."""
    cells = [[fmt(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]

    def line(parts: Sequence[str], numeric: Sequence[bool]) -> str:
        out = [p.rjust(w) if n else p.ljust(w) for p, w, n in zip(parts, widths, numeric, strict=True)]
        return "  ".join(out).rstrip()

    head_numeric = [False] * len(headers)
    body = []
    for raw, row in zip(rows, cells, strict=True):
        body.append(line(row, [isinstance(c, int | float) and not isinstance(c, bool) for c in raw]))
    rule = "  ".join("-" * w for w in widths)
    return "\n".join([title, line(list(headers), head_numeric), rule, *body])


def report(
    name: str,
    *,
    quick: bool,
    bars: Sequence[Bar],
    tables: Sequence[str],
    figures: Mapping[str, Any],
    baseline: Mapping[str, Any],
    ratio: float | None,
    command: str | None = None,
) -> int:
    """Print the tables, the bars and one ``BENCH_JSON`` line; return the exit code (0 = all bars pass)."""
    for text in tables:
        print(text)
        print()
    print(
        table(
            f"Bars ({name})",
            ["bar", "value", "limit", "result"],
            [
                [
                    b.name,
                    f"{fmt(b.value, 3)} {b.unit}".strip(),
                    f"{b.op} {fmt(b.limit, 3)} {b.unit}".strip(),
                    "PASS" if b.passed else "FAIL",
                ]
                for b in bars
            ],
        )
    )
    ok = all(b.passed for b in bars)
    doc = {
        "bench": name,
        "quick": quick,
        "command": command or " ".join(["python", "-m", f"bench.{name}", *(["--quick"] if quick else [])]),
        "figures": _rounded(figures),
        "baseline": _rounded(baseline),
        "ratio": None if ratio is None else round(ratio, 4),
        "bars": [b.as_dict() for b in bars],
        "pass": ok,
    }
    print(JSON_PREFIX + json.dumps(doc, sort_keys=False))
    sys.stdout.flush()
    return 0 if ok else 1


def _rounded(data: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, float):
            out[key] = None if math.isnan(value) else round(value, 4)
        elif isinstance(value, Mapping):
            out[key] = _rounded(value)
        else:
            out[key] = value
    return out


def parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with the common ``--quick`` flag."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="a smaller, faster variant")
    return p


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bench_env(**extra: str) -> dict[str, str]:
    """The environment for child processes: this one, the repository on the path, no ``.env`` surprises."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


@dataclass
class Child:
    """A child process whose stdout is read line by line on a thread (so its pipe never fills)."""

    proc: subprocess.Popen[str]
    log_path: Path | None = None
    lines: queue.Queue[str | None] = field(default_factory=queue.Queue)
    seen: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self.lines.put(raw.rstrip("\n"))
        self.lines.put(None)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_line(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        """Wait for a stdout line matching ``pattern`` (regex); fail on timeout or exit."""
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no line matching {pattern!r} from pid {self.pid}; got {self.seen[-5:]}")
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise RuntimeError(
                    f"pid {self.pid} exited ({self.proc.wait()}) before {pattern!r}; got {self.seen[-10:]}"
                    f"\n--- stderr tail ---\n{self.stderr_tail()}"
                )
            self.seen.append(line)
            m = rx.search(line)
            if m is not None:
                return m

    def json_line(self, prefix: str, timeout: float = 120.0) -> dict[str, Any]:
        """The JSON document of the first stdout line starting with ``prefix``."""
        m = self.wait_line("^" + re.escape(prefix) + "(.*)$", timeout)
        doc = json.loads(m.group(1))
        assert isinstance(doc, dict)
        return doc

    def stderr_tail(self, lines: int = 30) -> str:
        """The last lines the child wrote to stderr."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, then SIGKILL after ``timeout`` s; return the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        code = self.proc.wait()
        if self.log_path is not None and not os.environ.get("BENCH_KEEP_LOGS"):
            self.log_path.unlink(missing_ok=True)
        return code


def spawn(args: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> Child:
    """Start ``args`` with stdout captured; stderr goes to a log file (its tail is shown on failure)."""
    fd, name = tempfile.mkstemp(prefix="cardinal-bench-", suffix=".log")
    with os.fdopen(fd, "w") as log:
        proc = subprocess.Popen(
            list(args),
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env=dict(env) if env is not None else bench_env(),
            cwd=str(cwd or ROOT),
        )
    return Child(proc, Path(name))


def module(name: str, *args: str) -> list[str]:
    """``python -m name args…`` with this interpreter."""
    return [PY, "-m", name, *args]


@dataclass
class Sandbox:
    """A ``python -m cardinal_sim.proxmox`` process and how to reach it (from its printed ``.env``
    snippet)."""

    child: Child
    host: str
    port: int
    token: str
    secret: str
    fingerprint: str

    @property
    def api_url(self) -> str:
        return f"https://{self.host}:{self.port}/api2/json"

    def stop(self) -> None:
        self.child.stop()


def start_sandbox(*, nodes: int = 3, speed: float = 1.0, seed: int = 0) -> Sandbox:
    """Start the simulator in its own process (the stock ``python -m cardinal_sim.proxmox`` entry point)."""
    port = free_port()
    child = spawn(
        module(
            "cardinal_sim.proxmox",
            "--port",
            str(port),
            "--nodes",
            str(nodes),
            "--speed",
            str(speed),
            "--seed",
            str(seed),
        ),
    )
    values: dict[str, str] = {}
    for key in ("PROXMOX_HOST", "PROXMOX_PORT", "PROXMOX_TOKEN", "PROXMOX_SECRET", "PROXMOX_FINGERPRINT"):
        m = child.wait_line(rf"^{key}=(.*)$", timeout=30)
        values[key] = m.group(1).strip()
    return Sandbox(
        child=child,
        host=values["PROXMOX_HOST"],
        port=int(values["PROXMOX_PORT"]),
        token=values["PROXMOX_TOKEN"],
        secret=values["PROXMOX_SECRET"],
        fingerprint=values["PROXMOX_FINGERPRINT"],
    )


def cpu_seconds() -> tuple[float, float]:
    """(user, system) CPU seconds of this process so far, all threads."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime
