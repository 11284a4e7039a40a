"""``python -m tests.reliability.botmain --port N``: ``cardinal run`` with the timings a short test needs.

This is :func:`handlers.runtime.run` itself — settings from the environment, migrations, Slack
``auth.test``, HTTP mode on ``--port``, the ops port, the scheduler, SIGTERM handling — with a few timing
knobs turned down (tracker lease, submission grace, outbox intent grace, breaker reset, job intervals),
read from ``CARDINAL_TEST_TUNING`` (JSON). It imports nothing from the test fakes, so it starts fast.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import sys
from typing import Any

TUNING_ENV = "CARDINAL_TEST_TUNING"

#: Short timings for tests (seconds). Production defaults: lease 120, submit grace 60, intent grace 30,
#: breaker reset 30, provisioning retry 30, digest every 60.
DEFAULT_TUNING: dict[str, float] = {
    "lease_seconds": 4.0,
    "submit_grace": 3.0,
    "intent_grace": 3.0,
    "breaker_reset": 2.0,
    "provision_retry_every": 2.0,
    "digest_every": 1.0,
    "expiry_every": 30.0,
    "reconcile_every": 300.0,
}


def _tuned(tuning: dict[str, float]) -> None:
    """Apply ``tuning`` to :mod:`handlers.runtime` before :func:`handlers.runtime.run` builds anything."""
    from bot.ops.metrics import Metrics
    from bot.outbox import Outbox
    from bot.proxmox.breaker import CircuitBreaker
    from bot.proxmox.client import ProxmoxClient
    from handlers import runtime

    runtime.RESUME_EVERY = tuning["provision_retry_every"]
    runtime.RESUME_AFTER = tuning["provision_retry_every"]
    runtime.DIGEST_EVERY = tuning["digest_every"]
    runtime.EXPIRY_EVERY = tuning["expiry_every"]
    runtime.RECONCILE_EVERY = tuning["reconcile_every"]
    runtime.Outbox = functools.partial(Outbox, intent_grace=tuning["intent_grace"])  # type: ignore[misc]
    original = runtime.assemble

    async def assemble(settings: Any, **kwargs: Any) -> Any:
        metrics = Metrics()
        breaker = CircuitBreaker(reset_timeout=tuning["breaker_reset"])
        proxmox = ProxmoxClient.from_settings(settings, on_request=metrics.observe_proxmox, breaker=breaker)
        options = {"lease_seconds": tuning["lease_seconds"], "submit_grace": tuning["submit_grace"]}
        return await original(settings, proxmox=proxmox, metrics=metrics, tracker_options=options, **kwargs)

    runtime.assemble = assemble  # type: ignore[assignment]


def child_main(argv: list[str]) -> int:
    """Parse ``--port``, apply the tuning and run Cardinal until SIGTERM."""
    from bot.settings import load_settings
    from handlers import runtime

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    _tuned({**DEFAULT_TUNING, **json.loads(os.environ.get(TUNING_ENV, "{}"))})
    return asyncio.run(runtime.run(load_settings(), port=args.port))


if __name__ == "__main__":
    raise SystemExit(child_main(sys.argv[1:]))
