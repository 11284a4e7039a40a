"""``cardinal demo``: the whole product, locally, with no credentials and no network.

It starts the bundled Proxmox VE simulator (three nodes, served over HTTPS with its certificate pinned,
time running 30× faster), the local Slack stand-in (:mod:`cardinal_sim.slack`), and the real Cardinal —
handlers, tracker, APScheduler jobs and a SQLite database in a temporary directory — assembled exactly as
``cardinal run`` does. Then it plays a short story by sending signed requests to Cardinal's
``/slack/events`` as Slack would, and prints the conversation as people would read it in Slack:

1. Alice asks for ``web`` (medium, needs approval); 2. Bob approves; the container is created, started,
gets a DHCP address and the thread shows the ``ssh`` line; 3. Carol asks for ``bigdb``; Bob denies it
with a reason; 4. Dave's ``ci-runner`` is auto-approved but the storage is full, so Proxmox's task fails
and the thread shows the error and the task log; 5. ``/lxc digest``.

The story is seeded (same containers, nodes, addresses and messages every run) and takes a few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
import tempfile
import time
import traceback
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import aiohttp
from aiohttp import web
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from bot.logs import configure_logging
from bot.policy import Policy
from bot.settings import Settings
from cardinal_sim.demo.console import Console, Conversation, Person, _is_request_root
from cardinal_sim.demo.transcript import Directory, Renderer, Style
from cardinal_sim.proxmox.core import Simulator
from cardinal_sim.proxmox.server import Running, serve
from cardinal_sim.slack.payloads import (
    block_action,
    form_body,
    interactive_body,
    number,
    plain,
    selected,
    signed_request_headers,
    slash_command,
    view_submission,
)
from cardinal_sim.slack.records import Activity
from cardinal_sim.slack.standin import FakeSlack
from handlers.blocks.create_modal import NODE_AUTO, TEMPLATE_UNAVAILABLE_BLOCK, template_label
from handlers.blocks.ids import ACTION_APPROVE, ACTION_DENY, CALLBACK_CREATE, CALLBACK_DENY_REASON, VALUE
from handlers.runtime import Cardinal, assemble, serve_http
from handlers.slack_client import make_web_client

__all__ = ["DemoFailed", "run_demo", "use_color"]

SEED = 7
SPEED = 30.0
#: Simulated time starts on a Monday morning, so every run shows the same dates.
START = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)
TASK_DURATIONS = {"vzcreate": 45.0, "vzstart": 6.0}
DHCP_DELAY = 8.0
SWEEP_INTERVAL = 0.25
#: Real seconds any one step may take before the demo gives up with a clear message.
STEP_TIMEOUT = 30.0
#: Real seconds without new Slack activity after which a step counts as settled.
QUIET = 0.3
POLL = 0.04

LOCALHOST = "127.0.0.1"
BOT_TOKEN = "xoxb-cardinal-demo-local"  # noqa: S105 (the stand-in accepts any xoxb- token)
SIGNING_SECRET = "cardinal-demo-signing-secret-local"  # noqa: S105 (shared only with the stand-in)
TOKEN_ID = "cardinal@pve!demo"  # noqa: S105 (a token name, not a secret)
TOKEN_SECRET = "d3e0c1a2-7b4f-4c5d-9e8f-0a1b2c3d4e5f"  # noqa: S105 (the simulator's own token)
TEMPLATE_HINT = "debian-12-standard"

LAB = "C0LAB00001"
APPROVALS = "C0APPROVAL1"


ALICE = Person("U0ALICE", "alice")
BOB = Person("U0BOB", "bob")
CAROL = Person("U0CAROL", "carol")
DAVE = Person("U0DAVE", "dave")
PEOPLE = (ALICE, BOB, CAROL, DAVE)
CHANNELS = {LAB: "lab", APPROVALS: "approvals"}


class DemoFailed(Exception):
    """The story could not go on (a step did not happen in time, or Cardinal refused something)."""


def use_color(stream: TextIO, env: Mapping[str, str] | None = None) -> bool:
    """Colour only on a terminal, and never when ``NO_COLOR`` is set (https://no-color.org) or
    ``TERM=dumb``."""
    env = os.environ if env is None else env
    if env.get("NO_COLOR") or env.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class _DemoSettings(Settings):
    """Settings built only from what the demo passes: no environment, no ``.env``."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def demo_policy() -> Policy:
    """Bob approves in #approvals; the default rules auto-approve one small container for a week; #lab gets
    the digest. ``medium`` carries a 20 GiB data volume at /data, so Alice's request shows one."""
    medium = {"cores": 2, "memory_mib": 4096, "swap_mib": 1024, "disk_gib": 32, "data_volume_gib": 20}
    small = {"cores": 1, "memory_mib": 1024, "swap_mib": 512, "disk_gib": 8}
    large = {"cores": 4, "memory_mib": 8192, "swap_mib": 2048, "disk_gib": 64}
    return Policy.model_validate(
        {
            "approvers": [BOB.id],
            "presets": {"small": small, "medium": medium, "large": large},
            "approval_channel": APPROVALS,
            "placement": {"vmid_min": 20001, "vmid_max": 20999},
            "digest": [{"channel": LAB, "cron": "0 9 * * 1-5"}],  # so /lxc digest in #lab posts there
        }
    )


# --- the stage: simulator, stand-in, Cardinal ---------------------------------------------------------


@dataclass
class Stage:
    """Everything running for the demo."""

    sim: Simulator
    proxmox: Running
    slack: FakeSlack
    slack_url: str
    cardinal: Cardinal
    events_url: str
    http: aiohttp.ClientSession

    def now(self) -> datetime:
        """Simulated time, which Cardinal's clock follows too."""
        return datetime.fromtimestamp(self.sim.clock.now(), UTC)


@contextlib.asynccontextmanager
async def stage(*, seed: int, speed: float, workdir: Path) -> AsyncIterator[Stage]:
    """Start the simulator (HTTPS, pinned), the Slack stand-in and Cardinal; stop them all afterwards."""
    sim = Simulator(
        nodes=3,
        speed=speed,
        seed=seed,
        task_durations=TASK_DURATIONS,
        duration_spread=0.2,
        dhcp_delay=DHCP_DELAY,
        start_time=START.timestamp(),
    )
    sim.add_token(TOKEN_ID, TOKEN_SECRET)
    slack = FakeSlack()
    for p in PEOPLE:
        slack.add_user(p.id, p.name)
    async with contextlib.AsyncExitStack() as stack:
        proxmox = await serve(sim, LOCALHOST, 0, tls=True)
        stack.push_async_callback(proxmox.close)
        slack_runner = web.AppRunner(slack.app(), access_log=None, handle_signals=False)
        await slack_runner.setup()
        stack.push_async_callback(slack_runner.cleanup)
        slack_site = web.TCPSite(slack_runner, LOCALHOST, 0)
        await slack_site.start()
        slack_url = f"http://{LOCALHOST}:{_port(slack_runner)}/api/"
        settings = _DemoSettings(
            proxmox_host=LOCALHOST,
            proxmox_port=proxmox.port,
            proxmox_token=TOKEN_ID,
            proxmox_secret=TOKEN_SECRET,
            proxmox_fingerprint=proxmox.fingerprint,
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=SIGNING_SECRET,
            slack_api_url=slack_url,
            database_url=f"sqlite+aiosqlite:///{workdir / 'cardinal-demo.db'}",
            internal_port=0,
            log_level="WARNING",
            sweep_interval=SWEEP_INTERVAL,
        )

        def clock() -> datetime:
            return datetime.fromtimestamp(sim.clock.now(), UTC)

        cardinal = await assemble(
            settings,
            policy=demo_policy(),
            client=make_web_client(BOT_TOKEN, slack_url, retry_interval=0.2),
            clock=clock,
            owner="cardinal-demo",
            tracker_options={"seed": seed},
        )
        stack.push_async_callback(cardinal.close)
        app_runner = await serve_http(cardinal, 0, host=LOCALHOST)
        stack.push_async_callback(app_runner.cleanup)
        cardinal.slack_ok = True
        cardinal.start_jobs()
        http = await stack.enter_async_context(aiohttp.ClientSession())
        yield Stage(
            sim=sim,
            proxmox=proxmox,
            slack=slack,
            slack_url=slack_url,
            cardinal=cardinal,
            events_url=f"http://{LOCALHOST}:{_port(app_runner)}/slack/events",
            http=http,
        )


def _port(runner: web.AppRunner) -> int:
    address = runner.addresses[0]
    return int(address[1])


# --- the story ----------------------------------------------------------------------------------------


@dataclass
class Story:
    """The people's side: they type commands, fill modals and click buttons, by signed HTTP requests."""

    stage: Stage
    talk: Conversation
    console: Console
    step_timeout: float = STEP_TIMEOUT
    _seq: int = 0

    # -- Slack, as the people use it --------------------------------------------------------------

    async def _send(self, body: bytes) -> tuple[int, Any]:
        headers = signed_request_headers(body, SIGNING_SECRET, int(time.time()))
        async with self.stage.http.post(self.stage.events_url, data=body, headers=headers) as resp:
            text = await resp.text()
            return resp.status, (json.loads(text) if text.startswith("{") else text)

    def _next(self, prefix: str) -> str:
        self._seq += 1
        return f"{prefix}-{self._seq}"

    async def command(self, who: Person, text: str, channel: str = LAB) -> str:
        """``who`` types ``/lxc <text>`` in ``channel``; returns the trigger id."""
        self.talk.says(channel, who, f"/lxc {text}".rstrip())
        trigger, hook = self._next("trigger"), self._next("hook")
        self.talk.hooks[hook] = (channel, who.name)
        fields = slash_command(
            text,
            user=who.id,
            channel=channel,
            trigger_id=trigger,
            response_url=self.stage.slack_url.removesuffix("/api/") + f"/hooks/{hook}",
            user_name=who.name,
            channel_name=CHANNELS[channel],
        )
        status, body = await self._send(form_body(fields))
        if status != 200:
            raise DemoFailed(f"Cardinal answered /lxc {text} with HTTP {status}: {body}")
        if isinstance(body, dict) and (body.get("text") or body.get("blocks")):
            self.talk.private(channel, who.name, body)  # answered in the acknowledgement itself
        return trigger

    async def click(self, who: Person, message: Mapping[str, Any], action_id: str, channel: str) -> None:
        """``who`` clicks the button ``action_id`` of ``message``."""
        button = _button(message, action_id)
        label = " ".join(self.talk.render.text_object(button.get("text")))
        self.talk.does(channel, who, f"clicks {self.talk.render.style.button(label, button.get('style'))}")
        hook = self._next("hook")
        self.talk.hooks[hook] = (channel, who.name)
        payload = block_action(
            action_id,
            str(button.get("value", "")),
            user=who.id,
            channel=channel,
            message_ts=str(message["ts"]),
            block_id=_block_of(message, action_id),
            response_url=self.stage.slack_url.removesuffix("/api/") + f"/hooks/{hook}",
            trigger_id=self._next("trigger"),
            message=dict(message),
            user_name=who.name,
            channel_name=CHANNELS[channel],
        )
        status, body = await self._send(interactive_body(payload))
        if status != 200:
            raise DemoFailed(f"Cardinal answered the click on {label} with HTTP {status}: {body}")

    async def submit(self, who: Person, view: Mapping[str, Any], values: dict[str, Any]) -> None:
        """``who`` presses the modal's submit button with ``values`` (``{block_id: element state}``)."""
        payload = view_submission(
            str(view.get("callback_id", "")), values, user=who.id, view=dict(view), user_name=who.name
        )
        status, body = await self._send(interactive_body(payload))
        if status != 200:
            raise DemoFailed(f"Cardinal answered the form with HTTP {status}: {body}")
        refused = self.stage.slack.view_response(view, body)
        if refused:
            raise DemoFailed(f"Slack rejected Cardinal's answer to the form: {'; '.join(refused)}")
        if isinstance(body, dict) and body.get("response_action") == "errors":
            raise DemoFailed(f"Cardinal refused the form: {body.get('errors')}")

    # -- waiting ----------------------------------------------------------------------------------

    async def until(self, what: str, check: Callable[[], Any]) -> Any:
        """Print the conversation as it happens until ``check()`` gives something truthy; return it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.step_timeout
        while True:
            self.talk.flush()
            result = check()
            if result:
                return result
            if loop.time() > deadline:
                self.console.progress(None)
                raise DemoFailed(f"gave up waiting for {what} after {self.step_timeout:.0f} s")
            self._progress()
            await asyncio.sleep(POLL)

    async def settle(self) -> None:
        """Let the moment play out: print until Slack has been quiet for a little while."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.step_timeout
        quiet_since = loop.time()
        while loop.time() - quiet_since < QUIET and loop.time() < deadline:
            if self.talk.flush():
                quiet_since = loop.time()
            self._progress()
            await asyncio.sleep(POLL)
        await self.stage.cardinal.services.background.idle()
        self.talk.flush()
        self.console.progress(None)

    def _progress(self) -> None:
        sim = self.stage.sim
        now = sim.clock.now()
        running = [t for t in sim.tasks if t.running]
        if running:
            what = ", ".join(f"{t.type} {t.id} on {t.node}" for t in running[:3])
            ages = f"{now - min(t.started for t in running):.0f}s"
            self.console.progress(f"⏳ waiting on Proxmox: {what} …", detail=ages)
            return
        leasing = [
            ct
            for ct in sim.containers.values()
            if ct.running
            and ct.running_since is not None
            and "ip=dhcp" in str(ct.config.get("net0", ""))
            and now < ct.running_since + sim.dhcp_delay
        ]
        if leasing:
            ct = leasing[0]
            self.console.progress(f"⏳ waiting for CT {ct.vmid} on {ct.node} to get a DHCP lease …")
            return
        self.console.progress(None)

    # -- reading Slack ----------------------------------------------------------------------------

    def _messages(self, channel: str) -> list[dict[str, Any]]:
        return self.stage.slack.messages(channel)

    def root_of(self, who: Person, hostname: str) -> dict[str, Any] | None:
        """The thread root of ``who``'s request for ``hostname`` in #lab."""
        for m in self._messages(LAB):
            if _is_request_root(m) and f"<@{who.id}>" in m["text"] and f" {hostname} " in f" {m['text']} ":
                return m
        return None

    def replies(self, root: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The replies in a thread, in order."""
        return [m for m in self._messages(LAB) if m.get("thread_ts") == root["ts"] and m["ts"] != root["ts"]]

    def card_for(self, hostname: str) -> dict[str, Any] | None:
        """The approval card of the request for ``hostname``."""
        for m in self._messages(APPROVALS):
            if f"Approval: {hostname}" in json.dumps(m.get("blocks", []), ensure_ascii=False):
                return m
        return None

    def _view(self, kind: str, callback_id: str, after: int) -> Activity | None:
        for a in self.stage.slack.activity[after:]:
            if a.kind == kind and a.message.get("callback_id") == callback_id:
                return a
        return None

    # -- the requests -----------------------------------------------------------------------------

    async def ask(
        self,
        who: Person,
        hostname: str,
        preset: str,
        purpose: str,
        *,
        show_form: bool,
    ) -> dict[str, Any]:
        """``who`` runs ``/lxc create``, fills the modal and submits; returns the thread root."""
        mark = len(self.stage.slack.activity)
        await self.command(who, "create")
        opened = await self.until(
            "the create modal to open", lambda: self._view("view_open", CALLBACK_CREATE, mark)
        )
        # Cardinal opens the modal filled when its copies of the nodes and templates are fresh, else at
        # once with the list loading, filled in by an update.
        at_once = bool(_input(opened.message, "template").get("options"))
        filled = (
            opened
            if at_once
            else await self.until(
                "the templates in the create modal",
                lambda: self._view("view_update", CALLBACK_CREATE, mark),
            )
        )
        view = {**filled.message, "id": filled.ts, "hash": self.stage.slack.views[filled.ts].hash}
        template = _option_value(view, "template", TEMPLATE_HINT)
        if template is None:
            raise DemoFailed(f"no {TEMPLATE_HINT} template was offered in the create modal")
        entered = {
            "hostname": hostname,
            "count": "1",
            "template": template,
            "preset": preset,
            "net_mode": "dhcp",
            "bridge": "vmbr0",
            "lifetime": "7d",
            "node": NODE_AUTO,
            "purpose": purpose,
        }
        if show_form:
            count = len(_input(view, "template").get("options", []))
            if at_once:
                self.talk.narrate(f"the “New container” modal opens with the {count} templates Proxmox has")
            else:
                loading = _option_label(opened.message, TEMPLATE_UNAVAILABLE_BLOCK)
                self.talk.narrate(
                    f"the “New container” modal opens at once with “{loading}”, then fills in with the "
                    f"{count} templates Proxmox has"
                )
            self.talk.modal(who, view, entered)
        else:
            chosen = ", ".join([hostname, preset, _label(template), entered["lifetime"]])
            self.talk.narrate(f"{who.name} fills in the “New container” modal: {chosen}, purpose “{purpose}”")
        self.talk.narrate(f"{who.name} presses [ Request ]")
        await self.submit(who, view, _create_values(entered))
        root = await self.until(f"the thread for {hostname}", lambda: self.root_of(who, hostname))
        return dict(root)

    async def play(self) -> None:
        """The whole story."""
        talk = self.talk
        talk.act(1, "Alice asks for a staging server")
        root = await self.ask(ALICE, "web", "medium", "staging for the checkout team", show_form=True)
        card = await self.until("the approval card for web", lambda: self.card_for("web"))
        await self.settle()

        talk.act(2, "Bob approves; Cardinal creates, starts and addresses the container")
        await self.click(BOB, card, ACTION_APPROVE, APPROVALS)
        await self.until("web to be ready", lambda: _reply_with(self.replies(root), "is ready"))
        await self.settle()

        talk.act(3, "Carol asks for a big database; Bob says no")
        root = await self.ask(CAROL, "bigdb", "large", "load test of the new schema", show_form=False)
        card = await self.until("the approval card for bigdb", lambda: self.card_for("bigdb"))
        await self.settle()
        mark = len(self.stage.slack.activity)
        await self.click(BOB, card, ACTION_DENY, APPROVALS)
        opened = await self.until(
            "the deny-reason modal", lambda: self._view("view_open", CALLBACK_DENY_REASON, mark)
        )
        view = {**opened.message, "id": opened.ts, "hash": self.stage.slack.views[opened.ts].hash}
        reason = "64 GiB is more than a load test needs; please use medium and a 3-day lifetime."
        talk.modal(BOB, view, {"reason": reason})
        talk.narrate("bob presses [ Deny ]")
        await self.submit(BOB, view, {"reason": {VALUE: plain(reason)}})
        await self.until("Carol to hear the outcome", lambda: _reply_with(self.replies(root), "denied"))
        await self.settle()

        talk.act(4, "Dave's CI runner is auto-approved, but the disk is full")
        for node in self.stage.sim.nodes:
            storage = self.stage.sim.storage(node, "local-lvm")
            storage.capacity = storage.used
        talk.narrate("meanwhile local-lvm fills up on every node of the simulated cluster")
        root = await self.ask(DAVE, "ci-runner", "small", "runner for the nightly builds", show_form=False)
        await self.until("the failure report", lambda: _reply_with(self.replies(root), "failed"))
        await self.settle()

        talk.act(5, "The digest")
        await self.command(BOB, "digest")
        await self.until(
            "the digest",
            lambda: [m for m in self._messages(LAB) if m["text"].startswith("Cardinal digest")],
        )
        await self.settle()


def _reply_with(replies: list[dict[str, Any]], words: str) -> dict[str, Any] | None:
    return next((m for m in replies if words in m.get("text", "")), None)


def _button(message: Mapping[str, Any], action_id: str) -> dict[str, Any]:
    for block in message.get("blocks", []):
        for element in block.get("elements", []) or []:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return element
    raise DemoFailed(f"the message has no {action_id} button")


def _block_of(message: Mapping[str, Any], action_id: str) -> str:
    for block in message.get("blocks", []):
        for element in block.get("elements", []) or []:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return str(block.get("block_id", "actions"))
    return "actions"


def _input(view: Mapping[str, Any], block_id: str) -> Mapping[str, Any]:
    for block in view.get("blocks", []):
        if block.get("block_id") == block_id:
            element = block.get("element")
            return element if isinstance(element, Mapping) else {}
    return {}


def _option_value(view: Mapping[str, Any], block_id: str, hint: str) -> str | None:
    for option in _input(view, block_id).get("options", []):
        if hint in str(option.get("value", "")):
            return str(option["value"])
    return None


def _option_label(view: Mapping[str, Any], block_id: str) -> str:
    options = _input(view, block_id).get("options", [])
    return str(options[0]["text"]["text"]) if options else "…"


def _label(volid: str) -> str:
    return template_label(volid)


def _create_values(entered: Mapping[str, str]) -> dict[str, Any]:
    """The create modal's ``state.values`` as Slack sends them for what the person entered."""
    return {
        "hostname": {VALUE: plain(entered["hostname"])},
        "count": {VALUE: number(entered["count"])},
        "template": {VALUE: selected(entered["template"])},
        "preset": {VALUE: selected(entered["preset"])},
        "net_mode": {VALUE: selected(entered["net_mode"], "radio_buttons")},
        "bridge": {VALUE: selected(entered["bridge"])},
        "lifetime": {VALUE: selected(entered["lifetime"])},
        "node": {VALUE: selected(entered["node"])},
        "purpose": {VALUE: plain(entered["purpose"])},
    }


# --- entry point --------------------------------------------------------------------------------------


def _intro(talk: Conversation, s: Stage, speed: float) -> None:
    style = talk.render.style
    nodes = ", ".join(s.sim.nodes)
    lines = [
        style.bold("Cardinal demo") + " — the real Cardinal, a simulated Proxmox cluster and a local Slack.",
        f"  Proxmox   simulator {s.sim.version}, nodes {nodes}, at {s.proxmox.url} "
        f"(TLS, certificate pinned); time runs {speed:g}× faster",
        f"  Slack     local stand-in at {s.slack_url}; Cardinal serves signed requests at {s.events_url}",
        "  Database  SQLite in a temporary directory; tracker and scheduler jobs running",
        "  People    alice, carol and dave ask for containers in #lab; bob approves in #approvals",
    ]
    talk.console.lines(lines)


async def run_demo(
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    color: bool | None = None,
    seed: int = SEED,
    speed: float = SPEED,
    step_timeout: float = STEP_TIMEOUT,
) -> int:
    """``cardinal demo``: play the story and print it; 0 when it ran to the end, 1 otherwise.

    ``out`` gets the conversation (default stdout), ``err`` the warnings of Cardinal's logs (default
    stderr). Colour and the in-place progress line are used only when ``out`` is a terminal (and
    ``NO_COLOR`` is unset), unless ``color`` says otherwise.
    """
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    configure_logging("WARNING", "auto", stream=err)
    # With a quarter-second sweep on a busy machine APScheduler warns about every skipped run; for the
    # demo that is noise (the next sweep does the work), so only its errors are shown.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    isatty = getattr(out, "isatty", None)
    tty = bool(isatty and isatty())
    style = Style(color=use_color(out) if color is None else color)
    console = Console(out, tty=tty, style=style)
    render = Renderer(Directory({p.id: p.name for p in PEOPLE}, CHANNELS), style)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="cardinal-demo-") as tmp:
        try:
            async with stage(seed=seed, speed=speed, workdir=Path(tmp)) as s:
                talk = Conversation(s.slack, console, render, s.now)
                _intro(talk, s, speed)
                story = Story(s, talk, console, step_timeout=step_timeout)
                await story.play()
                simulated = (s.sim.clock.now() - START.timestamp()) / 60
                calls = len(s.slack.recorded)
                requests = len(s.sim.request_log)
        except Exception as exc:
            console.progress(None)
            console.line()
            if isinstance(exc, DemoFailed):
                console.line(f"cardinal demo: {exc}")
            else:
                console.line(f"cardinal demo: stopped by an unexpected {type(exc).__name__}: {exc}")
                traceback.print_exception(exc, file=err)
            console.line("This is a bug in Cardinal or its demo; please report it with the output above.")
            return 1
    console.line()
    console.line(
        style.bold("That was the real Cardinal.")
        + f" {calls} Slack API calls, {requests} Proxmox API requests, "
        f"{simulated:.0f} simulated minutes in {time.monotonic() - started:.1f} s."
    )
    console.line(
        "Next: `cardinal sandbox` serves this simulator for your own Slack app; `cardinal check` "
        "verifies a real setup."
    )
    return 0
