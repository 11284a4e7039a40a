"""Logging for Cardinal: structlog in front, stdlib records through the same chain, secrets redacted.

:func:`configure_logging` installs one handler on the root logger whose ``ProcessorFormatter`` renders
both structlog events and stdlib records (aiohttp, slack_bolt, apscheduler, sqlalchemy …): JSON with
dict tracebacks (no locals) when the stream is not a terminal, the console renderer when it is.
Every line passes :func:`redact`, which masks values by key name and secret-shaped text anywhere, and cuts
each string value to :data:`MAX_LOGGED_CHARS` (scrubbing is linear in the text's length).
Context (request id, Slack user, vmid, UPID) is bound with :func:`bind_context` / :func:`bound_context`.
"""

from __future__ import annotations

import logging
import re
import secrets
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Literal, TextIO

import structlog
from pydantic import SecretBytes, SecretStr
from structlog.types import EventDict, Processor, WrappedLogger

REDACTED = "**redacted**"

_SECRET_KEY_RE = re.compile(
    r"pass(?:word|wd|phrase)?(?:$|[_-])|pwd|secret|token|authori[sz]ation|cookie|api[_-]?key|csrf"
    r"|credential|private[_-]?key|ticket|session[_-]?id",
    re.IGNORECASE,
)

# (pattern, replacement): the replacement keeps a recognisable prefix and masks the secret part.
# Every pattern starts with a literal or a fixed-length class and has no nested or overlapping repetition,
# so ``re.sub`` does a bounded amount of work per position: scrubbing stays linear in the text's length
# (``tests/logs/test_scrub_linear.py``). Log lines can carry text an outsider chose; a pattern that
# backtracks turns one long value into minutes of blocked event loop.
_VALUE_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"PVEAPIToken=[^\s\"'<>]++"), f"PVEAPIToken={REDACTED}"),
    (re.compile(r"PVEAuthCookie=[^\s\"';,<>]++"), f"PVEAuthCookie={REDACTED}"),
    (
        re.compile(r"(CSRFPreventionToken[\"']?+\s*+[:=]\s*+[\"']?+)[^\s\"',;}<>]++", re.IGNORECASE),
        rf"\g<1>{REDACTED}",
    ),
    (re.compile(r"\bxox[a-z](?:\.xox[a-z])?-[A-Za-z0-9-]++"), REDACTED),
    (re.compile(r"\bxapp-[A-Za-z0-9-]++"), REDACTED),
    (
        re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"),
        REDACTED,
    ),
    (re.compile(r"\b(Bearer|Basic)\s++[A-Za-z0-9._~+/=-]++", re.IGNORECASE), rf"\g<1> {REDACTED}"),
]

# ``password=…``, ``"token": "…"``: found by the secret word, not by the start of the key, because a
# pattern that first scans an arbitrary key prefix rescans it from every position (quadratic time).
_PAIR_WORDS = r"password|passwd|pwd|secret|token|api[_-]?key|cookie|authorization|ticket"
_PAIR_WORD = re.compile(_PAIR_WORDS)  # searched in the lower-cased text: much faster than IGNORECASE
_PAIR_WORD_ANY_CASE = re.compile(_PAIR_WORDS, re.IGNORECASE)
_KEY_REST = re.compile(r"[A-Za-z0-9_-]*+")
# After the key: an optional closing quote, ``:`` or ``=``, then a "…" or '…' value (either separator) or
# a bare value (``=`` only, as in query strings and environment lines).
_PAIR_VALUE = re.compile(
    r"(?P<kq>[\"']?+)\s*+(?P<sep>[:=])\s*+"
    r"(?:\"(?P<dq>[^\"\n]*+)\"|'(?P<sq>[^'\n]*+)'|(?P<bare>[^\s&,;\"'<>]++))"
)

MAX_LOGGED_CHARS = 4096
"""A logged string value is cut to this many characters (tracebacks: :data:`MAX_TRACEBACK_CHARS`)."""
MAX_TRACEBACK_CHARS = 32768
_CUT_MARGIN = 64  # scrub a little past the cut, so a secret straddling it is masked, not half-shown

# Cardinal's own record ids are UUIDs too; under these keys a bare UUID is an id, shown as is.
_ID_KEYS = frozenset({"request_id", "task_id", "approval_id"})
_BARE_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

# Rendered tracebacks: longer than ordinary values, still bounded.
_TRACEBACK_KEYS = frozenset({"exception", "stack"})

