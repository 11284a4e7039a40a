"""The Socket Mode connection survives the network: a cut or silent connection is rebuilt (readiness says
so meanwhile), Slack's ``warning`` / ``refresh_requested`` are answered by moving to a new connection before
the old one is left, and ``stop()`` ends it in every state."""

from __future__ import annotations

import asyncio

import pytest

from handlers.runtime import connect_socket_mode
from handlers.socket_mode import SocketMode
from tests.e2e.harness import Harness
from tests.fakes.signing import slash_command
from tests.fakes.socket_mode import APP_TOKEN, FakeSocketMode
from tests.socket_mode.conftest import until

Served = tuple[Harness, SocketMode]


async def _slack_probe(harness: Harness) -> bool | str:
    return (await harness.cardinal.readiness())["slack"]


async def _delivers(fake: FakeSocketMode) -> bool:
    """An envelope on the newest connection is acknowledged."""
    envelope_id = await fake.envelope("slash_commands", slash_command("help"))
    ack = await fake.ack(envelope_id)
    return ack["envelope_id"] == envelope_id


async def test_a_cut_connection_is_rebuilt_and_readiness_is_false_meanwhile(
    socket_app: Served, socket_server: FakeSocketMode
) -> None:
    harness, socket = socket_app
    assert await _slack_probe(harness) is True
    socket_server.hold_handshake = True  # keep the next connection from coming up, to look at the gap
    socket_server.drop()  # no close frame, no disconnect message

    async def down() -> bool:
        return not await socket.is_connected()

    await until(down, what="the cut connection noticed")
    assert "Socket Mode connection is down" in str(await _slack_probe(harness))
    await socket_server.wait_for(lambda: "handshake held" in socket_server.events)
    socket_server.release()
    await until(socket.is_connected, what="a new connection")
    assert await _slack_probe(harness) is True
    assert await _delivers(socket_server)
    assert socket_server.refused_handshakes == 0  # every attempt asked apps.connections.open for a new URL


async def test_a_silent_connection_is_found_dead_and_replaced(
    socket_app: Served, socket_server: FakeSocketMode
) -> None:
    _, socket = socket_app
    first = socket_server.go_silent()  # the TCP connection stays up; pings go unanswered
    await socket_server.wait_for_links(2)
    assert first.ended_by == "client"
    await until(socket.is_connected, what="the replacement connection")
    assert await _delivers(socket_server)


async def test_refresh_requested_moves_to_a_new_connection_before_leaving_the_old(
    socket_app: Served, socket_server: FakeSocketMode
) -> None:
    _, socket = socket_app
    old = await socket_server.disconnect("refresh_requested")
    await socket_server.wait_for(lambda: old.ended_by is not None)
    assert old.ended_by == "client"
    events = socket_server.events
    assert events.index("open 2") < events.index("close 1 by client"), events
    assert await socket.is_connected()
    assert await _delivers(socket_server)


async def test_a_warning_also_opens_the_new_connection_first(
    socket_app: Served, socket_server: FakeSocketMode
) -> None:
    _, socket = socket_app
    old = await socket_server.disconnect("warning")
    await socket_server.wait_for(lambda: old.ended_by is not None)
    assert await socket.is_connected()
    events = socket_server.events
    assert events.index("open 2") < events.index("close 1 by client"), events
    assert await _delivers(socket_server)


@pytest.mark.usefixtures("socket_app")
async def test_the_old_connection_still_acks_what_it_delivered_during_a_refresh(
    socket_server: FakeSocketMode,
) -> None:
    old = socket_server.current
    socket_server.hold_handshake = True  # the new connection cannot come up yet
    await socket_server.disconnect("refresh_requested", old)
    envelope_id = await socket_server.envelope("slash_commands", slash_command("help"), link=old)
    ack = await socket_server.ack(envelope_id)
    assert ack in old.messages
    socket_server.release()
    await socket_server.wait_for(lambda: old.ended_by is not None)


async def test_link_disabled_is_not_ready_until_a_connection_is_up_again(
    socket_app: Served, socket_server: FakeSocketMode
) -> None:
    harness, socket = socket_app
    socket_server.hold_handshake = True
    await socket_server.disconnect("link_disabled")

    async def down() -> bool:
        return not await socket.is_connected()

    await until(down, what="link_disabled noticed")
    assert "Socket Mode connection is down" in str(await _slack_probe(harness))
    socket_server.release()
    await until(socket.is_connected, what="a new connection once Socket Mode is back")


async def test_a_token_revoked_while_running_keeps_it_down_and_stop_still_ends_it(
    socket_app: Served, socket_server: FakeSocketMode
) -> None:
    harness, socket = socket_app
    harness.slack.app_tokens.clear()  # apps.connections.open now answers invalid_auth
    socket_server.drop()
    await harness.slack.wait_for(lambda: len(harness.slack.calls("apps.connections.open")) >= 3)
    assert not await socket.is_connected()
    assert len(socket_server.links) == 1
    async with asyncio.timeout(5):
        await socket.stop()


async def test_stop_closes_the_connection_with_a_close_frame(
    socket_app: Served, socket_server: FakeSocketMode
) -> None:
    _, socket = socket_app
    link = socket_server.current
    await socket.stop()
    await socket_server.wait_for(lambda: link.ended_by is not None)
    assert link.ended_by == "client"
    assert not await socket.is_connected()


@pytest.mark.parametrize("fault", ["drop", "go_silent"])
async def test_with_the_default_timing_a_lost_connection_is_back_within_30_seconds(
    harness: Harness, socket_server: FakeSocketMode, fault: str
) -> None:
    """A cut connection is noticed at once; a silent one (half-open: no FIN, no pong) by the heartbeat
    after 10 s without traffic plus 5 s without a pong. Either way the new one is up within 30 s."""
    socket_server.attach(harness.slack)
    socket = await connect_socket_mode(harness.cardinal, APP_TOKEN)
    try:
        await socket_server.wait_for_links(1)
        await until(socket.is_connected, what="the first connection")
        getattr(socket_server, fault)()
        await socket_server.wait_for_links(2, timeout=30.0)
        await until(socket.is_connected, timeout=30.0, what="the rebuilt connection")
    finally:
        await socket.stop()
