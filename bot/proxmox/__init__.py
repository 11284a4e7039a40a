"""Proxmox VE API client, models and errors.

``ProxmoxClient`` is the entry point; models and the error tree are re-exported for callers.
The property-string codec lives in :mod:`bot.proxmox.codec`.
"""

from bot.proxmox.breaker import CircuitBreaker
from bot.proxmox.client import POWER_ACTIONS, PowerAction, ProxmoxClient, TaskSource
from bot.proxmox.errors import (
    CircuitOpenError,
    ProxmoxAuthError,
    ProxmoxConflictError,
    ProxmoxError,
    ProxmoxExistsError,
    ProxmoxLockedError,
    ProxmoxNotFoundError,
    ProxmoxPermissionError,
    ProxmoxServerError,
    ProxmoxTimeoutError,
    ProxmoxTLSError,
    ProxmoxUnreachableError,
    ProxmoxValidationError,
)
from bot.proxmox.models import (
    AplInfo,
    ClusterResource,
    ContainerConfig,
    ContainerStatus,
    Interface,
    InterfaceAddress,
    NodeInfo,
    Permissions,
    ProxmoxTaskStatus,
    SnapshotInfo,
    StorageContent,
    TaskListItem,
    TaskLogLine,
    TaskOutcome,
    Version,
    outcome_of,
)
from bot.proxmox.tls import certificate_fingerprint
from bot.proxmox.transport import RetryPolicy, Timeouts
from bot.proxmox.upid import Upid, UpidError

__all__ = [
    "POWER_ACTIONS",
    "AplInfo",
    "CircuitBreaker",
    "CircuitOpenError",
    "ClusterResource",
    "ContainerConfig",
    "ContainerStatus",
    "Interface",
    "InterfaceAddress",
    "NodeInfo",
    "Permissions",
    "PowerAction",
    "ProxmoxAuthError",
    "ProxmoxClient",
    "ProxmoxConflictError",
    "ProxmoxError",
    "ProxmoxExistsError",
    "ProxmoxLockedError",
    "ProxmoxNotFoundError",
    "ProxmoxPermissionError",
    "ProxmoxServerError",
    "ProxmoxTLSError",
    "ProxmoxTaskStatus",
    "ProxmoxTimeoutError",
    "ProxmoxUnreachableError",
    "ProxmoxValidationError",
    "RetryPolicy",
    "SnapshotInfo",
    "StorageContent",
    "TaskListItem",
    "TaskLogLine",
    "TaskOutcome",
    "TaskSource",
    "Timeouts",
    "Upid",
    "UpidError",
    "Version",
    "certificate_fingerprint",
    "outcome_of",
]
