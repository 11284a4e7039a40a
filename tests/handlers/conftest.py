"""Fixtures for Slack-edge tests: Cardinal's client pointed at the fake Slack (``api_url``, in
``tests/conftest.py``)."""

from __future__ import annotations

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from handlers.slack_client import make_web_client


@pytest.fixture
def web_client(api_url: str) -> AsyncWebClient:
    """Cardinal's production client against the fake, with no pause between 5xx retries."""
    return make_web_client("xoxb-test", api_url, retry_interval=0.0)
