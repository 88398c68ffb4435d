"""Chat messages (``lk.chat``) from untrusted participants, bounded and answered in arrival order.

What a participant can make the agent hold is bounded:

- per message: at most ``max_chars`` characters are read; a longer message is abandoned at the
  limit (the rest is never buffered) and ignored, with a warning;
- per participant: at most ``max_per_second`` messages a second on average, in bursts of at most
  ``burst`` (a token bucket), and at most ``max_pending`` messages read or waiting; what exceeds it is
  dropped unread, with one warning per burst.

Order and bursts: messages are answered in the order they arrived (not the order their streams
happened to finish). The first message is answered at once; messages that arrive while the agent is
answering wait, and are then answered together, in one turn (their texts joined by new lines, at
most ``max_chars`` per turn): a burst of 200 messages costs a handful of replies, not 200.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from livekit import rtc

from ...validation import check_int, check_number
from ._tasks import TaskOwner

logger = logging.getLogger("livekitex_agent.rooms.livekit")


@dataclass(frozen=True)
class ChatLimits:
    """Bounds on what one participant's chat can make the agent hold."""

    max_chars: int = 8192  # per message, and per coalesced turn
    max_per_second: float = 5.0  # messages per second a participant may send, on average
    burst: int = 20  # messages a participant may send at once
    max_pending: int = 50  # messages of one participant read or waiting to be answered
    read_timeout: float = 10.0  # a message whose stream does not finish in this time is dropped

    def __post_init__(self) -> None:
        check_int("ChatLimits.max_chars", self.max_chars, minimum=1)
        check_number("ChatLimits.max_per_second", self.max_per_second, exclusive=True)
        check_int("ChatLimits.burst", self.burst, minimum=1)
        check_int("ChatLimits.max_pending", self.max_pending, minimum=1)
        check_number("ChatLimits.read_timeout", self.read_timeout, exclusive=True)


class _Bucket:
    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.at = float(burst), now
        self.pending = 0
        self.dropping = False  # warned about this burst already

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


@dataclass
class _Message:
    sender: str
    done: asyncio.Future[str | None]


class ChatInput:
    """Reads chat streams within :class:`ChatLimits` and hands their texts to ``reply`` in order.

    ``reply(text)`` asks the session for a reply; if it returns an awaitable (a speech handle),
    the next turn waits for it, so what arrives meanwhile is answered together.
    """

    def __init__(self, reply: Callable[[str], Any], *, limits: ChatLimits | None = None) -> None:
        self._reply = reply
        self.limits = limits or ChatLimits()
        self._tasks = TaskOwner()
        self._queue: deque[_Message] = deque()
        self._wake = asyncio.Event()
        self._buckets: dict[str, _Bucket] = {}
        self._consumer: asyncio.Task[None] | None = None
        self._closed = False

    def on_stream(self, reader: rtc.TextStreamReader, sender: str) -> None:
        """A chat stream began (called in arrival order): take it, or drop it unread."""
        loop = asyncio.get_running_loop()
        limits = self.limits
        bucket = self._buckets.get(sender)
        if bucket is None:
            bucket = self._buckets[sender] = _Bucket(limits.max_per_second, limits.burst, loop.time())
        size = getattr(getattr(reader, "info", None), "size", None)
        if self._closed or not self._admit(bucket, sender, loop.time()):
            reader.close()
            return
        if size is not None and size > 4 * limits.max_chars:  # announced as far too big (UTF-8 bytes)
            logger.warning(
                "ignoring a chat message of %d bytes from %s (limit %d characters)", size, sender, limits.max_chars
            )
            reader.close()
            return
        bucket.pending += 1
        message = _Message(sender, loop.create_future())
        self._queue.append(message)
        self._tasks.spawn(self._read(reader, message, bucket), name="lk-chat-read")
        if self._consumer is None:
            self._consumer = self._tasks.spawn(self._answer(), name="lk-chat-answer")

    def _admit(self, bucket: _Bucket, sender: str, now: float) -> bool:
        full = bucket.pending >= self.limits.max_pending
        if not full and bucket.take(now):
            bucket.dropping = False
            return True
        if not bucket.dropping:
            bucket.dropping = True
            why = (
                f"{bucket.pending} messages are waiting already"
                if full
                else f"faster than {self.limits.max_per_second:g} a second (bursts of {self.limits.burst})"
            )
            logger.warning("%s sends chat messages %s: dropping them", sender, why)
        return False

    async def _read(self, reader: rtc.TextStreamReader, message: _Message, bucket: _Bucket) -> None:
        text: str | None = None
        try:
            async with asyncio.timeout(self.limits.read_timeout):
                text = await self._read_bounded(reader, message.sender)
        except TimeoutError:
            logger.warning("a chat message from %s did not arrive in time: ignored", message.sender)
        except Exception as e:  # aborted by the sender, or the room left mid-stream
            logger.info("a chat message from %s was cut off: %s", message.sender, e)
        finally:
            reader.close()
            if not message.done.done():
                message.done.set_result(text)
            self._wake.set()

    async def _read_bounded(self, reader: rtc.TextStreamReader, sender: str) -> str | None:
        parts: list[str] = []
        total = 0
        async for chunk in reader:
            total += len(chunk)
            if total > self.limits.max_chars:
                logger.warning(
                    "ignoring a chat message from %s: longer than %d characters (stopped reading)",
                    sender,
                    self.limits.max_chars,
                )
                return None
            parts.append(chunk)
        return "".join(parts)

    async def _answer(self) -> None:
        while True:
            while not self._queue or not self._queue[0].done.done():
                self._wake.clear()
                await self._wake.wait()
            texts: list[str] = []
            size = 0
            while self._queue and self._queue[0].done.done():  # everything read, in arrival order
                head = self._queue[0]
                text = (head.done.result() or "").strip()
                if texts and size + len(text) + 1 > self.limits.max_chars:
                    break  # the rest makes the next turn
                self._queue.popleft()
                self._buckets[head.sender].pending -= 1
                if text:
                    texts.append(text)
                    size += len(text) + 1
            if not texts:
                continue
            logger.debug("chat: answering %d message(s), %d characters", len(texts), size)
            try:
                handle = self._reply("\n".join(texts))
                if inspect.isawaitable(handle):  # a speech handle: what arrives while it plays waits
                    await handle
            except Exception as e:  # the session reports its own failures; chat goes on
                logger.warning("chat reply failed: %s", e)

    async def aclose(self) -> None:
        self._closed = True
        await self._tasks.cancel_all()
        self._queue.clear()
