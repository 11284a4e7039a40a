"""``python -m cardinal_sim.proxmox``: run the HTTPS sandbox (see
:func:`cardinal_sim.proxmox.sandbox.run_sandbox`)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from cardinal_sim.proxmox.sandbox import run_sandbox


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and serve until Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog="python -m cardinal_sim.proxmox", description="Proxmox VE API simulator"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8006)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument(
        "--fault-rate", type=float, default=0.0, help="share of requests answered 5xx/595/596"
    )
    parser.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            run_sandbox(args.host, args.port, args.nodes, args.fault_rate, args.speed, seed=args.seed)
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
