"""The demo's terminal and the conversation it prints: Slack activity rendered as people would read it."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TextIO

from cardinal_sim.demo.transcript import Renderer, Style, display_width, indent
from cardinal_sim.slack.records import Activity
from cardinal_sim.slack.standin import FakeSlack


@dataclass(frozen=True)
class Person:
    """Someone in the story: a Slack user id and a display name."""

    id: str
    name: str


# --- the terminal -------------------------------------------------------------------------------------


class Console:
    """Lines for the reader, plus one progress line that is rewritten in place on a terminal (or printed
    now and then, when it changes, elsewhere)."""

    def __init__(self, out: TextIO, *, tty: bool, style: Style | None = None) -> None:
        self.out = out
        self.tty = tty
        self.style = style or Style()
        self._shown = False
        self._last_plain: str | None = None
        self._last_tty = ""
        self.last = ""

    def line(self, text: str = "") -> None:
        """Print one line (clearing the progress line first)."""
        self._clear()
        self.out.write(text + "\n")
        self.out.flush()
        self.last = text

    def lines(self, lines: list[str]) -> None:
        """Print several lines."""
        for text in lines:
            self.line(text)

    def progress(self, text: str | None, *, detail: str = "") -> None:
        """Show ``text`` (+ ``detail``, only on a terminal) as the progress line; ``None`` hides it."""
        if not self.tty:
            if text and text != self._last_plain:
                self.line("  " + self.style.dim(text))
            self._last_plain = text or self._last_plain
            return
        if text is None:
            self._clear()
            return
        full = f"  {text} {detail}".rstrip()
        width = max(shutil.get_terminal_size((100, 20)).columns - 1, 20)
        while display_width(full) > width and len(full) > 1:
            full = full[:-2] + "…"
        if self._shown and full == self._last_tty:
            return
        self.out.write("\r\x1b[K" + self.style.dim(full))
        self.out.flush()
        self._shown = True
        self._last_tty = full

    def _clear(self) -> None:
        if self._shown:
            self.out.write("\r\x1b[K")
            self._shown = False


# --- the conversation ---------------------------------------------------------------------------------


@dataclass
class Conversation:
    """Prints the stand-in's activity as a Slack conversation: channel headers, messages with their
    author, thread replies indented under their root with ↳, edits of a request's root message as state
    lines (in full once final), other edits in full with "(edited)", ephemeral answers marked as such."""

    slack: FakeSlack
    console: Console
    render: Renderer
    clock: Callable[[], datetime]
    hooks: dict[str, tuple[str, str]] = field(default_factory=dict)  # hook id → (channel, user name)
    _cursor: int = 0
    _channel: str | None = None
    _thread: str | None = None
    _header: str = ""
    _roots: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    _states: dict[tuple[str, str], str] = field(default_factory=dict)

    def flush(self) -> bool:
        """Print what happened since the last call; True if anything did."""
        news = self.slack.activity[self._cursor :]
        self._cursor += len(news)
        for activity in news:
            self._show(activity)
        return bool(news)

    # -- people and narration ---------------------------------------------------------------------

    def act(self, number: int, title: str) -> None:
        """A chapter heading."""
        style = self.render.style
        head = f"━━ {number} · {title} "
        self.console.line()
        self.console.line(style.bold(head + "━" * max(4, 78 - display_width(head))))
        self._channel = self._thread = None

    def narrate(self, text: str) -> None:
        """A line from the narrator (what happens outside Slack)."""
        self.console.line(self.render.style.dim(f"  ({text})"))

    def says(self, channel: str, who: Person, text: str) -> None:
        """What a person types in ``channel`` (``alice: /lxc create``)."""
        self._enter(channel, None)
        self._gap()
        self.console.line(f"  {self.render.style.bold(who.name + ':')} {text}")

    def does(self, channel: str, who: Person, text: str) -> None:
        """What a person does in ``channel`` (``bob clicks [ Approve ]``)."""
        self._enter(channel, None)
        self._gap()
        self.console.line(f"  {self.render.style.bold(who.name)} {text}")

    def modal(self, who: Person, view: Mapping[str, Any], values: Mapping[str, Any] | None) -> None:
        """A modal as ``who`` sees it, with what they typed."""
        self.console.lines(indent(self.render.view(view, values, note=f"only {who.name} sees this"), "  "))

    # -- activity ---------------------------------------------------------------------------------

    def _when(self) -> str:
        return self.clock().strftime("%H:%M")

    def _enter(self, channel: str, thread: str | None) -> None:
        if channel != self._channel:
            self.console.line()
            name = self.render.names.channel(channel)
            rule = "─" * max(4, 76 - display_width(name))
            self._header = self.render.style.bold(name) + " " + self.render.style.dim(rule)
            self.console.line(self._header)
            self._thread = None
        if thread is not None and thread != self._thread:
            root = self._roots.get((channel, thread))
            if root is not None:
                label = self.render.inline(str(root.get("text", "")))
                self.console.line(self.render.style.dim(f"  ┆ in the thread of “{label}”"))
        self._channel = channel
        self._thread = thread

    def _gap(self) -> None:
        """A blank line between messages, as Slack leaves space between them."""
        if self.console.last not in ("", self._header):
            self.console.line()

    def _show(self, a: Activity) -> None:
        if a.kind == "post":
            self._post(a)
        elif a.kind == "update":
            self._update(a)
        elif a.kind == "ephemeral":
            who = self.render.names.users.get(a.user or "", a.user or "you")
            self.private(a.channel, who, a.message)
        elif a.kind == "response" and a.ts in self.hooks:
            channel, who = self.hooks[a.ts]
            self.private(channel, who, a.message)
        # Modals are shown by the story, which knows who opened them and what they typed.

    def _post(self, a: Activity) -> None:
        thread = a.message.get("thread_ts")
        if thread and thread != a.ts:
            self._enter(a.channel, str(thread))
            self._emit(a.message, reply=True)
            return
        self._roots[(a.channel, a.ts)] = a.message
        self._enter(a.channel, None)
        self._emit(a.message)
        self._thread = a.ts
        if _is_request_root(a.message):
            self._states[(a.channel, a.ts)] = self.render.state_line(a.message)

    def _update(self, a: Activity) -> None:
        key = (a.channel, a.ts)
        if key in self._roots:
            self._roots[key] = a.message
        if not _is_request_root(a.message):
            self._enter(a.channel, None)
            self._emit(a.message, edited=True)
            return
        state = self.render.state_line(a.message)
        if self._states.get(key) == state:
            return
        self._states[key] = state
        self._enter(a.channel, None)
        if _is_final(a.message):
            self._gap()
            self.console.line(self.render.style.dim("  ✎ the request's first message, edited, now reads:"))
            self._emit(a.message, edited=True)
        else:
            self.console.line(f"  {self.render.style.dim('✎ edited:')} {state}")
        self._thread = a.ts

    def private(self, channel: str, who: str, message: Mapping[str, Any]) -> None:
        """A message only ``who`` sees."""
        self._enter(channel, None)
        self._emit(message, only_for=who)

    def _emit(
        self,
        message: Mapping[str, Any],
        *,
        reply: bool = False,
        edited: bool = False,
        only_for: str | None = None,
    ) -> None:
        lines = self.render.message(
            message, author="Cardinal", when=self._when(), edited=edited, only_for=only_for
        )
        if reply:
            self.console.lines(indent(lines, "    ↳ ", "      "))
            return
        if not self.console.last.startswith(self.render.style.dim("  ✎")):
            self._gap()
        self.console.lines(indent(lines, "  "))


def _metadata_key(message: Mapping[str, Any]) -> str:
    meta = message.get("metadata") or {}
    payload = meta.get("event_payload") if isinstance(meta, Mapping) else None
    return str(payload.get("key", "")) if isinstance(payload, Mapping) else ""


def _is_request_root(message: Mapping[str, Any]) -> bool:
    key = _metadata_key(message)
    return key.startswith("request:") and key.endswith(":root")


def _is_final(message: Mapping[str, Any]) -> bool:
    """A request root whose progress line has nothing left to do (ready, failed, denied …)."""
    for block in message.get("blocks") or []:
        if block.get("type") == "context":
            text = json.dumps(block, ensure_ascii=False)
            return "⏳" not in text and "○" not in text
    return False
