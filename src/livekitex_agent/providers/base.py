"""What every provider shares: a label for logs and errors, and a retry policy."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from ..errors import ProviderError, ProviderTimeoutError
from ..validation import check_int, check_number

logger = logging.getLogger("livekitex_agent.providers")

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How a failed request is retried: ``max_retries`` more attempts with capped, jittered backoff."""

    max_retries: int = 2  # attempts after the first one
    base_delay: float = 0.25  # seconds before the first retry, doubling each time
    max_delay: float = 4.0  # the longest wait between attempts
    jitter: float = 0.2  # +/- fraction of the delay
    timeout: float | None = 15.0  # per attempt, until the first output arrives

    def __post_init__(self) -> None:
        check_int("RetryPolicy.max_retries", self.max_retries)
        check_number("RetryPolicy.base_delay", self.base_delay)
        check_number("RetryPolicy.max_delay", self.max_delay)
        check_number("RetryPolicy.jitter", self.jitter, maximum=1.0)
        check_number("RetryPolicy.timeout", self.timeout, exclusive=True, allow_none=True)

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """The wait before retry number ``attempt`` (1-based)."""
        base = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        r = (rng or random).uniform(-self.jitter, self.jitter)
        return max(0.0, base * (1 + r))


NO_RETRY = RetryPolicy(max_retries=0)


class Provider:
    """Base of every provider: ``label`` names it in logs, errors and metrics."""

    retry_policy: RetryPolicy = RetryPolicy()

    @property
    def label(self) -> str:
        """``plugin.ClassName`` for plugin providers (``openai.LLM``), else the class name."""
        module = type(self).__module__
        if ".plugins." in module:
            return f"{module.split('.plugins.')[1].split('.')[0]}.{type(self).__name__}"
        return type(self).__name__

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections or models the provider holds."""


async def with_retries(
    attempt: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    provider: str,
    on_retry: Callable[[ProviderError, int], None] | None = None,
) -> T:
    """Run ``attempt`` until it succeeds, retrying retryable :class:`ProviderError` per ``policy``.

    A server-requested pause (``ProviderError.retry_after``) is honoured; when it is longer than
    ``policy.max_delay`` the error is raised at once instead, so a caller can fail over.
    """
    n = 0
    while True:
        try:
            if policy.timeout is None:
                return await attempt()
            async with asyncio.timeout(policy.timeout):
                return await attempt()
        except TimeoutError:
            err: ProviderError = ProviderTimeoutError(
                f"no answer within {policy.timeout:g}s", provider=provider
            )
        except ProviderError as e:
            err = e
        if not err.retryable or n >= policy.max_retries:
            raise err
        if err.retry_after is not None and err.retry_after > policy.max_delay:
            raise err  # the server wants a longer pause than the policy allows: fail now (and fail over)
        n += 1
        delay = policy.delay(n) if err.retry_after is None else max(policy.delay(n), err.retry_after)
        logger.warning(
            "%s failed (%s); retry %d/%d in %.2fs", provider, err.message, n, policy.max_retries, delay
        )
        if on_retry is not None:
            on_retry(err, n)
        await asyncio.sleep(delay)


T_co = TypeVar("T_co", covariant=True)


class ProviderStream(Protocol[T_co]):
    """What LLM and TTS streams have in common: iterate for items, ``aclose`` to cancel."""

    def __aiter__(self) -> AsyncIterator[T_co]: ...

    async def aclose(self) -> None: ...


async def open_stream(
    start: Callable[[], ProviderStream[T]], *, policy: RetryPolicy, provider: str
) -> tuple[ProviderStream[T], AsyncIterator[T], T | None]:
    """Start a provider stream and wait for its first item, retrying per ``policy`` until then.

    Once output has started nothing is retried (the words or sound are already out): the caller
    gets the stream, its iterator and the first item (``None`` if the stream was empty).
    """

    async def attempt() -> tuple[ProviderStream[T], AsyncIterator[T], T | None]:
        stream = start()
        it = stream.__aiter__()
        try:
            first: T | None = await it.__anext__()
        except StopAsyncIteration:
            first = None
        except BaseException:
            await stream.aclose()
            raise
        return stream, it, first

    return await with_retries(attempt, policy=policy, provider=provider)
