"""The ``cardinal`` command line: run, demo, sandbox, check, migrate, reconcile.

Exit codes: 0 success, 1 a check failed or the command failed at run time, 2 bad usage or configuration.
Expected errors print one readable line each on stderr — never a traceback, never a secret. Subcommands
import their implementation lazily, so ``cardinal --help`` and ``cardinal check`` work whatever else is
installed, and a missing part is reported in one line.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import CardinalError, ConfigError
from bot.ops.startup import StartupError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

T = TypeVar("T")


class _Unavailable(Exception):
    """The module implementing a subcommand is not part of this build (yet)."""


class DatabaseSettings(BaseSettings):
    """Only ``DATABASE_URL``: ``cardinal migrate`` must not need Slack or Proxmox credentials."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False, frozen=True
    )

    database_url: str = Field("sqlite+aiosqlite:///./data/cardinal.db")
    log_level: str = Field("INFO")
    log_format: str = Field("auto")

    @field_validator("database_url")
    @classmethod
    def _db_url(cls, v: str) -> str:
        if not v.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return v


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors with exit code 2 and one ``cardinal: error: …`` line."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("must be a port number 0-65535")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be greater than 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and documentation)."""
    parser = _Parser(
        prog="cardinal",
        description="Cardinal: Slack chat-ops for Proxmox VE (LXC containers on request, with approvals).",
        epilog="Exit status: 0 ok, 1 check or command failed, 2 usage or configuration error.",
    )
    parser.add_argument(
        "--env-file",
        type=Path,
        default=Path(".env"),
        help="dotenv file to read settings from, besides the environment (default: .env)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser(
        "run",
        help="run the bot (Socket Mode when SLACK_APP_TOKEN is set, else HTTP mode)",
        description="Run Cardinal: applies migrations, connects to Slack (Socket Mode when SLACK_APP_TOKEN "
        "is set, otherwise HTTP mode serving POST /slack/events), starts the task tracker and the "
        "internal /healthz, /readyz and /metrics server.",
    )
    p.add_argument("--port", type=_port, default=None, help="HTTP mode port (default: HTTP_PORT, 3000)")

    sub.add_parser(
        "demo",
        help="play a whole scenario offline against the bundled simulator",
        description="Needs no credentials and no network: starts the Proxmox simulator and a local Slack "
        "stand-in, plays request → approval → creation → IP → digest (plus one failure) through the "
        "real handlers, scheduler and database, and prints the conversation.",
    )

    p = sub.add_parser(
        "sandbox",
        help="serve the Proxmox simulator over HTTPS to try the real bot",
        description="Serve the Proxmox VE simulator over HTTPS with a self-signed certificate and print "
        "its API token and certificate fingerprint, so the real bot can be tried without a Proxmox host. "
        "Stop it with Ctrl-C.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=_port, default=8006, help="port to listen on (default: 8006)")
    p.add_argument("--nodes", type=_positive_int, default=3, help="number of cluster nodes (default: 3)")
    p.add_argument(
        "--fault-rate",
        type=_fraction,
        default=0.0,
        help="share of requests answered with injected faults (5xx, 595, timeouts), 0-1 (default: 0)",
    )
    p.add_argument(
        "--speed", type=_positive_float, default=1.0, help="task speed factor; 10 = ten times faster"
    )
    p.add_argument("--seed", type=int, default=0, help="random seed for faults and durations (default: 0)")

    sub.add_parser(
        "check",
        help="verify the configuration end to end, with a fix hint for each problem",
        description="Verify the configuration: settings; the policy and its warnings; the database; Slack "
        "auth.test and scopes; Proxmox reachability, TLS (prints the fingerprint to pin), clock skew, "
        "version ≥ 8.1, the token's privileges, PROXMOX_NODE, template storage and bridges. Prints one "
        "✓/✗ line per check (! for a warning). Exit status: 0 all passed, 1 a check failed, 2 the "
        "settings are invalid (the checks that can still run do).",
    )

    sub.add_parser(
        "migrate",
        help="apply database migrations (needs only DATABASE_URL)",
        description="Apply the database migrations to DATABASE_URL (SQLite or PostgreSQL). Needs no Slack "
        "or Proxmox credentials. `cardinal run` also migrates at start, under a lock.",
    )

    p = sub.add_parser(
        "reconcile",
        help="compare Proxmox with the database and report drift",
        description="Compare the containers on Proxmox with Cardinal's database: report containers changed "
        "or removed outside Cardinal. With --adopt, record containers that carry Cardinal's ownership "
        "tags but are missing from the database (e.g. after the database was lost).",
    )
    p.add_argument(
        "--adopt",
        action="store_true",
        help="adopt containers tagged by Cardinal that the database does not know",
    )
    return parser


def _err(message: str) -> None:
    print(f"cardinal: {message}", file=sys.stderr)


def _load(module: str, attr: str) -> Callable[..., Any]:
    """Import ``module.attr`` lazily; :class:`_Unavailable` when the module is not in this build."""
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (module == exc.name or module.startswith(exc.name + ".")):
            raise _Unavailable(f"{module} is not available in this build") from None
        raise
    fn = getattr(mod, attr, None)
    if not callable(fn):
        raise _Unavailable(f"{module}.{attr} is not available in this build")
    return fn  # type: ignore[no-any-return]


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop where it is installed, else ``None`` (the standard library's).

    Cardinal depends on uvloop on Linux with CPython: it spends less CPU per Proxmox and Slack request
    than asyncio's selector loop and pure-Python TLS layer (bench/README.md, ``client_cost``). Elsewhere,
    or with it uninstalled, the standard loop runs everything the same way.
    """
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` to completion on the event loop Cardinal's commands use (:func:`event_loop_factory`)."""
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        return runner.run(main)


def _call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> int:
    """Call a sync or async entry point; its int result (if any) becomes the exit code."""
    result = fn(*args, **kwargs)
    if inspect.isawaitable(result):

        async def _await() -> Any:
            return await result

        result = run_async(_await())
    return result if isinstance(result, int) and not isinstance(result, bool) else EXIT_OK


def _configure_logging(level: str, fmt: str) -> None:
    try:
        configure = _load("bot.logs", "configure_logging")
    except _Unavailable:
        return
    configure(level, fmt)


def _settings(env_file: Path) -> Any:
    from bot.settings import load_settings

    return load_settings(_env_file=env_file)


def _cmd_run(args: argparse.Namespace) -> int:
    settings = _settings(args.env_file)
    # The composition root wires the Slack app; bot/ reaches it only here, lazily.
    run = _load("handlers.runtime", "run")
    return _call(run, settings, port=args.port)


def _cmd_demo(_: argparse.Namespace) -> int:
    return _call(_load("cardinal_sim.demo.story", "run_demo"))


def _cmd_sandbox(args: argparse.Namespace) -> int:
    run_sandbox = _load("cardinal_sim.proxmox.sandbox", "run_sandbox")
    try:
        return _call(run_sandbox, args.host, args.port, args.nodes, args.fault_rate, args.speed, args.seed)
    except OSError as exc:  # the listening socket: busy port, address not on this host, no privilege
        from bot.ops.startup import port_error

        raise port_error(exc, "--port", args.port) from None


def _cmd_check(args: argparse.Namespace) -> int:
    from bot.ops.check.config import check_policy, check_settings, settings_without_slack
    from bot.ops.check.result import CheckTargets, passed, render
    from bot.ops.check.run import run_checks

    settings, results = check_settings(args.env_file)
    slack_skipped = None
    if settings is None:
        # Only the Slack settings wrong (e.g. the sandbox's snippet)? Run the other checks anyway.
        settings = settings_without_slack(args.env_file, [r.detail for r in results])
        if settings is None:
            print(render(results))
            return EXIT_USAGE
        slack_skipped = "the Slack settings above are not usable"
    targets, policy_results = check_policy(settings)
    results += policy_results
    results += run_async(run_checks(settings, targets or CheckTargets(), slack_skipped=slack_skipped))
    print(render(results))
    if targets is None or slack_skipped is not None:
        return EXIT_USAGE
    return EXIT_OK if passed(results) else EXIT_FAILED


def _cmd_migrate(args: argparse.Namespace) -> int:
    from bot.settings import format_errors

    try:
        db = DatabaseSettings(_env_file=args.env_file)
    except ValidationError as exc:
        raise ConfigError(format_errors(exc)) from None
    migrate = _load("bot.db.migrate", "migrate")
    _configure_logging(db.log_level, db.log_format)
    try:
        code = _call(migrate, db.database_url)
    except CardinalError:
        raise
    except Exception as exc:  # the database being unreachable or refusing is an expected failure
        from bot.ops.startup import database_error

        raise database_error(exc) from None
    if code == EXIT_OK:
        print("cardinal: database is at the latest migration")
    return code


def _cmd_reconcile(args: argparse.Namespace) -> int:
    settings = _settings(args.env_file)
    reconcile = _load("bot.reconcile", "run")
    _configure_logging(settings.log_level, settings.log_format)
    return _call(reconcile, settings, adopt=args.adopt)


_SERVERS = frozenset({"run", "sandbox", "demo"})
_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "run": _cmd_run,
    "demo": _cmd_demo,
    "sandbox": _cmd_sandbox,
    "check": _cmd_check,
    "migrate": _cmd_migrate,
    "reconcile": _cmd_reconcile,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``cardinal`` console script; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except SystemExit as exc:  # --help (0) and usage errors (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return _COMMANDS[args.command](args)
    except ConfigError as exc:
        where = f"set it in the environment or in {args.env_file}; the README's Configuration reference"
        for problem in exc.problems:
            fix = "" if problem.startswith("POLICY_FILE") else f" ({where} lists every setting)"
            _err(f"configuration: {problem}{fix}")
        return EXIT_USAGE
    except _Unavailable as exc:
        _err(f"`{args.command}` is not available yet: {exc}")
        return EXIT_FAILED
    except KeyboardInterrupt:
        # Ctrl-C is how servers (run, sandbox, demo) are stopped; elsewhere it is an interruption.
        return EXIT_OK if args.command in _SERVERS else 130
    except StartupError as exc:
        for problem in exc.problems:
            _err(problem)
        return exc.exit_code
    except CardinalError as exc:
        _err(exc.what)
        if exc.hint:
            _err(exc.hint)
        return EXIT_FAILED
