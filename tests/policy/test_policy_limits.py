"""The policy's edges: what a person's typed duration echoes back, and the last value each rule allows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from bot.errors import ConfigError, InputError
from bot.policy import AutoApproveRule, Policy, format_duration, load_policy, parse_duration

EXAMPLES = "use a number and a unit, e.g. 3d, 12h, 90m or 1w"


def refusal(text: str) -> InputError:
    with pytest.raises(InputError) as info:
        parse_duration(text, field="lifetime")
    assert info.value.field == "lifetime"
    return info.value


def problems_of(policy_file: Callable[[str], Path], text: str) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        load_policy(policy_file(text))
    return exc.value.problems


# --- what a typed duration echoes back ----------------------------------------------------------------


def test_typed_text_is_echoed_as_typed_when_printable() -> None:
    assert refusal("soon").what == f"`soon` is not a duration; {EXAMPLES}."


def test_control_characters_are_echoed_as_question_marks_only() -> None:
    """A terminal escape or a newline in the input cannot reach the message; the rest stays readable."""
    assert refusal("3d\x1b[31m").what == f"`3d?[31m` is not a duration; {EXAMPLES}."
    assert refusal("a\nb\tc").what == f"`a?b?c` is not a duration; {EXAMPLES}."


def test_long_input_is_cut_to_40_characters_with_an_ellipsis() -> None:
    assert refusal("x" * 40).what == f"`{'x' * 40}` is not a duration; {EXAMPLES}."
    assert refusal("x" * 41).what == f"`{'x' * 39}…` is not a duration; {EXAMPLES}."
    assert refusal("y" * 5000).what == f"`{'y' * 39}…` is not a duration; {EXAMPLES}."


def test_each_refusal_says_what_is_wrong() -> None:
    assert refusal("-3d").what == "`-3d` is negative; a duration must be longer than zero."
    assert refusal(" -3d").what == "` -3d` is negative; a duration must be longer than zero."
    assert refusal("0m").what == "`0m` is zero; a duration must be longer than zero."
    assert refusal("3x").what == f"`3x` has an unknown unit `x`; {EXAMPLES}."
    assert refusal("3651d").what == "`3651d` is too long; the most is 3650 days."
    assert refusal("").what == f"`` is not a duration; {EXAMPLES}."


def test_field_is_none_unless_given() -> None:
    with pytest.raises(InputError) as info:
        parse_duration("soon")
    assert info.value.field is None


# --- duration limits ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("unit", "seconds"),
    [
        *((u, 7 * 86400) for u in ("w", "week", "weeks")),
        *((u, 86400) for u in ("d", "day", "days")),
        *((u, 3600) for u in ("h", "hr", "hrs", "hour", "hours")),
        *((u, 60) for u in ("m", "min", "mins", "minute", "minutes")),
    ],
)
def test_every_unit_spelling_is_understood(unit: str, seconds: int) -> None:
    assert parse_duration(f"2{unit}") == timedelta(seconds=2 * seconds)
    assert parse_duration(f"2 {unit.upper()}") == timedelta(seconds=2 * seconds)


def test_one_minute_and_ten_years_are_the_shortest_and_longest() -> None:
    assert parse_duration("1m") == timedelta(minutes=1)
    assert parse_duration("3650d") == timedelta(days=3650)
    assert parse_duration("3649d1439m") == timedelta(days=3650, minutes=-1)
    assert "too long" in refusal("3650d1m").what


def test_numbers_up_to_12_digits_and_units_up_to_10_letters() -> None:
    assert parse_duration("000000000090m") == timedelta(minutes=90)
    assert "not a duration" in refusal("0000000000090m").what
    assert "unknown unit `abcdefghij`" in refusal("1abcdefghij").what
    assert "not a duration" in refusal("1abcdefghijk").what


def test_a_space_may_follow_a_part() -> None:
    assert parse_duration("1d 2h 3m") == timedelta(days=1, hours=2, minutes=3)
    assert "not a duration" in refusal("1d  2h").what


@pytest.mark.parametrize(
    ("delta", "short"),
    [
        (timedelta(0), "0m"),
        (timedelta(seconds=59), "0m"),
        (timedelta(minutes=-5), "0m"),
        (timedelta(minutes=1), "1m"),
        (timedelta(hours=2), "2h"),
        (timedelta(days=1, minutes=5), "1d5m"),
        (timedelta(days=2, hours=3, minutes=4), "2d3h4m"),
        (timedelta(days=3650), "3650d"),
    ],
)
def test_durations_are_shown_in_short_form(delta: timedelta, short: str) -> None:
    assert format_duration(delta) == short


# --- auto-approval edges --------------------------------------------------------------------------------


def test_a_rule_covers_requests_up_to_its_limits_inclusive() -> None:
    rule = AutoApproveRule(presets=["small", "medium"], max_count=3, max_lifetime=timedelta(days=2))
    ok = {"preset": "medium", "count": 3, "lifetime": timedelta(days=2), "within_quota": True}
    assert rule.matches(**ok)  # type: ignore[arg-type]
    assert not rule.matches(**{**ok, "count": 4})  # type: ignore[arg-type]
    assert not rule.matches(**{**ok, "lifetime": timedelta(days=2, minutes=1)})  # type: ignore[arg-type]
    assert not rule.matches(**{**ok, "preset": "large"})  # type: ignore[arg-type]
    assert not rule.matches(**{**ok, "preset": None})  # type: ignore[arg-type]
    assert not rule.matches(**{**ok, "within_quota": False})  # type: ignore[arg-type]


def test_a_rule_that_ignores_quota_covers_requests_beyond_it() -> None:
    rule = AutoApproveRule(within_quota=False)
    assert rule.matches(preset="small", count=1, lifetime=timedelta(days=7), within_quota=False)
    assert rule.matches(preset="small", count=1, lifetime=timedelta(days=7), within_quota=True)


def test_any_one_matching_rule_is_enough(policy_file: Callable[[str], Path]) -> None:
    policy = load_policy(
        policy_file(
            '[[auto_approve]]\npresets = ["large"]\n[[auto_approve]]\npresets = ["small"]\nmax_count = 2\n'
        )
    )
    week = timedelta(days=7)
    assert not policy.needs_approval(preset="small", count=2, lifetime=week, within_quota=True)
    assert not policy.needs_approval(preset="large", count=1, lifetime=week, within_quota=True)
    assert policy.needs_approval(preset="medium", count=1, lifetime=week, within_quota=True)


# --- numeric limits of the policy file -------------------------------------------------------------------


PRESET = "[presets.p]\ncores = {cores}\nmemory_mib = {memory}\nswap_mib = {swap}\ndisk_gib = {disk}\n"


@pytest.mark.parametrize(
    ("cores", "memory", "swap", "disk"),
    [(1, 16, 0, 1), (8192, 4 * 1024 * 1024, 4 * 1024 * 1024, 65536)],
)
def test_preset_sizes_at_their_limits_load(
    policy_file: Callable[[str], Path], cores: int, memory: int, swap: int, disk: int
) -> None:
    text = PRESET.format(cores=cores, memory=memory, swap=swap, disk=disk)
    preset = load_policy(policy_file("auto_approve = []\n" + text)).presets["p"]
    assert (preset.cores, preset.memory_mib, preset.swap_mib, preset.disk_gib) == (cores, memory, swap, disk)


@pytest.mark.parametrize(
    ("sizes", "key"),
    [
        ({"cores": 0}, "cores"),
        ({"cores": 8193}, "cores"),
        ({"memory": 15}, "memory_mib"),
        ({"memory": 4 * 1024 * 1024 + 1}, "memory_mib"),
        ({"swap": -1}, "swap_mib"),
        ({"swap": 4 * 1024 * 1024 + 1}, "swap_mib"),
        ({"disk": 0}, "disk_gib"),
        ({"disk": 65537}, "disk_gib"),
    ],
)
def test_preset_sizes_beyond_their_limits_are_refused(
    policy_file: Callable[[str], Path], sizes: dict[str, int], key: str
) -> None:
    values = {"cores": 2, "memory": 2048, "swap": 0, "disk": 8, **sizes}
    problems = problems_of(policy_file, "auto_approve = []\n" + PRESET.format(**values))
    assert len(problems) == 1
    assert problems[0].startswith(f"presets.p.{key}: ")


def test_a_preset_without_swap_gets_none() -> None:
    assert (
        Policy.model_validate(
            {"presets": {"p": {"cores": 1, "memory_mib": 64, "disk_gib": 1}}, "auto_approve": []}
        )
        .presets["p"]
        .swap_mib
        == 0
    )


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[quota]\nmax_containers = -1\n", "quota.max_containers"),
        ("[quota]\nmax_containers = 10001\n", "quota.max_containers"),
        ("[quota]\ntotal_memory_mib = -1\n", "quota.total_memory_mib"),
        ("[quota]\ntotal_disk_gib = -1\n", "quota.total_disk_gib"),
        ("[limits]\nmax_count = 0\n", "limits.max_count"),
        ("[limits]\nmax_count = 101\n", "limits.max_count"),
        ("[[auto_approve]]\nmax_count = 0\n", "auto_approve[0].max_count"),
        ("[[auto_approve]]\nmax_count = 101\n", "auto_approve[0].max_count"),
        ("[placement]\nvmid_min = 99\n", "placement.vmid_min"),
        ("[placement]\nvmid_max = 1000000000\n", "placement.vmid_max"),
    ],
)
def test_counts_and_ranges_beyond_their_limits_are_refused(
    policy_file: Callable[[str], Path], text: str, key: str
) -> None:
    problems = problems_of(policy_file, text)
    assert len(problems) == 1
    assert problems[0].startswith(f"{key}: ")


def test_counts_and_ranges_at_their_limits_load(policy_file: Callable[[str], Path]) -> None:
    policy = load_policy(
        policy_file(
            "[quota]\nmax_containers = 10000\ntotal_memory_mib = 0\ntotal_disk_gib = 0\n"
            "[limits]\nmax_count = 100\n"
            "[[auto_approve]]\nmax_count = 100\n"
            "[placement]\nvmid_min = 100\nvmid_max = 999999999\n"
        )
    )
    assert (policy.quota.max_containers, policy.quota.total_memory_mib, policy.quota.total_disk_gib) == (
        10000,
        0,
        0,
    )
    assert (policy.limits.max_count, policy.auto_approve[0].max_count) == (100, 100)
    assert (policy.placement.vmid_min, policy.placement.vmid_max) == (100, 999_999_999)
    minimal = load_policy(policy_file("[quota]\nmax_containers = 0\n[limits]\nmax_count = 1\n"))
    assert (minimal.quota.max_containers, minimal.limits.max_count) == (0, 1)


def test_a_single_vmid_range_and_equal_lifetimes_are_legal(policy_file: Callable[[str], Path]) -> None:
    policy = load_policy(
        policy_file('[placement]\nvmid_min = 500\nvmid_max = 500\n[limits]\ndefault_lifetime = "30d"\n')
    )
    assert (policy.placement.vmid_min, policy.placement.vmid_max) == (500, 500)
    assert policy.limits.default_lifetime == policy.limits.max_lifetime


def test_a_reminder_as_long_as_the_longest_lifetime_is_refused(policy_file: Callable[[str], Path]) -> None:
    assert problems_of(policy_file, '[expiry]\nreminders = ["30d"]\n') == [
        "expiry.reminders: 30d is not shorter than limits.max_lifetime"
    ]
    policy = load_policy(policy_file('[expiry]\nreminders = ["29d23h59m"]\n'))
    assert policy.expiry.reminders == [timedelta(days=30, minutes=-1)]


def test_built_in_defaults_are_the_documented_sizes_quota_and_rule() -> None:
    policy = Policy()
    sizes = {n: (p.cores, p.memory_mib, p.swap_mib, p.disk_gib) for n, p in policy.presets.items()}
    assert sizes == {
        "small": (1, 1024, 512, 8),
        "medium": (2, 4096, 1024, 32),
        "large": (4, 8192, 2048, 64),
    }
    assert (policy.quota.max_containers, policy.quota.total_memory_mib, policy.quota.total_disk_gib) == (
        5,
        16384,
        200,
    )
    [rule] = policy.auto_approve
    assert (rule.presets, rule.max_count, rule.max_lifetime, rule.within_quota) == (
        ["small"],
        1,
        timedelta(days=7),
        True,
    )
    assert policy.placement.templates == ["*"]
    assert policy.placement.nodes == ["*"]
    assert policy.presets["medium"].describe() == "2 vCPU · 4096 MiB RAM · 32 GiB disk"


# --- placement ----------------------------------------------------------------------------------------


def test_template_allow_list_matches_the_file_name_of_deep_volids(policy_file: Callable[[str], Path]) -> None:
    """A volid with more than one '/' is matched by its last part, not by what follows the first '/'."""
    policy = load_policy(policy_file('[placement]\ntemplates = ["debian-12-*"]\n'))
    assert policy.placement.template_allowed("nfs:vztmpl/mirror/debian-12-standard_12.7-1_amd64.tar.zst")
    assert policy.placement.template_allowed("debian-12-standard_12.7-1_amd64.tar.zst")
    assert not policy.placement.template_allowed("nfs:vztmpl/debian-12-x/alpine-3.20.tar.xz")


def test_template_allow_list_matches_whole_volids_too(policy_file: Callable[[str], Path]) -> None:
    policy = load_policy(policy_file('[placement]\ntemplates = ["local:vztmpl/*", "alpine-*"]\n'))
    assert policy.placement.template_allowed("local:vztmpl/ubuntu-24.04.tar.zst")
    assert policy.placement.template_allowed("nfs:vztmpl/alpine-3.20.tar.xz")
    assert not policy.placement.template_allowed("nfs:vztmpl/ubuntu-24.04.tar.zst")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            '[placement]\nbridges = ["vmbr0", "vmbr0"]\n',
            "placement.bridges: must not list the same name twice",
        ),
        (
            '[placement]\nstorages = ["1local"]\n',
            "placement.storages: '1local' is not a Proxmox id"
            " (a letter, then letters, digits, '-', '_' or '.')",
        ),
        (
            '[placement]\ntemplate_storage = "lo cal"\n',
            "placement.template_storage: 'lo cal' is not a Proxmox storage id",
        ),
        (
            '[placement]\nnodes = ["pve 1"]\n',
            "placement.nodes: 'pve 1' is not a name or glob (letters, digits, '.-_:/+' and '*?[]')",
        ),
        ("[placement]\nbridges = []\n", None),
        ('[expiry]\nreminders = ["1h", "60m"]\n', "expiry.reminders: must not list the same offset twice"),
        (
            'approvers = ["U01", "X0123"]\n',
            "approvers: 'X0123' is not a Slack user group id (S…) or user id (U…/W…); use ids, not @handles,"
            " which can be renamed",
        ),
        (
            "[presets.Big]\ncores = 1\nmemory_mib = 64\ndisk_gib = 1\n",
            "presets: 'Big' is not a preset name (a-z, 0-9, '-' and '_', at most 32)",
        ),
        (
            '[[auto_approve]]\npresets = ["huge", "tiny"]\n',
            "auto_approve[0].presets: unknown preset(s) 'huge', 'tiny'",
        ),
        (
            '[[digest]]\nchannel = "#ops"\ncron = "0 9 * * *"\n',
            "digest[0].channel: '#ops' is not a Slack channel id (C…, G… or D…; not a #name)",
        ),
    ],
)
def test_policy_problems_name_the_key_and_the_rule(
    policy_file: Callable[[str], Path], text: str, problem: str | None
) -> None:
    problems = problems_of(policy_file, text)
    assert len(problems) == 1
    if problem is not None:
        assert problems[0] == problem
    else:
        assert problems[0].startswith("placement.bridges: ")


def test_names_and_ids_at_their_length_limits(policy_file: Callable[[str], Path]) -> None:
    name = "p" + "1" * 31
    text = (
        f"auto_approve = []\n[presets.{name}]\ncores = 1\nmemory_mib = 64\ndisk_gib = 1\n"
        f'[placement]\nstorages = ["s{"x" * 63}"]\n'
    )
    policy = load_policy(policy_file(text))
    assert name in policy.presets
    too_long = f"auto_approve = []\n[presets.{name}1]\ncores = 1\nmemory_mib = 64\ndisk_gib = 1\n"
    assert problems_of(policy_file, too_long)[0].startswith(f"presets: '{name}1' is not a preset name")
    assert problems_of(policy_file, f'[placement]\nstorages = ["s{"x" * 64}"]\n')[0].startswith(
        "placement.storages: "
    )


def test_approvers_split_into_groups_and_users(policy_file: Callable[[str], Path]) -> None:
    policy = load_policy(policy_file('approvers = ["S0GROUP", "U0ALICE", "W0BOB"]\n'))
    assert policy.approver_groups == ["S0GROUP"]
    assert policy.approver_users == ["U0ALICE", "W0BOB"]


def test_lifetime_choices_are_the_common_ones_within_the_limit_plus_the_limits(
    policy_file: Callable[[str], Path],
) -> None:
    days = [timedelta(days=d) for d in (1, 3, 7, 14, 30)]
    assert Policy().lifetime_choices() == days
    policy = load_policy(policy_file('[limits]\ndefault_lifetime = "2d"\nmax_lifetime = "45d"\n'))
    assert policy.lifetime_choices() == [timedelta(days=d) for d in (1, 2, 3, 7, 14, 30, 45)]
    long = load_policy(policy_file('[limits]\nmax_lifetime = "365d"\n'))
    assert long.lifetime_choices() == [timedelta(days=d) for d in (1, 3, 7, 14, 30, 60, 90, 180, 365)]


def test_warnings_name_each_missing_setting(policy_file: Callable[[str], Path]) -> None:
    assert Policy().warnings() == [
        "approvers is empty: requests beyond auto_approve cannot be approved by anyone",
        "approval_channel is unset: approval cards go to the requesting channel",
        "ops_channel is unset: Proxmox notifications for unknown containers are only logged",
    ]
    complete = load_policy(
        policy_file('approvers = ["U0ALICE"]\napproval_channel = "C0APPROVE"\nops_channel = "G0OPS"\n')
    )
    assert complete.warnings() == []


def test_an_unreadable_policy_path_is_one_problem(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load_policy(tmp_path)
    assert exc.value.problems == [f"POLICY_FILE: cannot read {tmp_path}: Is a directory"]


def test_a_bad_duration_in_the_file_says_why(policy_file: Callable[[str], Path]) -> None:
    assert problems_of(policy_file, '[limits]\nmax_lifetime = "soon"\n') == [
        f"limits.max_lifetime: `soon` is not a duration; {EXAMPLES}."
    ]


def test_lifetime_choices_stop_at_a_year_below_a_longer_limit(policy_file: Callable[[str], Path]) -> None:
    policy = load_policy(policy_file('[limits]\nmax_lifetime = "400d"\n'))
    assert policy.lifetime_choices()[-3:] == [timedelta(days=180), timedelta(days=365), timedelta(days=400)]


def test_a_preset_is_looked_up_by_its_name() -> None:
    policy = Policy()
    assert policy.preset("medium") == policy.presets["medium"]
    assert policy.preset("huge") is None
    assert policy.preset("custom") is None
