"""Ownership tags compared as Proxmox stores them: ``/lxc extend`` leaves unchanged tags alone."""

from __future__ import annotations

from datetime import timedelta

from bot.access import Actor
from bot.containers.service import ContainerService
from bot.ownership import same_tags, stored_tags, with_ownership_tags
from cardinal_sim.proxmox import Simulator
from tests.day2.conftest import OWNER, Seed, requests_to


async def test_extend_does_not_rewrite_tags_proxmox_already_stores(
    service: ContainerService, seed: Seed, sim: Simulator
) -> None:
    await seed(10001, tags="cardinal;owner-u0owner1;web")  # sorted, as Proxmox stores them
    await service.extend(Actor(OWNER), 10001, timedelta(days=1))
    [put] = requests_to(sim, "PUT", "/lxc/10001/config")
    assert "description" in put.params
    assert "tags" not in put.params
    assert sim.containers[10001].config["tags"] == "cardinal;owner-u0owner1;web"


async def test_extend_adds_missing_ownership_tags_in_proxmox_order(
    service: ContainerService, seed: Seed, sim: Simulator
) -> None:
    await seed(10001, tags="web;zz")
    await service.extend(Actor(OWNER), 10001, timedelta(days=1))
    [put] = requests_to(sim, "PUT", "/lxc/10001/config")
    assert put.params["tags"] == "cardinal;owner-u0owner1;web;zz"
    assert sim.containers[10001].config["tags"] == "cardinal;owner-u0owner1;web;zz"


def test_stored_tags_follow_get_unique_tags() -> None:
    assert stored_tags("Web;cardinal;web;Alpha") == "alpha;cardinal;web"
    assert stored_tags("Web;cardinal;web", case_sensitive=True) == "Web;cardinal;web"
    assert stored_tags("zeta;alpha;zeta", ordering="config") == "zeta;alpha"


def test_unchanged_tags_come_back_byte_for_byte() -> None:
    assert with_ownership_tags("web;owner-u0abc1;cardinal", "U0ABC1") == "web;owner-u0abc1;cardinal"
    assert same_tags("a;b", "b;a")
    assert not same_tags("a;b", "a;b;b")
