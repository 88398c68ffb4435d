"""Waiting in tests for a condition that no event announces (state of an SDK, a file, another process)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def wait_until(
    predicate: Callable[[], bool], *, timeout: float, interval: float = 0.02, what: str = ""
) -> None:
    """Poll ``predicate`` every ``interval`` seconds; raise ``TimeoutError`` naming ``what`` after ``timeout``."""
    try:
        async with asyncio.timeout(timeout):
            while not predicate():  # noqa: ASYNC110 - for state that has no event to wait on
                await asyncio.sleep(interval)
    except TimeoutError:
        raise TimeoutError(f"timed out after {timeout:g}s waiting for {what or predicate}") from None
