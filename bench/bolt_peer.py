"""``python -m bench.bolt_peer --port P``: the fair peer for the Slack-edge benchmarks.

A minimal slack-bolt ``AsyncApp`` in HTTP mode — request signing on, one pooled Web API session, the
same fake Slack over HTTPS — that acknowledges what Cardinal acknowledges and then makes the same Slack
follow-ups, and nothing else (no database, no Proxmox):

- ``/lxc create`` → ack, then ``views.open`` with a small modal;
- ``/lxc list`` and ``/lxc templates`` → ack, then one answer to ``response_url`` (Bolt's ``respond``);
- ``/lxc help`` → answered in the ack;
- an approve click → ack, then one ephemeral answer to the click's ``response_url`` (Bolt's ``respond``,
  ``replace_original: false``: how Cardinal tells the clicker that the approval no longer exists);
- a create-form submission → ack, then ``chat.postMessage`` twice (the request's thread root in the
  channel and its approval card, top-level in the approval channel).

``--burn-ms N`` spends N ms of CPU in every handler before acking: a deliberate regression, used by the
benchmarks' ``--self-test`` to show that their ratio bars fail when the measured server is slower.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from typing import Any

READY_PREFIX = "PEER_READY"


def _burn(ms: float) -> None:
    end = time.thread_time() + ms / 1000
    while time.thread_time() < end:
        pass


async def serve(port: int, burn_ms: float) -> None:
    import aiohttp
    from aiohttp import web
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    client = AsyncWebClient(
        token=os.environ["SLACK_BOT_TOKEN"],
        base_url=os.environ["SLACK_API_URL"],
        session=aiohttp.ClientSession(),
    )
    app = AsyncApp(
        client=client,
        signing_secret=os.environ["SLACK_SIGNING_SECRET"],
        process_before_response=False,
        raise_error_for_unhandled_request=False,
    )
    modal = {
        "type": "modal",
        "callback_id": "lxc_create",
        "title": {"type": "plain_text", "text": "New container"},
        "submit": {"type": "plain_text", "text": "Request"},
        "blocks": [
            {
                "type": "input",
                "block_id": "hostname",
                "label": {"type": "plain_text", "text": "Hostname"},
                "element": {"type": "plain_text_input", "action_id": "value"},
            }
        ],
    }

    @app.command("/lxc")
    async def lxc(ack: Any, body: dict[str, Any], client: AsyncWebClient, respond: Any) -> None:
        _burn(burn_ms)
        sub = (body.get("text") or "").split()[:1]
        if sub == ["help"]:
            await ack(text="Usage: /lxc create | list | templates | help")
            return
        await ack()
        if sub == ["create"]:
            await client.views_open(trigger_id=body["trigger_id"], view=modal)
        else:
            await respond(response_type="ephemeral", text=f"{sub[0] if sub else 'list'}: nothing here")

    @app.action("approval_approve")
    async def approve(ack: Any, respond: Any) -> None:
        # As Cardinal answers a refused click: ephemerally, through the click's response_url.
        _burn(burn_ms)
        await ack()
        await respond(
            text="That approval no longer exists.", response_type="ephemeral", replace_original=False
        )

    @app.view("lxc_create")
    async def submitted(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        _burn(burn_ms)
        await ack()
        user = body["user"]["id"]
        # The thread's root in the channel, the card in the approval channel (a top-level message there:
        # a thread_ts from another channel is refused with thread_not_found).
        await client.chat_postMessage(channel="C0LAB0001", text=f"<@{user}> asked for a container")
        await client.chat_postMessage(channel="C0APPROVE", text="Approve?")

    async def events(request: web.Request) -> web.Response:
        from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request

        bolt_resp = await app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(bolt_resp)

    web_app = web.Application()
    web_app.router.add_post("/slack/events", events)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print(READY_PREFIX, flush=True)
    await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--burn-ms", type=float, default=0.0, help="CPU ms spent per handler (self-test)")
    args = p.parse_args(argv)
    asyncio.run(serve(args.port, args.burn_ms))
    return 0


if __name__ == "__main__":
    sys.exit(main())
