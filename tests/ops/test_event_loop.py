"""The event loop Cardinal's commands run on: uvloop where it is installed, the standard one otherwise."""

from __future__ import annotations

import asyncio
import importlib.util
import sys

import pytest

from bot import cli


async def _loop_module() -> str:
    await asyncio.sleep(0)
    return type(asyncio.get_running_loop()).__module__


@pytest.mark.skipif(importlib.util.find_spec("uvloop") is None, reason="uvloop is not installed here")
def test_commands_run_on_uvloop_where_installed() -> None:
    assert cli.run_async(_loop_module()).startswith("uvloop")


def test_commands_fall_back_to_the_standard_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # as if it were not installed
    assert cli.event_loop_factory() is None
    assert cli.run_async(_loop_module()).startswith("asyncio")
