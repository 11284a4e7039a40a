"""Sealed ``private_metadata``: what Cardinal stores in a modal comes back unchanged or is refused.

A modal's ``private_metadata`` is round-tripped through the client, so a crafted submission could change
it (for example to post into another channel). Cardinal signs it with an HMAC keyed by a secret the
replicas share, and refuses anything whose signature does not match.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from bot.errors import InputError


class MetadataSeal:
    """Signs and checks modal metadata."""

    def __init__(self, key: bytes) -> None:
        self._key = hashlib.sha256(b"cardinal-private-metadata:" + key).digest()

    def _mac(self, payload: str) -> str:
        return hmac.new(self._key, payload.encode(), hashlib.sha256).hexdigest()[:32]

    def seal(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """``data`` plus a ``sig`` entry (pass the result to the modal builder)."""
        payload = json.dumps(dict(data), separators=(",", ":"), sort_keys=True)
        return {**data, "sig": self._mac(payload)}

    def open(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """The metadata without ``sig``; :class:`InputError` when it was changed."""
        body = {k: v for k, v in data.items() if k != "sig"}
        payload = json.dumps(body, separators=(",", ":"), sort_keys=True)
        sig = data.get("sig")
        if not isinstance(sig, str) or not hmac.compare_digest(sig, self._mac(payload)):
            raise InputError(
                "This form's hidden data was changed, so Cardinal refused it.",
                hint="Open a new form with `/lxc create`.",
            )
        return body
