"""What the Slack stand-in records and keeps: calls it received, the workspace timeline, views, channels."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass
class Call:
    """One request the fake received: the API method, merged query + body params, and auth header."""

    method: str
    params: dict[str, Any]
    auth: str | None
    status: int = 200


ActivityKind = Literal["post", "update", "ephemeral", "response", "view_open", "view_update"]


@dataclass(frozen=True)
class Activity:
    """One visible change in the workspace, as people would notice it.

    - ``post`` / ``update``: a channel message (``channel``, ``ts``; ``message`` is a copy as it reads now,
      with ``thread_ts`` for replies);
    - ``ephemeral``: a message only ``user`` sees in ``channel``;
    - ``response``: a ``response_url`` answer (``ts`` is the hook id, ``message`` the posted body);
    - ``view_open`` / ``view_update``: a modal (``ts`` is the view id, ``message`` the view).
    """

    kind: ActivityKind
    channel: str
    ts: str
    message: dict[str, Any]
    user: str | None = None


@dataclass
class _Fault:
    status: int
    headers: dict[str, str]
    body: Any
    times: int
    drop: bool = False


@dataclass
class _View:
    id: str
    hash: str
    view: dict[str, Any]
    user: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Channel:
    """A conversation whose membership matters: the bot is in it unless ``member`` is false."""

    id: str
    member: bool = True
    private: bool = False
    archived: bool = False
