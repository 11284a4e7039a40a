"""Build the Bolt ``AsyncApp`` from injected services: no globals, no work at import time."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.ops.metrics import Metrics
from bot.policy import Policy
from bot.proxmox.client import ProxmoxClient
from bot.requests import ApproverDirectory, RequestService
from handlers import actions, commands, container_actions, home, response_url, views
from handlers.background import Background
from handlers.errors import handle_error
from handlers.metadata import MetadataSeal


@dataclass
class Services:
    """Everything the Slack edge calls. Optional services add subcommands when present."""

    requests: RequestService
    proxmox: ProxmoxClient
    policy: Policy
    approvers: ApproverDirectory
    seal: MetadataSeal
    background: Background = field(default_factory=Background)
    containers: Any = None  # bot.lifecycle.ContainerService
    digest: Any = None  # bot.digest.DigestJob
    command_name: str = "/lxc"
    ui_url: str = ""  # the Proxmox web UI, for links
    metrics: Metrics | None = None
    home: Any = None  # handlers.home.HomeRefresher, set by create_app


def create_app(services: Services, *, client: AsyncWebClient, signing_secret: str | None) -> AsyncApp:
    """The Slack app. ``signing_secret=None`` is for Socket Mode, where requests are not signed."""
    app = AsyncApp(
        client=client,
        signing_secret=signing_secret or "socket-mode-has-no-signatures",
        request_verification_enabled=signing_secret is not None,
        process_before_response=False,
        raise_error_for_unhandled_request=False,
        ignoring_self_events_enabled=True,
    )
    # Before the listeners: their `respond` posts on the client's pooled session (one connection).
    response_url.register(app, response_url.ResponseUrlPoster(lambda: client.session))
    commands.register(app, services)
    views.register(app, services)
    actions.register(app, services)
    container_actions.register(app, services)
    home.register(app, services)
    app.error(handle_error)
    return app
