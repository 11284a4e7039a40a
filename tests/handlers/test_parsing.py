"""Parsing `/lxc …` text into typed commands, and refusing everything else clearly."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.errors import InputError
from handlers import parsing
from handlers.parsing import (
    COMMANDS,
    MAX_INPUT,
    Audit,
    Command,
    CommandSpec,
    Create,
    Destroy,
    Digest,
    Download,
    Extend,
    Help,
    Ip,
    List,
    Power,
    Resize,
    Rollback,
    Snapshot,
    Status,
    Tasks,
    Templates,
    UsageError,
    parse_command,
    usage,
)


def refused(text: str) -> UsageError:
    """Parse ``text`` expecting a UsageError and return it."""
    with pytest.raises(UsageError) as exc:
        parse_command(text)
    return exc.value


class TestValidCommands:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("", Help()),
            ("   ", Help()),
            ("help", Help()),
            ("help status", Help("status")),
            ("create", Create()),
            ("create medium", Create("medium")),
            ("CREATE Large", Create("large")),
            ("list", List("mine")),
            ("list mine", List("mine")),
            ("list all", List("all")),
            ("status 10042", Status(vmid=10042)),
            ("status web-1", Status(hostname="web-1")),
            ("status Web-1.lab.example.com", Status(hostname="web-1.lab.example.com")),
            (
                "download debian-13-standard_13.6-1_amd64.tar.zst",
                Download("debian-13-standard_13.6-1_amd64.tar.zst"),
            ),
            ("start 10042", Power("start", 10042)),
            ("stop 100", Power("stop", 100)),
            ("shutdown 999999999", Power("shutdown", 999999999)),
            ("reboot 10042", Power("reboot", 10042)),
            ("destroy 10042", Destroy(10042)),
            ("extend 10042 3d", Extend(10042, timedelta(days=3))),
            ("extend 10042 1d12h", Extend(10042, timedelta(days=1, hours=12))),
            ("ip 10042", Ip(10042)),
            ("templates", Templates()),
            ("tasks", Tasks()),
            ("digest", Digest()),
            ("audit", Audit()),
            ("audit 10042", Audit(vmid=10042)),
            ("audit <@U012AB3CD|alice>", Audit(user_id="U012AB3CD")),
            ("audit <@W012AB3CD>", Audit(user_id="W012AB3CD")),
            ("audit <@U012AB3CD|Alice Smith>", Audit(user_id="U012AB3CD")),
            (
                "status <http://web-1.lab.example.com|web-1.lab.example.com>",
                Status(hostname="web-1.lab.example.com"),
            ),
            ("status <https://web.example.com>", Status(hostname="web.example.com")),
            ("snapshot 10042", Snapshot(10042)),
            ("snapshot 10042 before_upgrade", Snapshot(10042, "before_upgrade")),
            ("rollback 10042 before_upgrade", Rollback(10042, "before_upgrade")),
            ("resize 10042 cores=2", Resize(10042, cores=2)),
            ("resize 10042 memory=2048", Resize(10042, memory_mib=2048)),
            ("resize 10042 memory=4G", Resize(10042, memory_mib=4096)),
            ("resize 10042 mem=512MiB", Resize(10042, memory_mib=512)),
            ("resize 10042 disk=+10", Resize(10042, disk_add_gib=10)),
            ("resize 10042 cores=4 memory=8GiB disk=+20G", Resize(10042, 4, 8192, 20)),
            ("  status\t10042 \n", Status(vmid=10042)),
        ],
    )
    def test_parses(self, text: str, expected: Command) -> None:
        """Each documented form gives the typed command it stands for."""
        assert parse_command(text) == expected

    def test_every_documented_subcommand_parses_somewhere(self) -> None:
        """Help lists only subcommands the parser knows (each has a usage line)."""
        for spec in COMMANDS:
            assert usage(spec.name).startswith(f"`/lxc {spec.name}")


class TestUnknownSubcommand:
    def test_typo_gets_closest_match_and_its_usage(self) -> None:
        """A misspelt subcommand suggests the closest real one and shows how to use it."""
        err = refused("stauts 10042")
        assert "Did you mean `status`?" in err.what
        assert err.suggestion == "status"
        assert err.hint == "Usage: `/lxc status <vmid|hostname>`"

    def test_common_word_suggests_the_real_command(self) -> None:
        """`restart` suggests `reboot` (LXC has no restart), not the look-alike `start`."""
        err = refused("restart 10042")
        assert err.suggestion == "reboot"

    def test_destructive_alias_is_not_run(self) -> None:
        """`delete` is only a suggestion; nothing destructive runs from a guess."""
        assert refused("delete 10042").suggestion == "destroy"

    def test_nonsense_points_to_help(self) -> None:
        """A word like nothing known points at `/lxc help`."""
        err = refused("frobnicate")
        assert err.suggestion is None
        assert "`/lxc help`" in err.hint

    def test_unknown_word_with_resize_arguments_is_not_a_resize(self) -> None:
        """Arguments that would make a resize do not turn an unknown word into one."""
        err = refused("grow 10042 cores=2 memory=4G")
        assert err.field == "subcommand"
        assert "`grow` is not a /lxc command." in err.what

    def test_listed_subcommand_without_its_own_case_is_refused(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A subcommand added to help but not to the parser is refused as unknown, never run as another."""
        monkeypatch.setitem(parsing._SPECS, "grow", CommandSpec("grow", "<vmid> [cores=N]", "grow it"))
        err = refused("grow 10042 cores=2")
        assert err.field == "subcommand"

    def test_every_listed_subcommand_has_its_own_case(self) -> None:
        """Each subcommand help lists is parsed as itself: it either parses or complains about its
        arguments, never as an unknown subcommand."""
        for spec in COMMANDS:
            complaint: UsageError | None = None
            try:
                parse_command(spec.name)
            except UsageError as exc:
                complaint = exc
            if complaint is not None:
                assert complaint.field != "subcommand", spec.name
                assert complaint.usage_line == usage(spec.name), spec.name

    def test_usage_error_is_an_input_error(self) -> None:
        """The error boundary treats usage errors like any other input error."""
        assert isinstance(refused("nope"), InputError)

    def test_command_name_is_configurable(self) -> None:
        """Usage lines use the slash command's real name."""
        with pytest.raises(UsageError) as exc:
            parse_command("stop", command_name="/ct")
        assert exc.value.hint == "Usage: `/ct stop <vmid>`"


