"""The edge decodes form bodies (slash commands, interactive payloads) exactly as ``urllib.parse`` does,
with a faster path for the escapes: the same text for what Slack sends and for what an attacker could
sign, including broken escapes, backslashes, non-ASCII and bytes that are not UTF-8."""

from __future__ import annotations

import json
import random
from urllib.parse import parse_qs, quote, unquote, urlencode

import pytest

from handlers.edge import form_unquote, parse_form

_TRICKY = "%%%abcdefABCDEF0123456789zZ+\\é\x00\x7f~-_.=&\u2603 "


def test_random_text_decodes_as_the_standard_library_does() -> None:
    rng = random.Random(20261202)
    for _ in range(20_000):
        text = "".join(rng.choice(_TRICKY) for _ in range(rng.randint(0, 14)))
        assert form_unquote(text) == unquote(text, errors="replace"), text
        try:
            expected = parse_qs(text, keep_blank_values=True, max_num_fields=100)
        except ValueError:
            continue
        assert parse_form(text) == expected, text


def test_escaped_bytes_that_are_not_utf8_are_replaced_as_the_standard_library_does() -> None:
    rng = random.Random(7)
    for _ in range(5_000):
        text = quote(bytes(rng.randrange(256) for _ in range(rng.randint(0, 10))))
        assert form_unquote(text) == unquote(text, errors="replace"), text


@pytest.mark.parametrize("text", ["%", "%4", "%zz", "a%4Gb", "%C3%A9%", "\\x41%41", "é%41", "%5Cx41"])
def test_broken_or_unusual_escapes_are_kept_as_the_standard_library_keeps_them(text: str) -> None:
    assert form_unquote(text) == unquote(text, errors="replace")


def test_an_interactive_payload_comes_back_whole() -> None:
    payload = {"type": "view_submission", "view": {"blocks": [{"text": 'é "quoted" \\ 100% & more'}] * 50}}
    body = urlencode({"payload": json.dumps(payload, ensure_ascii=False)})
    assert json.loads(parse_form(body)["payload"][0]) == payload


def test_more_than_one_hundred_fields_are_refused_like_parse_qs() -> None:
    with pytest.raises(ValueError):
        parse_form("&".join(f"f{i}=1" for i in range(101)))
    assert len(parse_form("&".join(f"f{i}=1" for i in range(100)))) == 100
