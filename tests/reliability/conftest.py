"""Fixtures for reliability tests: Cardinal as real processes against an in-test simulator and fake Slack.

The Proxmox simulator (HTTPS, pinned fingerprint, real clock, short task durations) and the fake Slack
are served from the test process, so they outlive every bot crash and the test reads their state
directly. Bots are started with :meth:`Lab.spawn` (see :mod:`tests.reliability.procs`).

Larger variants are marked ``slow`` and skipped unless ``CARDINAL_RUN_SLOW=1`` (or ``--run-slow``, where
the root conftest defines it).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from bot.db.engine import build_engine
from cardinal_sim.proxmox.core import Simulator
from cardinal_sim.proxmox.server import Running, serve
from cardinal_sim.proxmox.state import FaultConfig
from tests.conftest import ServerFactory
from tests.fakes.slack import FakeSlack
from tests.reliability.procs import BotProcess, SlackDriver, bot_env

SLOW_ENV = "CARDINAL_RUN_SLOW"
POSTGRES_ENV = "CARDINAL_TEST_POSTGRES_URL"

SIGNING_SECRET = "rel-signing-secret-0123456789abcdef"
BOT_TOKEN = "xoxb-rel-bot-token-000000000001"
TOKEN_ID = "cardinal@pve!rel"
TOKEN_SECRET = "0d6f2c1e-7a4b-4c3d-9e8f-a1b2c3d4e5f6"
CHANNEL = "C0LAB0001"
APPROVALS = "C0APPROVE"
DIGESTS = "C0DIGEST1"
REQUESTER = "U0REQUEST"
APPROVER = "U0APPROVE"
OTHER = "U0OTHER01"

POLICY_TOML = """\
approvers = ["{approver}"]
approval_channel = "{approvals}"

[presets.tiny]
cores = 1
memory_mib = 64
swap_mib = 0
disk_gib = 1

[presets.small]
cores = 1
memory_mib = 1024
swap_mib = 512
disk_gib = 8

[presets.large]
cores = 4
memory_mib = 8192
swap_mib = 2048
disk_gib = 64

[quota]
max_containers = 10000
total_memory_mib = 100000000
total_disk_gib = 10000000

[[auto_approve]]
presets = ["tiny", "small"]
max_count = 1
max_lifetime = "7d"

[placement]
bridges = ["vmbr0", "vmbr1"]
vmid_min = 20000
vmid_max = 29999
"""

DIGEST_TOML = """
[[digest]]
channel = "{channel}"
cron = "* * * * *"
quiet_when_unchanged = false
"""


def run_slow(config: pytest.Config) -> bool:
    """Whether the larger variants run (``CARDINAL_RUN_SLOW=1`` or ``--run-slow``)."""
    flag = False
    try:
        flag = bool(config.getoption("--run-slow"))
    except ValueError:
        flag = False
    return flag or os.environ.get(SLOW_ENV, "") not in ("", "0")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``slow`` reliability tests unless asked for."""
    if run_slow(config):
        return
    skip = pytest.mark.skip(reason=f"larger variant: set {SLOW_ENV}=1 to run it")
    here = Path(__file__).parent
    for item in items:
        if "slow" in item.keywords and here in Path(str(item.fspath)).parents:
            item.add_marker(skip)


@dataclass
class Lab:
    """The in-test fakes and the bot processes started against them."""

    sim: Simulator
    proxmox: Running
    slack: FakeSlack
    slack_url: str
    driver: SlackDriver
    tmp: Path
    bots: list[BotProcess] = field(default_factory=list)

    def policy_file(self, *, digest: bool = False) -> Path:
        path = self.tmp / ("policy-digest.toml" if digest else "policy.toml")
        body = POLICY_TOML.format(approver=APPROVER, approvals=APPROVALS)
        if digest:
            body += DIGEST_TOML.format(channel=DIGESTS)
        path.write_text(body)
        return path

    def sqlite_url(self) -> str:
        return f"sqlite+aiosqlite:///{self.tmp / 'cardinal.db'}"

    def spawn(
        self,
        name: str,
        *,
        database_url: str | None = None,
        digest: bool = False,
        tuning: dict[str, float] | None = None,
        bot_token: str = BOT_TOKEN,
        signing_secret: str = SIGNING_SECRET,
        token_secret: str = TOKEN_SECRET,
        **extra: str,
    ) -> BotProcess:
        """Start a bot process (not yet waited for: call ``await bot.wait_ready()``)."""
        assert self.proxmox.fingerprint is not None
        env = bot_env(
            proxmox_port=self.proxmox.port,
            fingerprint=self.proxmox.fingerprint,
            token_id=TOKEN_ID,
            token_secret=token_secret,
            slack_api_url=self.slack_url + "/api/",
            bot_token=bot_token,
            signing_secret=signing_secret,
            database_url=database_url or self.sqlite_url(),
            policy_file=self.policy_file(digest=digest),
            tuning=tuning,
            **extra,
        )
        bot = BotProcess(name, env, self.tmp)
        bot.start()
        self.bots.append(bot)
        return bot

    # --- reading Slack ---------------------------------------------------------------------------

    def keyed(self, channel: str = CHANNEL) -> list[tuple[str, dict[str, Any]]]:
        """(outbox key, message) for every message Cardinal tagged with a key in ``channel``."""
        out = []
        for m in self.slack.messages(channel):
            payload = (m.get("metadata") or {}).get("event_payload") or {}
            if "key" in payload:
                out.append((str(payload["key"]), m))
        return out

    def finals(self, channel: str = CHANNEL) -> list[tuple[str, dict[str, Any]]]:
        """The final message of each container (``container:<vmid>:final:<request>``), as posted."""
        return [(k, m) for k, m in self.keyed(channel) if k.startswith("container:") and ":final:" in k]

    def explain(self) -> str:
        """What Slack shows and how each bot ended its log, for failure messages."""
        lines = ["Slack messages (key: text):"]
        for channel in sorted(self.slack._messages):
            for m in self.slack.messages(channel):
                key = ((m.get("metadata") or {}).get("event_payload") or {}).get("key")
                lines.append(f"  {channel} {key}: {m.get('text', '')[:120]!r}")
        for bot in self.bots:
            lines.append(f"--- {bot.name} log tail ---")
            lines.append(bot.log_tail(25))
        return "\n".join(lines)

    def creates(self) -> list[Any]:
        """Create calls (``POST /nodes/<node>/lxc``) that reached the simulator's handler."""
        return [
            r for r in self.sim.request_log if r.method == "POST" and r.path.endswith("/lxc") and not r.fault
        ]


