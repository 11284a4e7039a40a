"""Loading and validating the policy file."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.policy import Policy, load_policy

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "policy.toml"


def problems_of(policy_file: Callable[[str], Path], text: str) -> list[str]:
    """Load ``text`` as a policy and return the reported problems (fails if it loads)."""
    with pytest.raises(ConfigError) as exc:
        load_policy(policy_file(text))
    return exc.value.problems


class TestDefaults:
    def test_no_file_gives_documented_defaults(self) -> None:
        """Without a policy file Cardinal runs with the defaults the brief promises."""
        policy = load_policy(None)
        assert set(policy.presets) == {"small", "medium", "large"}
        assert policy.placement.bridges == ["vmbr0"]
        assert policy.placement.storages == ["local-lvm"]
        assert policy.placement.template_storage == "local"
        assert (policy.placement.vmid_min, policy.placement.vmid_max) == (10000, 19999)
        assert policy.limits.default_lifetime == timedelta(days=7)
        assert policy.limits.max_lifetime == timedelta(days=30)
        assert policy.limits.max_count == 5
        assert policy.expiry.reminders == [timedelta(hours=24), timedelta(hours=1)]
        assert policy.expiry.action == "stop_then_destroy"
        assert policy.expiry.grace == timedelta(days=3)
        assert policy.digest == []
        assert policy.access.others_containers == "owner-and-approvers"

    def test_defaults_allow_every_template_and_node(self) -> None:
        """The default allow-lists let everything through."""
        policy = Policy()
        assert policy.placement.template_allowed("local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst")
        assert policy.placement.node_allowed("pve3")

    def test_empty_file_is_the_defaults(self, policy_file: Callable[[str], Path]) -> None:
        """An empty policy file behaves like no file at all."""
        assert load_policy(policy_file("")) == Policy()

    def test_defaults_warn_about_missing_approvers(self) -> None:
        """`cardinal check` can tell the operator that nobody can approve with the defaults."""
        assert any("approvers" in w for w in Policy().warnings())


class TestExampleFile:
    def test_example_loads(self) -> None:
        """The shipped example policy is valid."""
        policy = load_policy(EXAMPLE)
        assert policy.approver_groups == ["S0604QSJC"]
        assert policy.approver_users == ["U012AB3CD"]
        assert policy.digest[0].timezone == "Europe/Berlin"
        assert policy.warnings() == []

    def test_example_documents_every_key(self) -> None:
        """Every section and key of the model appears in the example, so operators can find them."""
        data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
        assert set(data) == set(Policy.model_fields)
        for section in ("quota", "limits", "placement", "expiry", "access"):
            model = type(getattr(Policy(), section))
            assert set(data[section]) == set(model.model_fields), section


class TestValidation:
    def test_others_containers_takes_only_the_documented_choices(
        self, policy_file: Callable[[str], Path]
    ) -> None:
        """A typo in the visibility setting stops the start instead of silently exposing containers."""
        [problem] = problems_of(policy_file, '[access]\nothers_containers = "all"\n')
        assert problem.startswith("access.others_containers: ")
        assert "'owner-and-approvers' or 'everyone'" in problem
        text = '[access]\nothers_containers = "everyone"\n'
        assert load_policy(policy_file(text)).access.others_containers == "everyone"

    def test_every_problem_names_its_key(self, policy_file: Callable[[str], Path]) -> None:
        """Several mistakes are reported together, one line each, each naming the TOML key."""
        problems = problems_of(
            policy_file,
            """
            approvers = ["@ops-team"]
            approval_channel = "#approvals"
            [presets.tiny]
            cores = 0
            memory_mib = 8
            disk_gib = 1
            [limits]
            max_cont = 3
            max_lifetime = "-3d"
            [placement]
            bridges = ["vmbr0,tag=5"]
            [expiry]
            action = "nuke"
            """,
        )
        joined = "\n".join(problems)
        assert problems[0].startswith("approvers[0]: ") or problems[0].startswith("approvers: ")
        for key in (
            "approval_channel: ",
            "presets.tiny.cores: ",
            "presets.tiny.memory_mib: ",
            "limits.max_cont: unknown key",
            "limits.max_lifetime: ",
            "placement.bridges: ",
            "expiry.action: ",
        ):
            assert any(p.startswith(key) for p in problems), (key, joined)
        assert len(problems) == 8

    def test_values_of_secrets_are_not_needed_to_explain(self, policy_file: Callable[[str], Path]) -> None:
        """A problem line says the rule, e.g. that a channel must be an id rather than a #name."""
        problems = problems_of(policy_file, 'ops_channel = "#ops"')
        assert problems == ["ops_channel: '#ops' is not a Slack channel id (C…, G… or D…; not a #name)"]

    def test_not_toml(self, policy_file: Callable[[str], Path]) -> None:
        """A file that is not TOML is one clear problem naming the file."""
        path = policy_file("approvers = [")
        with pytest.raises(ConfigError) as exc:
            load_policy(path)
        assert exc.value.problems[0].startswith(f"POLICY_FILE: {path} is not valid TOML")

    def test_missing_file(self, tmp_path: Path) -> None:
        """A configured but missing file stops start-up instead of silently using defaults."""
        with pytest.raises(ConfigError) as exc:
            load_policy(tmp_path / "nope.toml")
        assert exc.value.problems == [f"POLICY_FILE: {tmp_path / 'nope.toml'} does not exist"]

    def test_custom_is_reserved(self, policy_file: Callable[[str], Path]) -> None:
        """A preset cannot be called "custom", which the modal uses for free sizes."""
        problems = problems_of(policy_file, "[presets.custom]\ncores = 1\nmemory_mib = 512\ndisk_gib = 4\n")
        assert problems[0].startswith("presets: 'custom' is reserved")

    def test_auto_approve_must_name_existing_presets(self, policy_file: Callable[[str], Path]) -> None:
        """An auto-approve rule for a preset that does not exist is refused."""
        problems = problems_of(policy_file, '[[auto_approve]]\npresets = ["huge"]\n')
        assert problems == ["auto_approve[0].presets: unknown preset(s) 'huge'"]

    def test_default_lifetime_within_max(self, policy_file: Callable[[str], Path]) -> None:
        """The default lifetime cannot exceed the maximum."""
        problems = problems_of(policy_file, '[limits]\ndefault_lifetime = "40d"\nmax_lifetime = "30d"\n')
        assert problems == ["limits.default_lifetime: must not be longer than max_lifetime"]

    def test_vmid_range_order(self, policy_file: Callable[[str], Path]) -> None:
        """The VMID range must be ordered and inside Proxmox's 100–999999999."""
        assert problems_of(policy_file, "[placement]\nvmid_min = 500\nvmid_max = 400\n") == [
            "placement.vmid_min: must not be greater than vmid_max"
        ]
        assert problems_of(policy_file, "[placement]\nvmid_min = 99\n")[0].startswith("placement.vmid_min: ")

    def test_bad_cron_and_timezone(self, policy_file: Callable[[str], Path]) -> None:
        """Digest schedules are checked at start: cron fields, values and the time zone."""
        assert problems_of(policy_file, '[[digest]]\nchannel = "C1234"\ncron = "0 9 * *"\n') == [
            "digest[0].cron: must have 5 fields (minute hour day month weekday), e.g. '0 9 * * 1-5'"
        ]
        problems = problems_of(policy_file, '[[digest]]\nchannel = "C1234"\ncron = "61 9 * * *"\n')
        assert problems[0].startswith("digest[0].cron: '61 9 * * *' is invalid")
        problems = problems_of(
            policy_file, '[[digest]]\nchannel = "C1234"\ncron = "0 9 * * *"\ntimezone = "Mars/Base"'
        )
        assert problems[0].startswith("digest[0].timezone: 'Mars/Base' is not an IANA time zone")

    def test_reminder_must_be_shorter_than_max_lifetime(self, policy_file: Callable[[str], Path]) -> None:
        """A reminder earlier than any container can live is a mistake."""
        problems = problems_of(policy_file, '[expiry]\nreminders = ["40d"]\n')
        assert problems == ["expiry.reminders: 40d is not shorter than limits.max_lifetime"]

    def test_durations_must_be_strings(self, policy_file: Callable[[str], Path]) -> None:
        """A bare number for a duration is refused with the expected format."""
        problems = problems_of(policy_file, "[expiry]\ngrace = 3\n")
        assert problems[0].startswith("expiry.grace: must be a duration string")

    def test_reminders_sorted_latest_first(self, policy_file: Callable[[str], Path]) -> None:
        """Reminder offsets come back longest first, whatever order the operator wrote."""
        policy = load_policy(policy_file('[expiry]\nreminders = ["1h", "3d", "24h"]\n'))
        assert policy.expiry.reminders == [timedelta(days=3), timedelta(hours=24), timedelta(hours=1)]


