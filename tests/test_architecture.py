"""Import rules: the domain (bot/) never depends on the Slack edge or on slack_bolt."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


# Only the process entry point may reach the composition root (handlers.runtime), lazily.
COMPOSITION_ROOTS = {"cli.py", "__main__.py"}


def test_bot_never_imports_slack_bolt_or_handlers() -> None:
    offenders = []
    for path in (ROOT / "bot").rglob("*.py"):
        rel = path.relative_to(ROOT / "bot")
        if rel.name in COMPOSITION_ROOTS and len(rel.parts) == 1:
            continue
        for mod in imported_modules(path):
            if mod.split(".")[0] in {"slack_bolt", "handlers"}:
                offenders.append(f"{rel}: {mod}")
    assert offenders == []


# The composition root and the demo build the process; every other handler goes through bot/ services.
EDGE_WIRING = {"runtime.py", "demo.py"}


def test_handlers_do_no_storage_work() -> None:
    offenders = []
    for path in (ROOT / "handlers").rglob("*.py"):
        if path.name in EDGE_WIRING:
            continue
        text = path.read_text(encoding="utf-8")
        if ".transaction(" in text or any(m.split(".")[0] == "sqlalchemy" for m in imported_modules(path)):
            offenders.append(path.name)
    assert offenders == []
