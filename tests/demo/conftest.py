"""Fixtures for the demo's tests: the demo configures logging for its run; put it back afterwards."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog


@pytest.fixture(scope="module")
def restore_logging() -> Iterator[None]:
    """Undo :func:`bot.logs.configure_logging` calls made by the code under test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    scheduler_level = logging.getLogger("apscheduler").level
    config: dict[str, Any] = structlog.get_config()
    yield
    logging.getLogger("apscheduler").setLevel(scheduler_level)
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)
    structlog.configure(**config)
