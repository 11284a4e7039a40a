"""The packaged schema subset is what ``scripts/gen_schema_subset.py`` makes, and it matches the routes."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest

import cardinal_sim.proxmox.app  # noqa: F401 - importing the app registers every route
from cardinal_sim.proxmox.clock import SimClock
from cardinal_sim.proxmox.routes import HANDLERS
from cardinal_sim.proxmox.schema import load_schema

ROOT = Path(__file__).resolve().parents[2]
APIDATA = ROOT.parent / "shared" / "proxmox" / "apidata.json"


def test_schema_subset_is_generated_from_apidata(tmp_path: Path) -> None:
    if not APIDATA.exists():
        pytest.skip(f"{APIDATA} is not available (it lives outside the project tree)")
    script = runpy.run_path(str(ROOT / "scripts" / "gen_schema_subset.py"))
    out = tmp_path / "schema.json"
    assert script["main"](["gen", str(APIDATA), str(out)]) == 0
    packaged = ROOT / "cardinal_sim" / "proxmox" / "data" / "schema.json"
    assert json.loads(out.read_text()) == json.loads(packaged.read_text())


def test_every_schema_entry_has_a_handler_and_back() -> None:
    served = {(e.method, e.path) for e in load_schema().endpoints}
    assert served == set(HANDLERS)


def test_schema_keeps_parameter_names_that_look_like_doc_keys() -> None:
    create = load_schema().get("POST", "/nodes/{node}/lxc")
    assert "description" in create.properties
    assert "net[n]" in create.properties


def test_clock_speed_can_change_without_a_jump() -> None:
    clock = SimClock(speed=0, start=1000)
    clock.advance(5)
    clock.set_speed(0)
    assert clock.now() == 1005
