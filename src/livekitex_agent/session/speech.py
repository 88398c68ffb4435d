"""``SpeechHandle``: one thing the agent says (a reply or a ``say``), from queueing to playout."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Generator
from typing import Any, Literal

from ..chat import ChatItem

SpeechSource = Literal["say", "generate_reply", "tool_response"]

_ids = itertools.count(1)


class SpeechHandle:
    """Await it (``await handle``) to wait until the speech was played out or interrupted."""

    def __init__(self, *, source: SpeechSource, allow_interruptions: bool, user_initiated: bool) -> None:
        self.id = f"speech_{next(_ids):06d}"
        self.source: SpeechSource = source
        self.allow_interruptions = allow_interruptions
        self.user_initiated = user_initiated
        self.chat_items: list[ChatItem] = []
        self._interrupted = False
        self._interrupt_event = asyncio.Event()
        self._done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._scheduled = False

    @property
    def interrupted(self) -> bool:
        return self._interrupted

    def done(self) -> bool:
        return self._done.done()

    def interrupt(self, *, force: bool = False) -> bool:
        """Ask the speech to stop; returns False when it does not allow interruptions (unless forced)."""
        if self.done():
            return False
        if not self.allow_interruptions and not force:
            return False
        self._interrupted = True
        self._interrupt_event.set()
        return True

    async def wait_for_interrupt(self) -> None:
        await self._interrupt_event.wait()

    async def wait_for_playout(self) -> None:
        await asyncio.shield(self._done)

    def __await__(self) -> Generator[Any, None, SpeechHandle]:
        yield from asyncio.shield(self._done).__await__()
        return self

    def _mark_done(self) -> None:
        if not self._done.done():
            self._done.set_result(None)

    def __repr__(self) -> str:
        state = "interrupted" if self._interrupted else ("done" if self.done() else "pending")
        return f"SpeechHandle(id={self.id!r}, source={self.source!r}, {state})"
