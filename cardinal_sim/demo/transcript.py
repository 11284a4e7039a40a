"""Slack messages as terminal text: Block Kit and mrkdwn → lines a person can read in a console.

Pure functions of their input (no I/O, no clock): ``cardinal demo`` uses them to print the conversation,
and they are tested on representative Block Kit. What it renders:

- mrkdwn: ``*bold*``, ``_italic_``, ```` `code` ````, fenced code blocks (indented), ``> quotes``,
  ``<@U…>`` mentions and ``<#C…>`` channels by name, ``<url|label>`` links as "label (url)", date tokens
  by their fallback text, and the ``&lt;`` ``&gt;`` ``&amp;`` entities;
- blocks: headers (underlined with ``=``), sections (fields as aligned "Label: value"), context (dimmed),
  dividers, buttons as ``[ Approve ]  [ Deny ]``, selects, images by their alt text, inputs of modals.

Colour (ANSI) is used only when :class:`Style` says so; without it the output is plain text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Directory", "Renderer", "Style", "display_width", "indent"]

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_TOKEN = re.compile(r"<([^<>\n]+)>")
_PLACEHOLDER = re.compile(r"\x00(\d+)\x00")
_BOLD = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])")
_INLINE_CODE = re.compile(r"`([^`\n]+)`")
_FIELD = re.compile(r"^\*([^*\n]+)\*\n(.*)$", re.DOTALL)
_CODE_INDENT = "    "


def display_width(text: str) -> int:
    """Columns ``text`` takes in a terminal: wide characters (most emoji, CJK, and characters shown as
    emoji by a variation selector) count 2, combining marks and ANSI colour codes 0."""
    width = 0
    last = 0
    for ch in _ANSI.sub("", text):
        if ch == "\ufe0f":  # emoji presentation: the character before it takes two columns
            width += 2 - last if last else 0
            last = 2 if last else 0
            continue
        if unicodedata.combining(ch) or ch in "\u200d\ufe0e":
            continue
        last = 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
        width += last
    return width


def indent(lines: Sequence[str], first: str, rest: str | None = None) -> list[str]:
    """``lines`` with ``first`` before the first line and ``rest`` (default: that many spaces) before
    the others; empty lines get no trailing spaces."""
    other = rest if rest is not None else " " * display_width(first)
    out = []
    for i, line in enumerate(lines):
        prefix = first if i == 0 else other
        out.append(prefix + line if line else prefix.rstrip())
    return out


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


@dataclass(frozen=True)
class Style:
    """How to emphasise text: ANSI colours when ``color`` is true, plain text otherwise."""

    color: bool = False

    def _sgr(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.color and text else text

    def bold(self, text: str) -> str:
        """Bold."""
        return self._sgr("1", text)

    def dim(self, text: str) -> str:
        """Dimmed (context lines, times, notes)."""
        return self._sgr("2", text)

    def italic(self, text: str) -> str:
        """Italic."""
        return self._sgr("3", text)

    def code(self, text: str) -> str:
        """Inline code: backticks in plain text, a colour on a terminal."""
        return self._sgr("36", text) if self.color else f"`{text}`"

    def code_block(self, text: str) -> str:
        """A line of a code block (indented by the caller)."""
        return self._sgr("36", text)

    def mention(self, text: str) -> str:
        """A user or channel mention."""
        return self._sgr("1;34", text)

    def link(self, label: str, url: str) -> str:
        """A link: its label, then the address."""
        if not label or label == url:
            return self._sgr("4", url)
        return f"{self._sgr('4', label)} {self.dim(f'({url})')}"

    def button(self, label: str, kind: str | None = None) -> str:
        """``[ label ]``, green for primary and red for danger buttons on a terminal."""
        code = {"primary": "1;32", "danger": "1;31"}.get(kind or "", "1")
        return self._sgr(code, f"[ {label} ]")


@dataclass(frozen=True)
class Directory:
    """Names for the ids in messages: users (``U…`` → ``alice``) and channels (``C…`` → ``lab``)."""

    users: Mapping[str, str] = field(default_factory=dict)
    channels: Mapping[str, str] = field(default_factory=dict)

    def user(self, user_id: str, label: str | None = None) -> str:
        """``@name`` for a user id (the id itself when unknown)."""
        return "@" + self.users.get(user_id, label or user_id)

    def channel(self, channel_id: str, label: str | None = None) -> str:
        """``#name`` for a channel id (the id itself when unknown)."""
        return "#" + self.channels.get(channel_id, label or channel_id)


