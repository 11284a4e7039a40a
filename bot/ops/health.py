"""The internal HTTP server: ``/healthz`` (alive), ``/readyz`` (dependencies) and ``/metrics``.

``/healthz`` checks nothing but the event loop answering, so a liveness probe never restarts Cardinal
because a dependency is down. ``/readyz`` runs the readiness probes (database, migrations at head,
scheduler, Slack connection) and answers 503 with one entry per probe when any fails. *Advisory* probes
(Proxmox) are shown in the body but never cause a 503. Serve it on its own port (``INTERNAL_PORT``), not
on the Slack-facing one. Nothing here logs: probes run every few seconds under Kubernetes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

ProbeResult = bool | str
"""``True`` = healthy; ``False`` or a text saying what is wrong = not ready."""
Probe = Callable[[], Awaitable[ProbeResult]]
Readiness = Callable[[], Awaitable[dict[str, ProbeResult]]]

PROBE_TIMEOUT = 2.0
"""Seconds each readiness probe may take before it counts as failed."""


async def _run_probe(probe: Probe, limit: float) -> ProbeResult:
    try:
        async with asyncio.timeout(limit):
            return await probe()
    except TimeoutError:
        return f"timed out after {limit:g} s"
    except Exception as exc:  # a probe failing in any way means "not ready", with the reason
        return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def readiness_from_probes(probes: Mapping[str, Probe], *, timeout: float = PROBE_TIMEOUT) -> Readiness:
    """Combine named probes into one readiness callable: they run concurrently, each under ``timeout``,
    and an exception or timeout becomes that probe's failure text."""
    items = list(probes.items())

    async def readiness() -> dict[str, ProbeResult]:
        results = await asyncio.gather(*(_run_probe(p, timeout) for _, p in items))
        return {name: result for (name, _), result in zip(items, results, strict=True)}

    return readiness


def _render(
    results: Mapping[str, ProbeResult], advisory: Collection[str] = ()
) -> tuple[bool, dict[str, str]]:
    detail: dict[str, str] = {}
    ready = True
    for name, result in results.items():
        if result is True:
            detail[name] = "ok"
        else:
            ready = ready and name in advisory
            detail[name] = result if isinstance(result, str) and result else "failed"
    return ready, detail


def make_ops_app(
    readiness: Readiness,
    registry: CollectorRegistry,
    *,
    timeout: float = 2 * PROBE_TIMEOUT + 1,
    advisory: Collection[str] = (),
) -> web.Application:
    """The internal aiohttp application. ``readiness`` returns one entry per probe (see
    :func:`readiness_from_probes`); ``timeout`` bounds the whole readiness run; a failing probe named in
    ``advisory`` is reported in the body without making ``/readyz`` answer 503."""

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        try:
            async with asyncio.timeout(timeout):
                results = await readiness()
        except TimeoutError:
            results = {"readiness": f"timed out after {timeout:g} s"}
        except Exception as exc:
            results = {"readiness": f"{type(exc).__name__}: {exc}"}
        ready, detail = _render(results, advisory)
        body: dict[str, Any] = {"status": "ready" if ready else "not ready", "checks": detail}
        return web.json_response(body, status=200 if ready else 503)

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", _metrics_handler(registry))
    return app


def _metrics_handler(registry: CollectorRegistry) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    try:
        from prometheus_client.aiohttp import make_aiohttp_handler
    except ImportError:  # prometheus-client < 0.24

        async def metrics(_: web.Request) -> web.StreamResponse:
            resp = web.Response(body=generate_latest(registry))
            resp.headers["Content-Type"] = CONTENT_TYPE_LATEST
            return resp

        return metrics
    return make_aiohttp_handler(registry)


async def start_ops_server(app: web.Application, host: str, port: int) -> web.AppRunner:
    """Serve ``app`` on ``host:port``; the caller awaits ``runner.cleanup()`` at shutdown."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
