"""Fixtures for policy tests: write a TOML text to a temporary file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def policy_file(tmp_path: Path) -> Callable[[str], Path]:
    """Return a function that writes TOML text to a file and gives its path."""

    def write(text: str) -> Path:
        path = tmp_path / "policy.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return write