@dataclass(frozen=True)
class Renderer:
    """Renders Slack messages, modals and their pieces as lists of terminal lines."""

    names: Directory = field(default_factory=Directory)
    style: Style = field(default_factory=Style)

    # --- mrkdwn -----------------------------------------------------------------------------------

    def mrkdwn(self, text: str) -> list[str]:
        """A mrkdwn text as lines; fenced code blocks become indented lines of their own."""
        parts = text.split("```")
        if len(parts) % 2 == 0:  # an unmatched fence is shown literally, as Slack does
            parts[-2:] = ["```".join(parts[-2:])]
        lines = [""]
        after_code = False
        for i, part in enumerate(parts):
            if i % 2 == 0:
                rendered = self._inline_lines(part[1:] if after_code and part.startswith("\n") else part)
                lines[-1] += rendered[0]
                lines.extend(rendered[1:])
                after_code = False
                continue
            if lines[-1] == "":
                lines.pop()
            body = part.strip("\n")
            lines.extend(_CODE_INDENT + self.style.code_block(_unescape(line)) for line in body.split("\n"))
            lines.append("")
            after_code = True
        if len(lines) > 1 and lines[-1] == "":
            lines.pop()
        return lines

    def inline(self, text: str) -> str:
        """A one-line mrkdwn text (newlines become spaces)."""
        return " ".join(line.strip() for line in self.mrkdwn(text) if line.strip())

    def _inline_lines(self, text: str) -> list[str]:
        out = []
        for line in text.split("\n"):
            quote = line.startswith(">")
            rendered = self._inline_line(line[1:].removeprefix(" ") if quote else line)
            out.append(self.style.dim("│ ") + rendered if quote else rendered)
        return out

    def _inline_line(self, line: str) -> str:
        pieces = _INLINE_CODE.split(line)
        out = []
        for i, piece in enumerate(pieces):
            out.append(self.style.code(_unescape(piece)) if i % 2 else self._emphasis(piece))
        return "".join(out)

    def _emphasis(self, text: str) -> str:
        tokens: list[str] = []

        def stash(match: re.Match[str]) -> str:
            tokens.append(self._token(match.group(1)))
            return f"\x00{len(tokens) - 1}\x00"

        text = _TOKEN.sub(stash, text)
        text = _BOLD.sub(lambda m: self.style.bold(m.group(1)), text)
        text = _ITALIC.sub(lambda m: self.style.italic(m.group(1)), text)
        text = _unescape(text)
        return _PLACEHOLDER.sub(lambda m: tokens[int(m.group(1))], text)

    def _token(self, inner: str) -> str:
        target, _, label = inner.partition("|")
        label = _unescape(label)
        if target.startswith("@"):
            return self.style.mention(self.names.user(target[1:], label or None))
        if target.startswith("#"):
            return self.style.mention(self.names.channel(target[1:], label or None))
        if target.startswith("!subteam^"):
            return self.style.mention(label or "@" + target.removeprefix("!subteam^"))
        if target.startswith("!date^"):
            return label or target.split("^")[1]
        if target.startswith("!"):
            return self.style.mention(label or "@" + target[1:])
        url = _unescape(target)
        if url.startswith("mailto:"):
            return label or url.removeprefix("mailto:")
        return self.style.link(label, url)

    # --- blocks -----------------------------------------------------------------------------------

    def text_object(self, obj: Any) -> list[str]:
        """A text object (``plain_text`` as is, ``mrkdwn`` rendered) as lines."""
        if not isinstance(obj, Mapping):
            return [] if obj is None else [str(obj)]
        text = str(obj.get("text", ""))
        return text.split("\n") if obj.get("type") == "plain_text" else self.mrkdwn(text)

    def blocks(self, blocks: Sequence[Mapping[str, Any]]) -> list[str]:
        """Message blocks as lines, in order; unknown block types are left out."""
        lines: list[str] = []
        for block in blocks:
            lines.extend(self.block(block))
        return lines

    def block(self, block: Mapping[str, Any]) -> list[str]:
        """One block as lines."""
        kind = block.get("type")
        if kind == "header":
            text = " ".join(self.text_object(block.get("text")))
            return [self.style.bold(text), "=" * display_width(text)]
        if kind == "section":
            return self._section(block)
        if kind == "context":
            parts = [" ".join(self._element_text(e)) for e in block.get("elements") or []]
            return [self.style.dim("  ".join(p for p in parts if p))]
        if kind == "divider":
            return [self.style.dim("─" * 24)]
        if kind == "actions":
            return ["  ".join(self.element(e) for e in block.get("elements") or [])]
        if kind == "image":
            return [self.style.dim(f"[image: {block.get('alt_text', '')}]")]
        if kind == "input":
            return [self._input_line(block, None)]
        if kind == "rich_text":
            return "".join(_rich_text(block.get("elements") or [])).split("\n")
        return []

    def _element_text(self, element: Any) -> list[str]:
        if isinstance(element, Mapping) and element.get("type") == "image":
            return [f"[{element.get('alt_text', 'image')}]"]
        return [line for line in self.text_object(element) if line]

    def _section(self, block: Mapping[str, Any]) -> list[str]:
        text = block.get("text")
        heading = _FIELD.match(str(text.get("text", ""))) if isinstance(text, Mapping) else None
        if heading and isinstance(text, Mapping) and text.get("type") == "mrkdwn":
            # "*Title*\ncontent": the title on its own line, the content indented under it
            lines = [
                self.style.bold(_unescape(heading.group(1))),
                *indent(self.mrkdwn(heading.group(2)), "  "),
            ]
        else:
            lines = self.text_object(text) if text else []
        accessory = block.get("accessory")
        if isinstance(accessory, Mapping) and accessory.get("type") != "image":
            rendered = self.element(accessory)
            if lines:
                lines[0] = f"{lines[0]}  {rendered}"
            else:
                lines = [rendered]
        fields = block.get("fields") or []
        pairs: list[tuple[str | None, list[str]]] = []
        for f in fields:
            raw = str(f.get("text", "")) if isinstance(f, Mapping) else str(f)
            match = _FIELD.match(raw) if isinstance(f, Mapping) and f.get("type") == "mrkdwn" else None
            if match:
                pairs.append((_unescape(match.group(1)), self.mrkdwn(match.group(2))))
            else:
                pairs.append((None, self.text_object(f)))
        width = max((display_width(label) for label, _ in pairs if label is not None), default=0)
        for label, value in pairs:
            if label is None:
                lines.extend(value)
                continue
            head = self.style.bold(f"{label}:") + " " * (width - display_width(label) + 1)
            lines.extend(indent(value or [""], head, " " * (width + 2)))
        return lines

    def element(self, element: Mapping[str, Any]) -> str:
        """An interactive element: buttons as ``[ label ]``, selects as ``[ ▾ choice ]``."""
        kind = element.get("type")
        label = " ".join(self.text_object(element.get("text"))) if element.get("text") else ""
        if kind == "button":
            return self.style.button(label or "button", element.get("style"))
        if kind == "overflow":
            return self.style.button("⋯")
        if kind in ("static_select", "external_select", "users_select", "conversations_select"):
            chosen = element.get("initial_option")
            shown = chosen.get("text") if isinstance(chosen, Mapping) else element.get("placeholder")
            return self.style.button("▾ " + " ".join(self.text_object(shown)))
        if kind == "datepicker":
            return self.style.button("📅 " + str(element.get("initial_date") or "pick a date"))
        return self.style.button(str(kind))

    # --- messages and modals ----------------------------------------------------------------------

    def message(
        self,
        message: Mapping[str, Any],
        *,
        author: str,
        when: str | None = None,
        edited: bool = False,
        only_for: str | None = None,
    ) -> list[str]:
        """A message: a header line (author, time, "(edited)", who alone sees it) and its body, indented
        by two spaces. The body is the blocks, or the fallback text when there are none."""
        head = self.style.bold(author)
        if when:
            head += "  " + self.style.dim(when)
        if edited:
            head += "  " + self.style.dim("(edited)")
        if only_for:
            head += "  " + self.style.dim(f"🔒 only visible to {only_for}")
        blocks = message.get("blocks") or []
        body = self.blocks(blocks) if blocks else self.mrkdwn(str(message.get("text", "")))
        return [head, *indent(body, "  ")]

    def state_line(self, message: Mapping[str, Any]) -> str:
        """One line for a message that changed state: its first line and, if any, its first context line
        (e.g. ``🛠️ Creating: `web` for @alice — ✔ requested → ✔ approved → ⏳ creating …``)."""
        first: str | None = None
        context: str | None = None
        for block in message.get("blocks") or []:
            if block.get("type") in ("section", "header") and first is None:
                rendered = [line for line in self.block(block) if line.strip()]
                first = rendered[0] if rendered else None
            elif block.get("type") == "context" and context is None:
                context = self.block(block)[0]
        if first is None:
            first = self.inline(str(message.get("text", "")))
        return f"{first} — {context}" if context else first

    def view(
        self,
        view: Mapping[str, Any],
        values: Mapping[str, Any] | None = None,
        *,
        note: str | None = None,
    ) -> list[str]:
        """A modal in a box: its title, then each block; inputs as "Label: value".

        ``values`` (block id → what the person entered or chose: text, or an option's value) replaces
        the initial values; optional inputs left empty are not shown.
        """
        title = " ".join(self.text_object(view.get("title"))) or "Modal"
        head = "┌─ " + self.style.bold(title) + (f"  {self.style.dim(note)}" if note else "")
        body: list[str] = []
        shown = [b for b in view.get("blocks") or [] if b.get("type") == "input" and self._shows(b, values)]
        width = max((display_width(self._label(b)) for b in shown), default=0)
        for block in view.get("blocks") or []:
            kind = block.get("type")
            if kind == "divider" or (kind == "input" and not self._shows(block, values)):
                continue
            if kind == "input":
                given = None if values is None else values.get(str(block.get("block_id", "")))
                body.append(self._input_line(block, given, width=width))
                continue
            body.extend(self.block(block))
        buttons = [
            self.style.button(" ".join(self.text_object(view[key])), "primary" if key == "submit" else None)
            for key in ("close", "submit")
            if view.get(key)
        ]
        foot = "└─ " + "  ".join(buttons) if buttons else "└─"
        return [head, *indent(body, "│ ", "│ "), foot]

    def _shows(self, block: Mapping[str, Any], values: Mapping[str, Any] | None) -> bool:
        """Inputs are shown unless optional and left empty."""
        given = None if values is None else values.get(str(block.get("block_id", "")))
        return not block.get("optional") or self._input_value(block.get("element") or {}, given) is not None

    def _label(self, block: Mapping[str, Any]) -> str:
        return " ".join(self.text_object(block.get("label")))

    def _input_line(self, block: Mapping[str, Any], given: Any, *, width: int = 0) -> str:
        label = self._label(block)
        element = block.get("element") or {}
        shown = self._input_value(element, given)
        if shown is None:
            placeholder = element.get("placeholder")
            shown = self.style.dim(" ".join(self.text_object(placeholder)) if placeholder else "—")
        pad = " " * (width - display_width(label) + 1) if width else " "
        return f"{self.style.bold(label + ':')}{pad}{shown}"

    def _input_value(self, element: Mapping[str, Any], given: Any) -> str | None:
        options = [o for o in element.get("options") or [] if isinstance(o, Mapping)]
        if given is not None:
            chosen = given if isinstance(given, list | tuple) else [given]
            if options:
                labels = [
                    " ".join(self.text_object(o.get("text")))
                    for o in options
                    if o.get("value") in {str(c) for c in chosen}
                ]
                return ", ".join(labels) if labels else None
            text = " ".join(str(c) for c in chosen).strip()
            return " ↵ ".join(text.split("\n")) if text else None
        initial = element.get("initial_option")
        if isinstance(initial, Mapping):
            return " ".join(self.text_object(initial.get("text")))
        for key in ("initial_value", "initial_date"):
            if element.get(key) not in (None, ""):
                return str(element[key])
        return None


def _rich_text(elements: Sequence[Any]) -> list[str]:
    out: list[str] = []
    for element in elements:
        if not isinstance(element, Mapping):
            continue
        if element.get("type") == "text":
            out.append(str(element.get("text", "")))
        elif element.get("type") == "link":
            out.append(str(element.get("text") or element.get("url", "")))
        elif element.get("type") == "user":
            out.append("@" + str(element.get("user_id", "")))
        elif "elements" in element:
            out.extend(_rich_text(element["elements"]))
            if element.get("type") in ("rich_text_section", "rich_text_preformatted", "rich_text_quote"):
                out.append("\n")
    return out
