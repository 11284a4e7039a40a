"""Incoming requests have a read deadline for headers and body: slow clients are cut off, others are
served meanwhile (issue: 800 trickling connections were all held open for 90 s). The fixture serves with
0.5 s deadlines; the clients below pace their bytes as a slowloris would."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

from tests.e2e.harness import CHANNEL, REQUESTER, SIGNING_SECRET
from tests.fakes.signing import form_body, signed_request_headers, slash_command

from .conftest import Edge

GUARD = 20.0  # only stops a hanging test; the deadlines under test are 0.5 s


@contextlib.asynccontextmanager
async def trickling(edge: Edge, first: bytes, pace: float = 0.05) -> AsyncIterator[asyncio.StreamReader]:
    """A connection that sends ``first`` and then one more byte every ``pace`` seconds, forever."""
    reader, writer = await asyncio.open_connection("127.0.0.1", edge.port)
    writer.write(first)

    async def drip() -> None:
        with contextlib.suppress(ConnectionError):
            while not writer.is_closing():
                await asyncio.sleep(pace)  # the attacker's pace, not synchronisation
                writer.write(b"a")
                await writer.drain()

    task = asyncio.create_task(drip())
    try:
        yield reader
    finally:
        task.cancel()
        writer.close()


async def until_closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection (a reset counts as closed: the server
    may close while the client's bytes are still arriving)."""
    async with asyncio.timeout(GUARD):
        try:
            return await reader.read()
        except ConnectionResetError:
            return b""


def help_command(edge: Edge) -> bytes:
    return form_body(slash_command("help", user=REQUESTER, channel=CHANNEL, response_url=edge.hook_url("h")))


async def test_a_client_trickling_headers_is_cut_off_while_others_are_served(edge: Edge) -> None:
    async with trickling(edge, b"POST /slack/events HTTP/1.1\r\nHost: cardinal\r\nX-Pad: ") as slow:
        status, _ = await edge.signed(help_command(edge))
        assert status == 200
        assert await until_closed(slow) == b""


async def test_a_client_trickling_its_body_gets_408_and_is_disconnected(edge: Edge) -> None:
    body = help_command(edge)
    headers = signed_request_headers(body, SIGNING_SECRET, int(time.time()))
    head = (
        "POST /slack/events HTTP/1.1\r\nHost: cardinal\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body) + 10_000}\r\n"
        + "".join(f"{k}: {v}\r\n" for k, v in headers.items() if k.startswith("X-Slack"))
        + "\r\n"
    ).encode()
    # A client that stalls part-way through its body: the deadline counts from the headers, not from the
    # last byte. (It sends nothing more, so the server's close cannot turn into a reset hiding the 408.)
    async with trickling(edge, head + body[:10], pace=GUARD) as slow:
        status, _ = await edge.signed(help_command(edge))
        assert status == 200
        answer = await until_closed(slow)
    assert answer.startswith(b"HTTP/1.1 408")
    assert edge.target.hits == []


async def test_a_connection_that_sends_nothing_is_closed(edge: Edge) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", edge.port)
    try:
        assert await until_closed(reader) == b""
    finally:
        writer.close()


async def test_many_slow_clients_do_not_keep_out_a_real_one(edge: Edge) -> None:
    async with contextlib.AsyncExitStack() as stack:
        slow = [
            await stack.enter_async_context(trickling(edge, b"POST /slack/events HTTP/1.1\r\nX: ", pace=0.2))
            for _ in range(100)
        ]
        status, _ = await edge.signed(help_command(edge))
        assert status == 200
        closed = await asyncio.gather(*(until_closed(r) for r in slow))
    assert closed == [b""] * 100
