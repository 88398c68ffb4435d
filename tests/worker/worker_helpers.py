"""Small helpers shared by the worker tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from livekitex_agent.testing import wait_until

# the video grant of a worker's registration token: it may register, and join no room
WORKER_ONLY_GRANT = {"agent": True, "canPublish": False, "canSubscribe": False, "canPublishData": False}


async def eventually(predicate: Callable[[], bool], timeout: float, interval: float = 0.02) -> None:
    """Poll ``predicate`` (state outside this loop: files, other processes) until true or ``timeout``."""
    await wait_until(predicate, timeout=timeout, interval=interval)


async def eventually_async(
    predicate: Callable[[], Awaitable[bool]], timeout: float, interval: float = 0.05
) -> None:
    """Like :func:`eventually` for a check that must await (an HTTP request)."""
    async with asyncio.timeout(timeout):
        while not await predicate():  # noqa: ASYNC110 - polling another process over HTTP
            await asyncio.sleep(interval)
