"""The root of Cardinal's error tree.

Every error a person can see derives from :class:`CardinalError`. It carries two texts: ``what`` says
what happened, ``hint`` says what to do about it. The Slack edge renders both; logs get ``str(err)``.
Each boundary (Proxmox, the database, Slack, user input) has its own subtree below this one.
"""

from __future__ import annotations


class CardinalError(Exception):
    """Base class for all errors Cardinal raises on purpose."""

    default_hint: str = "Try again; if it keeps failing, ask the operators to look at Cardinal's logs."

    def __init__(self, what: str, *, hint: str | None = None) -> None:
        super().__init__(what)
        self.what = what
        self.hint = hint if hint is not None else self.default_hint

    @property
    def user_message(self) -> str:
        """The text for a person: what happened, then what to do."""
        return f"{self.what}\n{self.hint}" if self.hint else self.what


class InputError(CardinalError):
    """Something a user typed or clicked is not acceptable; ``field`` names where it came from."""

    default_hint = "Correct the value and try again."

    def __init__(self, what: str, *, field: str | None = None, hint: str | None = None) -> None:
        super().__init__(what, hint=hint)
        self.field = field


class ConfigError(CardinalError):
    """The operator's configuration (settings or policy) is unusable; ``problems`` lists each issue."""

    default_hint = "Fix the configuration and start Cardinal again."

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems
