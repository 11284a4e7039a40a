"""A Proxmox task that succeeds with warnings is reported as such in the thread (with each ``WARN:``
line), and the work goes on — for a creation and for a day-2 task."""

from __future__ import annotations

from bot.containers.spec import Features
from bot.events import ContainerReady, Notice, TaskSucceeded
from cardinal_sim.proxmox.state import TaskResult
from tests.tracker.conftest import CHANNEL, ROOT_TS, TOKEN_ID, World, spec

NESTING = "Systemd 257 detected. You may need to enable nesting."


async def test_create_without_nesting_reports_the_systemd_warning_then_ready(world: World) -> None:
    tracker = world.tracker()
    req, items = await world.request([spec("web-1", features=Features())])
    await tracker.enqueue_creations(req.id, items)
    vmid = items[0].vmid

    await world.until_request_final(req.id)

    [warned] = world.posts_of(Notice)
    assert (warned.channel, warned.thread_ts) == (CHANNEL, ROOT_TS)
    assert f"The create of CT {vmid} finished with 1 warning from Proxmox" in warned.event.text
    assert f"• {NESTING}" in warned.event.text
    assert "Nesting" in warned.event.text  # how to act on it
    assert len(world.posts_of(ContainerReady)) == 1  # a warning is not a failure
    keys = [p.key for p in world.notifier.posts]
    assert keys.index(warned.key) < keys.index(world.posts_of(ContainerReady)[0].key)


async def test_create_with_nesting_posts_no_warning(world: World) -> None:
    tracker = world.tracker()
    req, items = await world.request([spec("web-1")])
    await tracker.enqueue_creations(req.id, items)
    await world.until_request_final(req.id)
    assert world.posts_of(Notice) == []
    assert len(world.posts_of(ContainerReady)) == 1


async def test_day2_task_with_warnings_shows_them_in_the_thread(world: World) -> None:
    tracker = world.tracker()
    world.sim.add_container(301, status="running")
    upid = world.sim.start_task(
        "pve",
        "vzreboot",
        "301",
        TOKEN_ID,
        duration=2,
        finish=lambda _t: TaskResult(warnings=["first thing", "second thing"]),
    ).upid
    await tracker.track(
        "reboot", upid, vmid=301, actor="U0BOB", channel=CHANNEL, thread_ts="1690000000.000777"
    )
    world.sim.advance(5)
    await tracker.sweep()

    [warned] = world.posts_of(Notice)
    assert warned.thread_ts == "1690000000.000777"
    assert "The reboot of CT 301 finished with 2 warnings from Proxmox" in warned.event.text
    assert "• first thing\n• second thing" in warned.event.text
    [done] = world.posts_of(TaskSucceeded)
    assert done.event.detail == "WARNINGS: 2"
