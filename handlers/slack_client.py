"""The Slack Web API client Cardinal uses, with retries that never duplicate a post.

slack_sdk retries only connection errors by default. Cardinal adds rate-limit (429) and server-error
(500/503) retries, but ``chat.postMessage`` is not idempotent: after a 5xx or a cut connection the
message may already be in the channel, so those are not retried here — posts go through a post-once
record elsewhere that looks before posting again. A 429 means Slack refused the call, so it is retried
for every method, honouring ``Retry-After``.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import ClientConnectorError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import (
    BackoffRetryIntervalCalculator,
    FixedValueRetryIntervalCalculator,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient

__all__ = [
    "NON_IDEMPOTENT_METHODS",
    "RateLimitRetryHandler",
    "SafeConnectionErrorRetryHandler",
    "SafeServerErrorRetryHandler",
    "make_web_client",
]

#: Methods whose effect may have happened even though the answer was lost.
NON_IDEMPOTENT_METHODS = frozenset({"chat.postMessage"})


def _api_method(request: HttpRequest) -> str:
    return request.url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


def _outcome_unknown_if_failed(request: HttpRequest) -> bool:
    return _api_method(request) in NON_IDEMPOTENT_METHODS


RetryHook = Callable[[str, str], None]
"""Called as ``hook(api_method, reason)`` before each retry (for the retries metric)."""


class _Counted:
    """Reports each retry to a hook before waiting for it."""

    reason = "retry"
    hook: RetryHook | None = None

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        if self.hook is not None:
            self.hook(_api_method(request), self.reason)
        await super().prepare_for_next_attempt_async(  # type: ignore[misc]
            state=state, request=request, response=response, error=error
        )


class RateLimitRetryHandler(_Counted, AsyncRateLimitErrorRetryHandler):
    """429 retries (every method: Slack refused the call), honouring ``Retry-After``."""

    reason = "ratelimited"


class SafeConnectionErrorRetryHandler(_Counted, AsyncConnectionErrorRetryHandler):
    """Connection-error retries, except for non-idempotent methods once the request may have been sent.

    A refused connection (``ClientConnectorError``) never reached Slack, so it is retried for every method.
    """

    reason = "connection"

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if _outcome_unknown_if_failed(request) and not isinstance(error, ClientConnectorError):
            return False
        return await super()._can_retry_async(state=state, request=request, response=response, error=error)


class SafeServerErrorRetryHandler(_Counted, AsyncServerErrorRetryHandler):
    """500/503 retries, except for non-idempotent methods (the post may have gone through)."""

    reason = "server_error"

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if _outcome_unknown_if_failed(request):
            return False
        return await super()._can_retry_async(state=state, request=request, response=response, error=error)


def make_web_client(
    token: str,
    base_url: str,
    *,
    max_retries: int = 2,
    timeout: int = 30,
    retry_interval: float | None = None,
    on_retry: RetryHook | None = None,
) -> AsyncWebClient:
    """An ``AsyncWebClient`` for ``base_url`` with Cardinal's retry handlers.

    Pass it to ``AsyncApp(client=...)``: Bolt copies ``base_url`` and the retry handlers into the client
    it builds for every request. ``token`` is the bot token (read it from the ``SecretStr`` just here).
    ``retry_interval`` fixes the pause between 5xx/connection retries (default: exponential backoff with
    jitter); 429 retries always wait for ``Retry-After``.
    """
    interval = (
        BackoffRetryIntervalCalculator()
        if retry_interval is None
        else FixedValueRetryIntervalCalculator(retry_interval)
    )
    handlers: list[_Counted] = [
        RateLimitRetryHandler(max_retry_count=max_retries),
        SafeServerErrorRetryHandler(max_retry_count=max_retries, interval_calculator=interval),
        SafeConnectionErrorRetryHandler(max_retry_count=max_retries, interval_calculator=interval),
    ]
    for handler in handlers:
        handler.hook = on_retry
    if not base_url.endswith("/"):
        base_url += "/"
    retry_handlers: list[AsyncRetryHandler] = [h for h in handlers if isinstance(h, AsyncRetryHandler)]
    return AsyncWebClient(token=token, base_url=base_url, timeout=timeout, retry_handlers=retry_handlers)
