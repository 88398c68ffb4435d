"""The order in which the agent speaks: one speech at a time, the rest waiting their turn."""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from .speech import SpeechHandle

logger = logging.getLogger("livekitex_agent.session")

SpeechRun = Callable[[], Coroutine[Any, Any, None]]


class SpeechQueue:
    """Runs queued speeches in order. ``on_start``/``on_end`` let the session move its states."""

    def __init__(
        self,
        *,
        on_start: Callable[[SpeechHandle], None],
        on_end: Callable[[SpeechHandle, bool], None],
        on_error: Callable[[BaseException], None],
    ) -> None:
        self._on_start = on_start
        self._on_end = on_end
        self._on_error = on_error
        self._queue: collections.deque[tuple[SpeechHandle, SpeechRun]] = collections.deque()
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self.current: SpeechHandle | None = None

    @property
    def idle(self) -> bool:
        return self.current is None and not self._queue

    def __len__(self) -> int:
        return len(self._queue)

    def push(self, speech: SpeechHandle, run: SpeechRun) -> None:
        self._queue.append((speech, run))
        self._idle.clear()
        self._wakeup.set()

    def interrupt(self, *, force: bool = False) -> None:
        """Interrupt the current speech and drop the queued ones that allow it (all with ``force``)."""
        kept: collections.deque[tuple[SpeechHandle, SpeechRun]] = collections.deque()
        for speech, run in self._queue:
            if speech.interrupt(force=force):
                speech._mark_done()
            else:
                kept.append((speech, run))
        self._queue = kept
        if self.current is not None:
            self.current.interrupt(force=force)
        if self.idle:
            self._idle.set()

    async def wait_for_idle(self) -> None:
        while not self.idle:
            self._idle.clear()
            await self._idle.wait()

    async def run(self) -> None:
        """The scheduler loop (one task per session)."""
        try:
            while True:
                while not self._queue:
                    if self.current is None:
                        self._idle.set()
                    self._wakeup.clear()
                    await self._wakeup.wait()
                speech, run = self._queue.popleft()
                if speech.done():
                    continue
                self.current = speech
                self._on_start(speech)
                try:
                    await run()
                except Exception as e:
                    self._on_error(e)
                finally:
                    self.current = None
                    speech._mark_done()
                    self._on_end(speech, not self._queue)
        finally:
            # closing: nobody waits for a speech that will never run
            for speech, _ in self._queue:
                speech.interrupt(force=True)
                speech._mark_done()
            self._queue.clear()
            if self.current is not None:
                self.current._mark_done()
            self._idle.set()