class TestBadArguments:
    @pytest.mark.parametrize(
        ("text", "field", "words"),
        [
            ("stop", "vmid", "needs <vmid>"),
            ("status", "vmid", "needs <vmid|hostname>"),
            ("extend 10042", "duration", "needs <duration>"),
            ("rollback 10042", "name", "needs <name>"),
            ("start 99", "vmid", "out of range"),
            ("start 1000000000", "vmid", "out of range"),
            ("start -101", "vmid", "not a VMID"),
            ("start 10042.0", "vmid", "not a VMID"),
            ("start 0x2710", "vmid", "not a VMID"),
            ("start web-1", "vmid", "not a VMID"),
            ("extend 10042 forever", "duration", "not a duration"),
            ("extend 10042 0d", "duration", "zero"),
            ("extend 10042 -1d", "duration", "negative"),
            ("list everything", "scope", "mine"),
            ("audit @alice", "user", "autocomplete"),
            ("audit alice", "user", "@mention"),
            ("snapshot 10042 a", "name", "snapshot name"),
            ("snapshot 10042 1st", "name", "snapshot name"),
            ("snapshot 10042 current", "name", "snapshot name"),
            ("resize 10042 disk=10", "disk", "only grow"),
            ("resize 10042 disk=-5", "disk", "+<GiB>"),
            ("resize 10042 disk=+0", "disk", "1 to 65536"),
            ("resize 10042 cores=0", "cores", "1 to 8192"),
            ("resize 10042 memory=8", "memory", "16 MiB"),
            ("resize 10042 memory=2T", "memory", "16 MiB"),
            ("resize 10042 swap=512", "swap", "not a size"),
            ("resize 10042 cores=2 cores=4", "cores", "twice"),
            ("create ../../etc", "preset", "preset name"),
            ("status web_1", "hostname", "host name"),
            ("status -web", "hostname", "host name"),
            ("download", "template", "needs <template>"),
            ("download ../../etc/passwd", "template", "not a template name"),
            ("download local:vztmpl/debian.tar.zst", "template", "not a template name"),
        ],
    )
    def test_argument_errors_name_the_argument(self, text: str, field: str, words: str) -> None:
        """A bad argument is named, the problem explained and the usage line given."""
        err = refused(text)
        assert err.field == field
        assert words in err.what
        assert err.hint.startswith("Usage: `/lxc ")

    @pytest.mark.parametrize(
        "text", ["start 10042 10043", "templates all", "tasks 1", "digest now", "help a b"]
    )
    def test_extra_arguments_are_refused(self, text: str) -> None:
        """Unexpected extra words are refused instead of silently ignored."""
        assert "unexpected argument" in refused(text).what

    def test_resize_needs_a_size(self) -> None:
        """`resize` with only a VMID says which sizes it takes."""
        assert "at least one of" in refused("resize 10042").what


