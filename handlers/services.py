"""What the Slack edge calls: one typed, complete set of services, handed to every listener module.

Every listener module imports :class:`Services` from here and :mod:`handlers.app` imports the listener
modules, so nothing in ``handlers`` imports ``handlers.app`` back.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.approvals import ActionApprovals
from bot.containers.service import ContainerService
from bot.digest import DigestJob
from bot.ops.metrics import Metrics
from bot.policy import Policy
from bot.proxmox.client import ProxmoxClient
from bot.requests import ApproverDirectory, RequestService
from handlers.background import Background
from handlers.home import HomeRefresher
from handlers.metadata import MetadataSeal

__all__ = ["Services"]


@dataclass(frozen=True)
class Services:
    """Everything the Slack edge calls, all of it always present.

    The composition root (:func:`handlers.runtime.assemble`) builds every field, the
    :class:`~handlers.home.HomeRefresher` included: it publishes with the same Web API client that
    :func:`handlers.app.create_app` gets, and runs its publishes in the same ``background``. Test
    environments build it the same way. :func:`handlers.app.create_app` builds nothing here; it only
    registers the listeners on the Bolt app.
    """

    requests: RequestService
    proxmox: ProxmoxClient
    policy: Policy
    approvers: ApproverDirectory
    seal: MetadataSeal
    background: Background
    containers: ContainerService
    approvals: ActionApprovals
    digest: DigestJob
    home: HomeRefresher
    metrics: Metrics
    command_name: str = "/lxc"
    ui_url: str = ""  # the Proxmox web UI, for links
