"""Answers that survive a provider stream dying mid-way, without saying anything twice.

Before the first output a failed request is simply retried (:func:`~.base.open_stream`). After it
the user may already have heard part of the answer, so a plain retry would repeat it:

- :func:`resumable_chat` asks the LLM again with what it already said as the start of its answer
  (and a note to continue from there), and drops words of the new answer that repeat it;
- :func:`resumable_synthesis` synthesizes the text again and skips as much audio as was already
  produced.

A retryable error (per the provider's ``retry_policy``) is resumed; a fallback adapter reports a
provider that died mid-answer as retryable while another provider is available, so resuming it
moves the rest of the answer to the next provider.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from typing import Generic, Protocol, TypeVar

from ..chat import ChatContext
from ..errors import ProviderError
from ..media.frame import AudioFrame
from ..tools.function_tool import FunctionTool
from .base import RetryPolicy
from .llm import LLM, ChatChunk, LLMStream, ToolChoice
from .tts import TTS, TTSStream

logger = logging.getLogger("livekitex_agent.providers")
T = TypeVar("T")

CONTINUE_NOTE = (
    "Your previous answer was cut off after the words above. Continue it from exactly there, "
    "without repeating anything already said."
)


def _norm(word: str) -> str:
    return re.sub(r"[^\w']", "", word.lower())


class RepeatFilter:
    """Drops the start of a resumed answer when it repeats ``said`` (word by word, case and
    punctuation aside); anything else passes, joined to ``said`` with a space where needed."""

    def __init__(self, said: str) -> None:
        self._said = [_norm(w) for w in said.split()]
        self._joined = not said  # False until the first text is joined to ``said``
        self._said_ends_in_space = said[-1:].isspace()
        self._buffer = ""
        self._deciding = bool(self._said)

    def push(self, text: str) -> str:
        if not self._deciding:
            return self._emit(text)
        self._buffer += text
        words = self._buffer.split()
        complete = words if self._buffer[-1:].isspace() else words[:-1]
        for i, word in enumerate(complete):
            if i >= len(self._said):
                return self._release(drop=len(self._said))
            if _norm(word) != self._said[i]:
                return self._release(drop=0)  # a new wording: nothing to drop
        if len(complete) >= len(self._said):
            return self._release(drop=len(self._said))
        return ""  # still possibly a repetition: wait for more words

    def flush(self) -> str:
        """The end of the answer: release what is still held back."""
        if not self._deciding:
            return ""
        words = [_norm(w) for w in self._buffer.split()]
        repeated = len(words) <= len(self._said) and words == self._said[: len(words)]
        return self._release(drop=len(words) if repeated else 0)

    def _release(self, *, drop: int) -> str:
        self._deciding = False
        text = self._buffer
        for _ in range(drop):  # cut the first ``drop`` words (and the space after them)
            text = text.lstrip()
            text = text[len(text.split(maxsplit=1)[0]) :] if text.strip() else ""
        self._buffer = ""
        return self._emit(text)

    def _emit(self, text: str) -> str:
        if self._joined or not text:
            return text
        self._joined = True
        if self._said_ends_in_space:
            return text.lstrip()
        if text[0].isspace() or text[0] in ",.;:!?":
            return text
        return " " + text


def continuation_context(chat_ctx: ChatContext, said: str) -> ChatContext:
    """``chat_ctx`` followed by the partial answer ``said`` and a note to continue it."""
    ctx = chat_ctx.copy()
    ctx.add_message("assistant", said.strip(), interrupted=True)
    ctx.add_message("system", CONTINUE_NOTE)
    return ctx


class _Closable(Protocol):
    async def aclose(self) -> None: ...


class _Current:
    """The provider stream of the latest attempt. A failed one is closed before the next attempt; the
    last one stays open until the reader closes the whole stream (as if it read the provider's own)."""

    def __init__(self) -> None:
        self.stream: _Closable | None = None

    async def close(self) -> None:
        stream, self.stream = self.stream, None
        if stream is not None:
            await stream.aclose()


async def _resuming(
    attempt: Callable[[], AsyncGenerator[T, None]], *, current: _Current, progressed: Callable[[], bool],
    policy: RetryPolicy, provider: str, what: str,
) -> AsyncGenerator[T, None]:
    """Items of ``attempt()``; after a retryable failure once ``progressed()``, of a new ``attempt()``."""
    n = 0
    while True:
        items = attempt()
        try:
            async for item in items:
                yield item
            return
        except ProviderError as e:
            await current.close()
            if not progressed() or not e.retryable or n >= policy.max_retries:
                raise
            n += 1
            delay = policy.delay(n)
            logger.warning("%s failed mid-%s (%s); resuming (%d/%d) in %.2fs", provider, what, e.message, n,
                           policy.max_retries, delay)
            await asyncio.sleep(delay)
        finally:
            await items.aclose()


class _Resumable(Generic[T]):
    """A stream of :func:`_resuming`'s items; closing it also closes the latest attempt's provider stream."""

    def __init__(self, factory: Callable[[], AsyncGenerator[T, None]], current: _Current) -> None:
        self._factory = factory
        self._gen: AsyncGenerator[T, None] | None = None
        self._current = current

    def __aiter__(self) -> AsyncIterator[T]:
        if self._gen is not None:
            raise RuntimeError("a provider stream can be iterated only once")
        self._gen = self._factory()
        return self._gen

    async def aclose(self) -> None:
        try:
            if self._gen is not None:
                await self._gen.aclose()
        finally:
            await self._current.close()


class _ResumableLLMStream(_Resumable[ChatChunk], LLMStream):
    pass


class _ResumableTTSStream(_Resumable[AudioFrame], TTSStream):
    pass


def resumable_chat(
    llm: LLM,
    *,
    chat_ctx: ChatContext,
    tools: Sequence[FunctionTool] = (),
    tool_choice: ToolChoice = "auto",
    temperature: float | None = None,
) -> LLMStream:
    """``llm.chat(...)``, resumed up to ``llm.retry_policy.max_retries`` times after a retryable
    failure once text has streamed (see the module doc). Failures before any text propagate."""
    said = ""
    current = _Current()

    async def attempt() -> AsyncGenerator[ChatChunk, None]:
        nonlocal said
        ctx = continuation_context(chat_ctx, said) if said else chat_ctx
        repeats = RepeatFilter(said)
        current.stream = stream = llm.chat(chat_ctx=ctx, tools=tools, tool_choice=tool_choice,
                                           temperature=temperature)
        async for chunk in stream:
            if chunk.content:
                chunk = ChatChunk(repeats.push(chunk.content), chunk.tool_calls, chunk.usage)
                said += chunk.content
            if chunk.content or chunk.tool_calls or chunk.usage is not None:
                yield chunk
        if tail := repeats.flush():
            yield ChatChunk(tail)

    return _ResumableLLMStream(
        lambda: _resuming(attempt, current=current, progressed=lambda: bool(said.strip()),
                          policy=llm.retry_policy, provider=llm.label, what="answer"),
        current,
    )


def _skip(frame: AudioFrame, seconds: float) -> AudioFrame | None:
    """``frame`` without its first ``seconds`` (None when nothing is left)."""
    n = round(seconds * frame.sample_rate)
    if n <= 0:
        return frame
    if n >= frame.samples_per_channel:
        return None
    return AudioFrame(frame.data[n * frame.num_channels :], frame.sample_rate, frame.num_channels)


def resumable_synthesis(tts: TTS, text: str) -> TTSStream:
    """``tts.synthesize(text)``, resumed up to ``tts.retry_policy.max_retries`` times after a retryable
    failure once audio has streamed: the text is synthesized again and the audio already produced
    skipped (exact for a deterministic voice; a voice of another speed may shift it by a syllable)."""
    produced = 0.0
    current = _Current()

    async def attempt() -> AsyncGenerator[AudioFrame, None]:
        nonlocal produced
        skip = produced
        current.stream = stream = tts.synthesize(text)
        async for frame in stream:
            if skip > 0:
                cut = _skip(frame, skip)
                skip = max(0.0, skip - frame.duration)
                if cut is None:
                    continue
                frame = cut
            produced += frame.duration
            yield frame

    return _ResumableTTSStream(
        lambda: _resuming(attempt, current=current, progressed=lambda: produced > 0,
                          policy=tts.retry_policy, provider=tts.label, what="synthesis"),
        current,
    )