HOSTILE = [
    "start 10042,net0=name=eth1",
    "status web-1;reboot",
    "status $(reboot)",
    "status `id`",
    "status web-1\x00",
    "status web\x1b[2J",
    "status \u202eevil",
    "status web\u200b1",
    "start ١٠٠٤٢",
    "start １００４２",
    "start 10042\u2028stop 10043",
    "snapshot 10042 snap\nname",
    "snapshot 10042 x" + "a" * 60,
    "audit <@U123|x><@U456>",
    "audit <!channel>",
    "audit <@here>",
    "status " + "a" * 300,
    "rollback 10042 ../../etc/passwd",
    "resize 10042 memory=99999999999G",
    "resize 10042 cores=1e3",
    "extend 10042 3d;destroy",
    "status " + "a." * 130,
    "create <script>",
    "\x07help",
]


class TestEscapedSlackText:
    """With ``should_escape: true`` (both manifests) Slack sends ``@alice`` as ``<@U…|alice>``; an app
    still created from an old manifest sends the typed text, which gets a hint rather than a puzzle."""

    def test_a_plain_at_name_explains_the_escaping_setting(self) -> None:
        err = refused("audit @alice")
        assert err.field == "user"
        assert "arrived as plain text" in err.what
        assert "should_escape: true" in err.what
        assert "@-autocomplete" in err.what

    def test_a_link_whose_label_is_not_its_host_is_not_a_hostname(self) -> None:
        err = refused("status <http://evil.example.com|web.example.com>")
        assert err.field == "hostname"

    def test_two_mentions_are_one_too_many(self) -> None:
        err = refused("audit <@U012AB3CD|alice> <@U045CD6EF|bob>")
        assert "unexpected argument" in err.what


class TestHostileCorpus:
    @pytest.mark.parametrize("text", HOSTILE)
    def test_hostile_input_is_refused(self, text: str) -> None:
        """Injection attempts, invisible characters and non-ASCII digits never parse into a command."""
        err = refused(text)
        assert err.what
        assert err.hint

    @pytest.mark.parametrize("text", HOSTILE)
    def test_refusal_does_not_echo_control_characters(self, text: str) -> None:
        """The message shown back carries no control characters from the input."""
        err = refused(text)
        assert all(ch.isprintable() for ch in err.what)

    def test_overlong_input(self) -> None:
        """Text longer than the limit is refused before any parsing."""
        err = refused("status " + "a" * MAX_INPUT)
        assert "too long" in err.what

    def test_newline_is_whitespace(self) -> None:
        """An ordinary newline separates words; it is not treated as hostile."""
        assert parse_command("status\n10042") == Status(vmid=10042)

    def test_backticks_do_not_break_the_code_span(self) -> None:
        """A quoted token never closes the message's code span early."""
        err = refused("status `rm`")
        assert err.what.count("`") == 2
