"""manifests/proxmox-notifications.md configures exactly what Cardinal parses and checks."""

from __future__ import annotations

import base64
import re
from pathlib import Path

from bot.notifications import BODY_TEMPLATE
from bot.ops.webhooks import NOTIFY_PATH, SECRET_HEADER
from cardinal_sim.proxmox.notify import HEADER_TEMPLATES, SECRET_NAME

MANIFEST = Path(__file__).resolve().parents[2] / "manifests" / "proxmox-notifications.md"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_the_documented_body_and_headers_are_the_ones_cardinal_expects() -> None:
    doc = MANIFEST.read_text(encoding="utf-8")
    assert BODY_TEMPLATE in doc
    assert f"BODY='{BODY_TEMPLATE}'" in doc
    assert f"\tbody {_b64(BODY_TEMPLATE)}\n" in doc
    for name, value in HEADER_TEMPLATES.items():
        assert f"header name={name},value={_b64(value)}" in doc
    assert f"{{{{ secrets.{SECRET_NAME} }}}}" in doc
    assert SECRET_HEADER in doc
    assert re.search(rf"url https?://\S+{re.escape(NOTIFY_PATH)}\n", doc)


def test_the_matchers_cover_the_events_routed_to_container_threads() -> None:
    doc = MANIFEST.read_text(encoding="utf-8")
    for kind in ("vzdump", "replication", "fencing"):
        assert f"--match-field exact:type={kind}" in doc
        assert f"\tmatch-field exact:type={kind}\n" in doc
