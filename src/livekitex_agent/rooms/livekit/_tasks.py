"""An owner for background tasks: each is named, its failure logged once, all cancelled on close."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

logger = logging.getLogger("livekitex_agent.rooms.livekit")


class TaskOwner:
    """Starts tasks and keeps them until they end; :meth:`cancel_all` cancels and awaits the rest."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, T], name: str) -> asyncio.Task[T]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            logger.error("task %s failed", task.get_name(), exc_info=exc)

    def __len__(self) -> int:
        return len(self._tasks)

    async def cancel_all(self, *, keep: tuple[asyncio.Task[Any] | None, ...] = ()) -> None:
        """Cancel every owned task except ``keep`` and the calling task, and wait for them to end."""
        current = asyncio.current_task()
        victims = [t for t in self._tasks if t is not current and t not in keep]
        for task in victims:
            task.cancel()
        if victims:
            await asyncio.gather(*victims, return_exceptions=True)