# Keys structlog/ProcessorFormatter use internally; left alone by redact().
_META_KEYS = frozenset({"_record", "_from_structlog", "exc_info"})

_CONTEXT_HANDLER_ATTR = "_cardinal_handler"


def is_secret_key(key: str) -> bool:
    """True when a mapping key names something secret (password, token, cookie, …), case-insensitively."""
    return _SECRET_KEY_RE.search(key) is not None


def scrub_text(text: str) -> str:
    """``text`` with every secret-shaped substring (Slack/Proxmox tokens, UUIDs, ``password=…``) masked.

    Runs in time linear in ``len(text)``, whatever the text.
    """
    for pattern, replacement in _VALUE_PATTERNS:
        text = pattern.sub(replacement, text)
    return _scrub_pairs(text)


def _scrub_pairs(text: str) -> str:
    """Mask the value of every ``<key with a secret word>=value`` / ``"…": "value"`` pair.

    Each character is scanned a bounded number of times: after a secret word the search goes on from the
    end of the key (the same key cannot match again), or from the end of the masked value.
    """
    lowered = text.lower()
    finder, haystack = (_PAIR_WORD, lowered) if len(lowered) == len(text) else (_PAIR_WORD_ANY_CASE, text)
    parts: list[str] = []
    done = 0  # text[:done] is in parts
    at = 0  # where the next secret word is looked for
    while (word := finder.search(haystack, at)) is not None:
        key_end = _KEY_REST.match(text, word.end()).end()  # type: ignore[union-attr]
        pair = _PAIR_VALUE.match(text, key_end)
        at = key_end
        if pair is None:
            continue
        if pair["bare"] is not None and (pair["kq"] or pair["sep"] != "="):
            continue
        value = "dq" if pair["dq"] is not None else "sq" if pair["sq"] is not None else "bare"
        parts.append(text[done : pair.start(value)])
        parts.append(REDACTED)
        done = at = pair.end(value)
    if not parts:
        return text
    parts.append(text[done:])
    return "".join(parts)


def cap_text(text: str, limit: int = MAX_LOGGED_CHARS) -> str:
    """``text`` scrubbed and cut to ``limit`` characters, with a note of how much was left out.

    Texts up to ``_CUT_MARGIN`` characters over the limit are kept whole, so a value that passes the
    redaction twice (structlog's chain, then the formatter's) is cut once.
    """
    if len(text) <= limit + _CUT_MARGIN:
        return scrub_text(text)
    return f"{scrub_text(text[: limit + _CUT_MARGIN])[:limit]}…[{len(text) - limit} more characters]"


def _redact_value(value: Any, depth: int = 0, limit: int = MAX_LOGGED_CHARS) -> Any:
    if isinstance(value, SecretStr | SecretBytes):
        return REDACTED
    if isinstance(value, str):
        return cap_text(value, limit)
    if value is None or isinstance(value, bool | int | float):
        return value
    if depth > 20:
        return REDACTED
    if isinstance(value, Mapping):
        return {
            k: (_mask(v) if isinstance(k, str) and is_secret_key(k) else _redact_value(v, depth + 1, limit))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact_value(v, depth + 1, limit) for v in value]
    if isinstance(value, bytes):
        return cap_text(value[: limit + _CUT_MARGIN].decode("utf-8", "replace"), limit)
    text = str(value)
    scrubbed = cap_text(text, limit)
    return value if scrubbed == text else scrubbed


def _mask(value: Any) -> Any:
    if value is None or isinstance(value, bool) or value == "":
        return value
    return REDACTED


