"""Human durations: what people type in `/lxc extend` and what operators write in the policy."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.errors import InputError
from bot.policy import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3d", timedelta(days=3)),
        ("12h", timedelta(hours=12)),
        ("90m", timedelta(minutes=90)),
        ("1w", timedelta(weeks=1)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("2 days", timedelta(days=2)),
        (" 36H ", timedelta(hours=36)),
        ("1 week 2d", timedelta(days=9)),
    ],
)
def test_valid_durations(text: str, expected: timedelta) -> None:
    """Common spellings parse to the duration a person means."""
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("abc", "not a duration"),
        ("", "not a duration"),
        ("3", "not a duration"),
        ("d3", "not a duration"),
        ("3x", "unknown unit `x`"),
        ("-3d", "negative"),
        ("0d", "zero"),
        ("0h0m", "zero"),
        ("99999999999d", "too long"),
        ("３d", "not a duration"),  # fullwidth digit
        ("٣d", "not a duration"),  # Arabic-Indic digit
        ("3d; rm -rf /", "not a duration"),
        ("1.5d", "not a duration"),
    ],
)
def test_bad_durations_are_refused_clearly(text: str, words: str) -> None:
    """Garbage, zero, negative and absurd durations raise InputError saying what is wrong."""
    with pytest.raises(InputError) as exc:
        parse_duration(text, field="lifetime")
    assert words in exc.value.what
    assert exc.value.field == "lifetime"


def test_garbage_message_shows_examples() -> None:
    """The message for garbage tells the person how to write a duration."""
    with pytest.raises(InputError) as exc:
        parse_duration("soon")
    assert "3d" in exc.value.what
    assert "12h" in exc.value.what


def test_control_characters_are_not_echoed() -> None:
    """A hostile input is not echoed back raw into the message."""
    with pytest.raises(InputError) as exc:
        parse_duration("3d\x1b[31m")
    assert "\x1b" not in exc.value.what


@pytest.mark.parametrize("text", ["7d", "1d12h", "90m", "1h30m", "30d", "45m"])
def test_format_round_trips(text: str) -> None:
    """Formatting a parsed duration gives a string that parses back to the same duration."""
    assert parse_duration(format_duration(parse_duration(text))) == parse_duration(text)


def test_format_is_short() -> None:
    """Durations are shown in their shortest usual form."""
    assert format_duration(timedelta(days=7)) == "7d"
    assert format_duration(timedelta(minutes=90)) == "1h30m"
