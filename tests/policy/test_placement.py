"""Choosing the node for a container: allowed, online, holding the template, with room."""

from __future__ import annotations

import pytest

from bot.errors import InputError
from bot.placement import choose_node
from bot.proxmox.models import NodeInfo

GIB = 1 << 30


def _node(name: str, free_gib: int, status: str = "online") -> NodeInfo:
    return NodeInfo.model_validate(
        {"node": name, "status": status, "maxmem": 64 * GIB, "mem": (64 - free_gib) * GIB}
    )


NODES = [_node("pve1", 10), _node("pve2", 40), _node("pve3", 20)]


def test_without_template_knowledge_the_emptiest_allowed_node_wins() -> None:
    assert choose_node(NODES, ["*"], wanted=None, memory_mib=512) == "pve2"


def test_only_nodes_holding_the_template_are_considered() -> None:
    assert choose_node(NODES, ["*"], wanted=None, memory_mib=512, holders={"pve1", "pve3"}) == "pve3"


def test_no_holder_among_the_allowed_nodes_is_a_template_error() -> None:
    with pytest.raises(InputError) as err:
        choose_node(NODES, ["pve2"], wanted=None, memory_mib=512, holders={"pve1"})
    assert err.value.field == "template"


def test_a_wanted_node_without_the_template_names_the_holders() -> None:
    with pytest.raises(InputError) as err:
        choose_node(NODES, ["*"], wanted="pve2", memory_mib=512, holders={"pve1", "pve3"})
    assert err.value.field == "node"
    assert "pve1, pve3" in (err.value.hint or "")


def test_the_preferred_node_wins_when_it_holds_the_template_and_has_room() -> None:
    assert choose_node(NODES, ["*"], wanted=None, memory_mib=512, preferred="pve1") == "pve1"
    assert choose_node(NODES, ["*"], wanted=None, memory_mib=20 * 1024, preferred="pve1") == "pve2"
    held = choose_node(NODES, ["*"], wanted=None, memory_mib=512, holders={"pve2"}, preferred="pve1")
    assert held == "pve2"
