"""Backoff settings that would hammer Proxmox or never wait are refused; delays stay within their bounds."""

from __future__ import annotations

import random

import pytest

from bot.tracker import Backoff


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"base": 0}, "base must be > 0"),  # zero-delay polling
        ({"base": -1, "cap": 10}, "base must be > 0"),
        ({"factor": 0.99}, "factor must be >= 1"),  # delays that shrink
        ({"factor": 0}, "factor must be >= 1"),
        ({"jitter": 1.01}, "jitter must be from 0 to 1"),  # could wait a negative time
        ({"jitter": -0.01}, "jitter must be from 0 to 1"),
        ({"base": 5, "cap": 4.99}, "cap must be >= base"),
    ],
)
def test_settings_that_cannot_pace_polling_are_refused_by_name(kwargs: dict[str, float], named: str) -> None:
    with pytest.raises(ValueError, match="invalid backoff") as info:
        Backoff(**kwargs)
    assert named in str(info.value)
    assert len(str(info.value).split(";")) == 1  # only the bad setting is named


def test_every_bad_setting_is_named_at_once() -> None:
    with pytest.raises(ValueError) as info:
        Backoff(base=0, factor=0.5, cap=-1, jitter=2)
    message = str(info.value)
    for named in ("base", "factor", "cap", "jitter"):
        assert f"{named} must" in message


def test_the_edges_of_the_allowed_settings_work() -> None:
    """factor 1 (a constant pace), cap equal to base, and jitter 0 and 1 are all legal."""
    constant = Backoff(base=3, factor=1, cap=3, jitter=0)
    assert [constant.delay(n) for n in (0, 1, 50)] == [3, 3, 3]
    assert Backoff(base=0.5, factor=1, cap=0.5, jitter=1).delay(0) <= 0.5


def test_exact_delays_grow_by_factor_from_base_and_stop_at_cap() -> None:
    exact = Backoff(base=1, factor=3, cap=20, jitter=0)
    assert [exact.delay(n) for n in range(5)] == [1, 3, 9, 20, 20]
    assert exact.ceiling(-3) == 1  # a negative count is the first retry


def test_full_jitter_spreads_delays_over_the_whole_range() -> None:
    """jitter=1 draws from 0 to the ceiling: some delays are short, some close to the ceiling."""
    full = Backoff(base=10, factor=1, cap=10, jitter=1, rng=random.Random(5))
    draws = [full.delay(0) for _ in range(200)]
    assert all(0 <= d <= 10 for d in draws)
    assert min(draws) < 1
    assert max(draws) > 9


def test_equal_jitter_keeps_the_fixed_half_and_randomises_the_rest() -> None:
    half = Backoff(base=8, factor=1, cap=8, jitter=0.5, rng=random.Random(9))
    draws = [half.delay(0) for _ in range(200)]
    assert all(4 <= d <= 8 for d in draws)
    assert min(draws) < 4.5
    assert max(draws) > 7.5
