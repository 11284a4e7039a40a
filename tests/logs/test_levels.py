"""Log levels: an idle bot is quiet at INFO; libraries speak at WARNING unless LOG_LEVEL=DEBUG."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from bot.logs import THIRD_PARTY_LOGGERS, configure_logging


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    """The root logger is restored by the package's conftest; the libraries' levels here."""
    levels = {name: logging.getLogger(name).level for name in THIRD_PARTY_LOGGERS}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def test_libraries_log_only_warnings_at_info() -> None:
    out = io.StringIO()
    configure_logging("INFO", "json", out)
    logging.getLogger("apscheduler.executors.default").info('Job "sweep" executed successfully')
    logging.getLogger("alembic.runtime.migration").info("Context impl SQLiteImpl.")
    logging.getLogger("apscheduler.scheduler").warning("Run time of job was missed")
    logging.getLogger("bot.tracker").info("tracker.task_finished")
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert "Run time of job was missed" in lines[0]
    assert "tracker.task_finished" in lines[1]


def test_debug_gives_libraries_their_voice_back() -> None:
    out = io.StringIO()
    configure_logging("DEBUG", "json", out)
    logging.getLogger("apscheduler.executors.default").info('Job "sweep" executed successfully')
    assert "executed successfully" in out.getvalue()


def test_slack_bolts_warning_about_the_client_it_was_given_is_dropped() -> None:
    out = io.StringIO()
    configure_logging("INFO", "json", out)
    bolt = logging.getLogger("slack_bolt.AsyncApp")
    bolt.warning("As you gave `client` as well, `token` will be unused.")
    bolt.warning("Unhandled request")
    assert "`token` will be unused" not in out.getvalue()
    assert "Unhandled request" in out.getvalue()
