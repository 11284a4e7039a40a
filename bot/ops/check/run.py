"""The orchestrator: run every check in order and gather the results."""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp

from bot.ops.check.cluster import (
    check_template_nodes,
    evaluate_bridges,
    evaluate_default_node,
    evaluate_node,
    evaluate_privileges,
    evaluate_rootfs_storages,
    evaluate_template_storage,
    evaluate_version,
)
from bot.ops.check.config import check_database
from bot.ops.check.result import (
    _API_CHECKS,
    SETUP_DOC,
    CheckResult,
    CheckTargets,
    _bounded,
    _describe,
    skipped,
)
from bot.ops.check.slack import check_slack
from bot.ops.check.tags import check_tag_options
from bot.ops.check.transport import evaluate_probe, probe_proxmox
from bot.proxmox.errors import ProxmoxAuthError, ProxmoxError
from bot.proxmox.models import StorageContent
from bot.settings import Settings


async def check_proxmox_api(settings: Settings, targets: CheckTargets, *, limit: float) -> list[CheckResult]:
    """Credentials, version, privileges, template storage and bridges through the Proxmox client."""
    from bot.proxmox.client import ProxmoxClient

    names = _API_CHECKS
    principal = settings.proxmox_token or settings.proxmox_username or "?"
    results: list[CheckResult] = []
    async with ProxmoxClient.from_settings(settings) as px:
        try:
            version = await _bounded(px.version(), limit)
        except ProxmoxError as exc:
            auth = isinstance(exc, ProxmoxAuthError)
            hint = (
                f"Check PROXMOX_TOKEN and PROXMOX_SECRET (or PROXMOX_USERNAME/PASSWORD); {SETUP_DOC} "
                "shows how to create the token."
                if auth
                else exc.hint
            )
            results.append(CheckResult("Proxmox credentials", False, _describe(exc), hint))
            return results + [skipped(n, "the Proxmox login failed") for n in names]
        except (TimeoutError, OSError, aiohttp.ClientError) as exc:
            results.append(CheckResult("Proxmox credentials", False, _describe(exc), "Try again."))
            return results + [skipped(n, "Proxmox did not answer") for n in names]
        results.append(CheckResult("Proxmox credentials", True, f"{principal} accepted"))
        results.append(evaluate_version(version))

        try:
            perms = await _bounded(px.permissions(), limit)
            nodes = [n.node for n in await _bounded(px.nodes(), limit)]
            storages = await _bounded(px.cluster_resources("storage"), limit)
            sdn = await _bounded(px.cluster_resources("sdn"), limit)
        except (ProxmoxError, TimeoutError, OSError, aiohttp.ClientError) as exc:
            hint = exc.hint if isinstance(exc, ProxmoxError) else "Try again."
            results.append(CheckResult("Proxmox privileges", False, _describe(exc), hint))
            return results + [skipped(n, "reading Proxmox failed") for n in names[2:]]
        results.append(evaluate_privileges(perms, nodes, targets, principal))
        results.append(evaluate_node(settings.proxmox_node, nodes))

        templates: list[StorageContent] | None = None
        node = next((s.node for s in storages if s.storage == targets.template_storage and s.node), None)
        if node is not None:
            try:
                templates = await _bounded(px.storage_content(node, targets.template_storage), limit)
            except (ProxmoxError, TimeoutError, OSError, aiohttp.ClientError):
                templates = None
        results.append(evaluate_template_storage(storages, templates, targets))
        results.append(evaluate_rootfs_storages(storages, targets))
        node_bridges: dict[str, set[str]] = {}
        for node_name in nodes:  # a node that does not answer is left out, not reported twice
            with contextlib.suppress(ProxmoxError, TimeoutError, OSError, aiohttp.ClientError):
                ifaces = await _bounded(px.networks(node_name, "any_bridge"), limit)
                node_bridges[node_name] = {str(i.get("iface")) for i in ifaces}
        results.append(evaluate_bridges(perms, sdn, targets, principal, node_bridges))
        results.extend(await check_template_nodes(px, targets, nodes, storages, limit=limit))
        if settings.proxmox_node:
            results.append(evaluate_default_node(settings.proxmox_node, await _bounded(px.nodes(), limit)))
        results.append(await check_tag_options(px, perms, principal, limit=limit))
    return results


# --- orchestration -----------------------------------------------------------------------------


async def check_proxmox(settings: Settings, targets: CheckTargets, *, limit: float) -> list[CheckResult]:
    """Transport first; the API checks run only when Proxmox answered."""
    probe = await probe_proxmox(settings, limit=limit)
    results = evaluate_probe(settings, probe)
    api_names = ("Proxmox credentials", *_API_CHECKS)
    if not probe.reachable:
        return results + [skipped(n, "Proxmox is unreachable") for n in api_names]
    if probe.fingerprint is None or (not probe.tls_ok and settings.proxmox_verify_tls):
        return results + [skipped(n, "TLS is not trusted") for n in api_names]
    return results + await check_proxmox_api(settings, targets, limit=limit)


async def run_checks(
    settings: Settings,
    targets: CheckTargets | None = None,
    *,
    limit: float | None = None,
    slack_skipped: str | None = None,
) -> list[CheckResult]:
    """Every check after the settings — database, Slack and Proxmox concurrently — in a stable order.
    ``slack_skipped`` gives the reason when the Slack settings are unusable (the Slack checks are then
    listed as not checked)."""
    targets = targets or CheckTargets()
    limit = limit if limit is not None else settings.proxmox_timeout_read

    async def slack_checks() -> list[CheckResult]:
        if slack_skipped is not None:
            return [skipped("Slack auth.test", slack_skipped), skipped("Slack scopes", slack_skipped)]
        return await check_slack(settings, limit=max(limit, 5.0), channels=targets.slack_channels)

    database, slack, proxmox = await asyncio.gather(
        check_database(settings, limit=max(limit, 5.0)),
        slack_checks(),
        check_proxmox(settings, targets, limit=limit),
    )
    return [database, *slack, *proxmox]