@pytest.fixture
def sim_faults() -> FaultConfig:
    """Override in a module to inject request faults from the start."""
    return FaultConfig(seed=7)


@pytest.fixture
async def lab(aiohttp_server: ServerFactory, tmp_path: Path, sim_faults: FaultConfig) -> AsyncIterator[Lab]:
    """Simulator + fake Slack served from the test process; bot processes stopped at the end."""
    sim = Simulator(
        nodes=3,
        speed=1.0,
        seed=3,
        faults=sim_faults,
        dhcp_delay=0.5,
        stats_interval=1.0,
        task_durations={"vzcreate": 1.5, "vzstart": 0.5, "vzstop": 0.3, "vzdestroy": 0.3},
        duration_spread=0.3,
    )
    sim.add_token(TOKEN_ID, TOKEN_SECRET)
    proxmox = await serve(sim, tls=True)
    slack = FakeSlack()
    for user in (REQUESTER, APPROVER, OTHER):
        slack.add_user(user)
    server = await aiohttp_server(slack.app())
    slack_url = str(server.make_url("")).rstrip("/")
    driver = SlackDriver(slack, slack_url, SIGNING_SECRET, CHANNEL)
    lab = Lab(sim, proxmox, slack, slack_url, driver, tmp_path)
    try:
        yield lab
    finally:
        for bot in lab.bots:
            await bot.stop(timeout=10)
        await driver.close()
        await proxmox.close()


async def _admin(base: str, statement: str) -> None:
    engine = build_engine(base, pooled=False)
    try:
        async with engine.connect() as raw:
            conn = await raw.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database (dropped afterwards) as an asyncpg URL for bot processes."""
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"{POSTGRES_ENV} is unset, so the PostgreSQL replicas test is skipped")
    name = f"cardinal_rel_{uuid.uuid4().hex[:12]}"
    await _admin(base, f'CREATE DATABASE "{name}"')
    prefix, _, _db = base.rpartition("/")
    try:
        yield f"{prefix}/{name}"
    finally:
        await _admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


_OUTSTANDING = text(
    "SELECT count(*) FROM tracked_task WHERE status IN ('queued', 'submitting', 'running') "
    "OR notify_state = 'pending'"
)
_OPEN_REQUESTS = text(
    "SELECT count(*) FROM container_request WHERE state IN ('requested', 'approved', 'creating', 'starting')"
)


async def requests_in(database_url: str, *states: str) -> int:
    """How many requests are in one of ``states`` (``requested``, ``approved``, ``creating`` …)."""
    marks = ", ".join(f"'{state}'" for state in states)
    engine = build_engine(database_url, pooled=False)
    try:
        async with engine.connect() as conn:
            query = text(f"SELECT count(*) FROM container_request WHERE state IN ({marks})")  # noqa: S608
            return int((await conn.execute(query)).scalar_one())
    finally:
        await engine.dispose()


async def outstanding(database_url: str) -> int:
    """Ledger rows still running or whose final message is not delivered, plus requests not finished."""
    engine = build_engine(database_url, pooled=False)
    try:
        async with engine.connect() as conn:
            tasks = (await conn.execute(_OUTSTANDING)).scalar_one()
            requests = (await conn.execute(_OPEN_REQUESTS)).scalar_one()
    finally:
        await engine.dispose()
    return int(tasks) + int(requests)
