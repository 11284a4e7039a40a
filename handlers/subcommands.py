"""Subcommands other than help and create: call a bot service, render the answer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.errors import InputError
from handlers.parsing import Command

if TYPE_CHECKING:
    from handlers.app import Services

Message = dict[str, Any]


async def run(services: Services, cmd: Command, command: dict[str, Any]) -> Message | None:
    """Carry out one parsed command for the person who typed it; return the ephemeral answer."""
    raise InputError(f"`{type(cmd).__name__.lower()}` is not available yet.", hint="Try `/lxc help`.")