def redact(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """structlog processor: mask values by key name (recursively) and secret shapes in any text."""
    for key in list(event_dict):
        if key in _META_KEYS:
            continue
        value = event_dict[key]
        if key in _ID_KEYS and isinstance(value, str) and _BARE_UUID.match(value):
            continue
        limit = MAX_TRACEBACK_CHARS if key in _TRACEBACK_KEYS else MAX_LOGGED_CHARS
        event_dict[key] = _mask(value) if is_secret_key(key) else _redact_value(value, limit=limit)
    return event_dict


def _resolve_exc_info(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """Turn ``exc_info=True`` / an exception instance into a real exc_info tuple while it is current."""
    exc_info = event_dict.get("exc_info")
    if exc_info is True:
        current = sys.exc_info()
        if current[0] is None:
            del event_dict["exc_info"]
        else:
            event_dict["exc_info"] = current
    elif isinstance(exc_info, BaseException):
        event_dict["exc_info"] = (type(exc_info), exc_info, exc_info.__traceback__)
    elif exc_info is False or exc_info is None:
        event_dict.pop("exc_info", None)
    return event_dict


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.PositionalArgumentsFormatter(),
        structlog.processors.StackInfoRenderer(),
        _resolve_exc_info,
        redact,
    ]


def _wants_console(fmt: Literal["auto", "json", "console"], stream: TextIO) -> bool:
    if fmt == "auto":
        isatty = getattr(stream, "isatty", None)
        return bool(isatty()) if callable(isatty) else False
    return fmt == "console"


THIRD_PARTY_LOGGERS = (
    "aiohttp",
    "alembic",
    "apscheduler",
    "asyncio",
    "slack_bolt",
    "slack_sdk",
    "sqlalchemy",
)
"""Libraries whose loggers are held at WARNING unless ``LOG_LEVEL=DEBUG``."""

_NOISE = (
    # slack_bolt reads SLACK_BOT_TOKEN from the environment even when given a client, then warns that it
    # ignores it (slack_bolt/app/async_app.py); Cardinal passes the client on purpose.
    ("slack_bolt", "As you gave `client` as well, `token` will be unused"),
)


def _drop_known_noise(record: logging.LogRecord) -> bool:
    """Handler filter: False for a library warning that describes Cardinal's intended setup."""
    for prefix, text in _NOISE:
        if record.name.startswith(prefix) and str(record.msg).startswith(text):
            return False
    return True


def configure_logging(
    level: str = "INFO",
    fmt: Literal["auto", "json", "console"] = "auto",
    stream: TextIO | None = None,
) -> None:
    """Configure structlog and stdlib logging to write redacted lines to ``stream`` (default stderr).

    ``fmt="auto"`` picks the console renderer on a terminal and JSON otherwise. Calling it again replaces
    the previous configuration (the handler it installed is removed first).
    """
    out = stream if stream is not None else sys.stderr
    levelno = logging.getLevelNamesMapping().get(level.upper())
    if levelno is None:
        raise ValueError(f"unknown log level {level!r}; use DEBUG, INFO, WARNING or ERROR")
    console = _wants_console(fmt, out)

    final: list[Processor] = [structlog.stdlib.ProcessorFormatter.remove_processors_meta]
    if console:
        final += [
            structlog.processors.format_exc_info,
            redact,
            structlog.dev.ConsoleRenderer(
                colors=_wants_console("auto", out), exception_formatter=structlog.dev.plain_traceback
            ),
        ]
    else:
        final += [
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            ),
            redact,
            structlog.processors.JSONRenderer(),
        ]

    handler = logging.StreamHandler(out)
    handler.addFilter(_drop_known_noise)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.ExtraAdder(), *_shared_processors()], processors=final
        )
    )
    setattr(handler, _CONTEXT_HANDLER_ATTR, True)

    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, _CONTEXT_HANDLER_ATTR, False):
            root.removeHandler(old)
            old.close()
    root.addHandler(handler)
    root.setLevel(levelno)
    # Libraries narrate routine work at INFO (a job run, a migration context per /readyz); an idle bot
    # should write nothing between real events. LOG_LEVEL=DEBUG hands them back their own voice.
    for name in THIRD_PARTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET if levelno <= logging.DEBUG else logging.WARNING)

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared_processors(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


def new_request_id() -> str:
    """A fresh request id: 16 hex characters (deliberately not UUID-shaped, which redaction masks)."""
    return secrets.token_hex(8)


def bind_context(**values: object) -> None:
    """Bind ``request_id``, ``slack_user``, ``vmid``, ``upid`` … to every line of this task/context.

    ``None`` values are skipped.
    """
    structlog.contextvars.bind_contextvars(**{k: v for k, v in values.items() if v is not None})


def clear_context() -> None:
    """Forget everything bound with :func:`bind_context` (call at the start of each unit of work)."""
    structlog.contextvars.clear_contextvars()


@contextmanager
def bound_context(**values: object) -> Iterator[None]:
    """Bind values for the duration of a ``with`` block, restoring the previous ones afterwards."""
    with structlog.contextvars.bound_contextvars(**{k: v for k, v in values.items() if v is not None}):
        yield