class TestRules:
    def test_auto_approve_rule(self) -> None:
        """The default rule lets one small container for up to a week through without approval."""
        policy = Policy()
        week = timedelta(days=7)
        assert not policy.needs_approval(preset="small", count=1, lifetime=week, within_quota=True)
        assert policy.needs_approval(preset="small", count=2, lifetime=week, within_quota=True)
        assert policy.needs_approval(preset="small", count=1, lifetime=week * 2, within_quota=True)
        assert policy.needs_approval(preset="large", count=1, lifetime=week, within_quota=True)
        assert policy.needs_approval(preset=None, count=1, lifetime=week, within_quota=True)
        assert policy.needs_approval(preset="small", count=1, lifetime=week, within_quota=False)

    def test_no_rules_means_everything_needs_approval(self, policy_file: Callable[[str], Path]) -> None:
        """An empty auto_approve list sends every request to an approver."""
        policy = load_policy(policy_file("auto_approve = []\n"))
        assert policy.needs_approval(preset="small", count=1, lifetime=timedelta(hours=1), within_quota=True)

    def test_template_and_node_globs(self, policy_file: Callable[[str], Path]) -> None:
        """Allow-lists match templates by volid or file name, and nodes by name, with globs."""
        policy = load_policy(policy_file('[placement]\ntemplates = ["debian-12-*"]\nnodes = ["pve[12]"]\n'))
        assert policy.placement.template_allowed("local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst")
        assert not policy.placement.template_allowed("local:vztmpl/alpine-3.20-default_amd64.tar.xz")
        assert policy.placement.node_allowed("pve1")
        assert not policy.placement.node_allowed("pve3")

    def test_lifetime_choices_stay_within_limits(self, policy_file: Callable[[str], Path]) -> None:
        """The modal's lifetime choices never exceed the maximum and include the default."""
        policy = load_policy(policy_file('[limits]\ndefault_lifetime = "2d"\nmax_lifetime = "10d"\n'))
        choices = policy.lifetime_choices()
        assert max(choices) == timedelta(days=10)
        assert timedelta(days=2) in choices
        assert choices == sorted(choices)


class TestPool:
    def test_pool_is_optional_and_empty_means_none(self, policy_file: Callable[[str], Path]) -> None:
        assert Policy().placement.pool is None
        assert load_policy(policy_file('[placement]\npool = ""\n')).placement.pool is None
        assert (
            load_policy(policy_file('[placement]\npool = "lab/cardinal"\n')).placement.pool == "lab/cardinal"
        )

    def test_a_pool_id_proxmox_would_refuse_is_refused_with_its_key(
        self, policy_file: Callable[[str], Path]
    ) -> None:
        with pytest.raises(ConfigError) as err:
            load_policy(policy_file('[placement]\npool = "a b"\n'))
        assert any(p.startswith("placement.pool") for p in err.value.problems)
        with pytest.raises(ConfigError):
            load_policy(policy_file('[placement]\npool = "a/b/c/d"\n'))
