"""Checks of the local configuration: settings, the policy file and the database."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from pathlib import Path

from bot.errors import ConfigError
from bot.ops.check.result import CheckResult, CheckTargets
from bot.policy import load_policy
from bot.settings import Settings, load_settings

# --- settings ----------------------------------------------------------------------------------


SETTINGS_HINT = (
    "Set it in the environment or in {env_file}; the README's Configuration reference lists every setting."
)
POLICY_HINT = "Fix POLICY_FILE {path}; the README's section 'The policy file' describes every key."
SLACK_PLACEHOLDERS = {"slack_bot_token": "xoxb-placeholder", "slack_signing_secret": "placeholder"}
"""Stand-ins that let ``check`` run its other checks when only the Slack settings are missing or bad."""


def check_settings(env_file: Path | None = Path(".env")) -> tuple[Settings | None, list[CheckResult]]:
    """Load the settings; one ✗ per problem (naming the variable, never its value) when they are bad."""
    try:
        settings = load_settings(_env_file=env_file)
    except ConfigError as exc:
        hint = SETTINGS_HINT.format(env_file=env_file or ".env")
        return None, [CheckResult("Settings", False, problem, hint) for problem in exc.problems]
    mode = "Socket Mode" if settings.socket_mode else "HTTP mode"
    auth = f"token {settings.proxmox_token}" if settings.uses_token else f"user {settings.proxmox_username}"
    db = settings.database_url.split(":", 1)[0]
    return settings, [CheckResult("Settings", True, f"valid ({mode}, Proxmox {auth}, database {db})")]


def settings_without_slack(env_file: Path | None, problems: Sequence[str]) -> Settings | None:
    """The settings with stand-ins for the Slack ones, when only Slack settings are missing or invalid
    (e.g. the snippet ``cardinal sandbox`` prints): the database and Proxmox checks can still run."""
    if not problems or not all(p.startswith("SLACK_") for p in problems):
        return None
    try:
        return load_settings(_env_file=env_file, **SLACK_PLACEHOLDERS)
    except ConfigError:
        return None


def check_policy(settings: Settings) -> tuple[CheckTargets | None, list[CheckResult]]:
    """Load ``POLICY_FILE`` (or the built-in defaults); one ✗ per problem, naming the TOML key; then the
    policy's own warnings (:meth:`Policy.warnings`) — an empty ``approvers`` fails, the others warn."""
    try:
        policy = load_policy(settings.policy_file)
    except ConfigError as exc:
        hint = POLICY_HINT.format(path=settings.policy_file)
        return None, [CheckResult("Policy", False, problem, hint) for problem in exc.problems]
    source = str(settings.policy_file) if settings.policy_file else "built-in defaults"
    targets = CheckTargets.from_policy(policy)
    detail = (
        f"{source} (templates on {targets.template_storage}, disks on {', '.join(targets.rootfs_storages)}, "
        f"bridges {', '.join(targets.bridges)})"
    )
    results = [CheckResult("Policy", True, detail)]
    where = f"in {settings.policy_file}" if settings.policy_file else "in a policy file and set POLICY_FILE"
    for warning in policy.warnings():
        key = warning.split(" ", 1)[0]
        hint = f"Set {key} {where}; the README's section 'The policy file' describes it."
        if key == "approvers":  # nobody can approve: every request beyond auto_approve is stuck
            results.append(CheckResult("Policy approvers", False, warning, hint))
        else:
            results.append(CheckResult(f"Policy {key}", True, warning, hint, warning=True))
    return targets, results


# --- database ----------------------------------------------------------------------------------


def _sqlite_file_missing(database: str) -> CheckResult | None:
    """For a SQLite file that does not exist yet: whether ``cardinal run`` will be able to create it."""
    path = Path(database).expanduser()
    if path.exists():
        return None
    ancestor = next(p for p in (path.parent, *path.parent.parents) if p.exists())
    if not ancestor.is_dir() or not os.access(ancestor, os.W_OK | os.X_OK):
        return CheckResult(
            "Database",
            False,
            f"SQLite file {path} cannot be created ({ancestor} is not a writable directory)",
            "Point DATABASE_URL at a writable directory (the image mounts /data for it).",
        )
    return CheckResult("Database", True, f"SQLite file {path} will be created by `cardinal run`")


async def check_database(settings: Settings, *, limit: float) -> CheckResult:
    """``DATABASE_URL`` opens (without creating or migrating anything) and says how far it is migrated."""
    from sqlalchemy.engine import make_url

    from bot.db.engine import build_engine
    from bot.db.migrate import current_revision, head_revision

    name = "Database"
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if not database or database == ":memory:" or database.startswith("file:"):
            return CheckResult(name, True, "SQLite in memory (nothing is kept across restarts)")
        missing = _sqlite_file_missing(database)
        if missing is not None:
            return missing
    engine = build_engine(settings.database_url, pooled=False, readonly=True)
    try:
        async with asyncio.timeout(limit):
            revision = await current_revision(engine)
    except Exception as exc:  # whatever the driver raises, the fix is in DATABASE_URL or the server
        from bot.ops.startup import database_error

        line = database_error(exc).problems[0].removeprefix("DATABASE_URL: ")
        what, _, fix = line.partition("; ")
        return CheckResult(name, False, what, fix[:1].upper() + fix[1:] + ".")
    finally:
        await engine.dispose()
    backend = url.get_backend_name()
    if revision == head_revision():
        return CheckResult(name, True, f"{backend} reachable, at the latest migration")
    state = "empty" if revision is None else f"at migration {revision}"
    return CheckResult(name, True, f"{backend} reachable, {state}; `cardinal run` migrates it at start")
