"""Preemptive generation: start the reply while the end of the turn is still being decided.

When the user's words are all transcribed but the turn is not yet over (the turn detector is
thinking, or the silence is not long enough yet), :class:`PreemptiveReply` sends the request the
reply would send — the history plus the user's words — and synthesizes the first sentence, all
into buffers: nothing is played, nothing is written to the history. If the turn ends with the same
words and the same history, the reply takes the buffers through :attr:`llm` and :attr:`tts`
(stand-ins for the real providers that hand out what is ready, then the live rest); if the user
goes on, :meth:`aclose` cancels the requests and drops the buffers. When the agent overrides
``llm_node`` or ``tts_node``, the early request and the first sentence's audio go through them, so
the prepared reply is the one the node would have made.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Generic, TypeVar

from ..chat import ChatContext
from ..media.frame import AudioFrame
from ..nodes import NodeAgent, node_overridden, run_node
from ..providers.base import open_stream
from ..providers.llm import LLM, ChatChunk, GeneratorLLMStream, LLMStream, ToolChoice
from ..providers.tts import TTS, GeneratorTTSStream, TTSStream
from ..tools.function_tool import FunctionTool
from .nodes import open_llm_node
from .sentences import SentenceStream

logger = logging.getLogger("livekitex_agent.session")

T = TypeVar("T")


class _Buffer(Generic[T]):
    """Items as they arrive, read back from the start by one late reader (no copies, no polling)."""

    def __init__(self) -> None:
        self.items: list[T] = []
        self.error: BaseException | None = None
        self.done = False
        self._changed = asyncio.Event()

    def add(self, item: T) -> None:
        self.items.append(item)
        self._changed.set()

    def finish(self, error: BaseException | None = None) -> None:
        self.done, self.error = True, error
        self._changed.set()

    async def replay(self) -> AsyncIterator[T]:
        i = 0
        while True:
            while i < len(self.items):
                yield self.items[i]
                i += 1
            if self.done:
                if self.error is not None:
                    raise self.error
                return
            self._changed.clear()
            await self._changed.wait()


class PreemptiveReply:
    """The reply to ``user_text`` started early; see the module docstring."""

    def __init__(
        self,
        *,
        user_text: str,
        history: ChatContext,
        llm: LLM,
        tools: Sequence[FunctionTool],
        tts: TTS | None,
        speakable: Callable[[str], str] = str.strip,  # sentence → what the TTS hears (text transforms)
        agent: NodeAgent | None = None,  # whose overridden nodes the early request and audio go through
    ) -> None:
        self.user_text = user_text
        self._agent = agent
        self._speakable = speakable
        self.history_id = history.last_id  # the reply is only valid after this very history
        ctx = history.copy()
        ctx.add_message("user", user_text)
        self._chunks: _Buffer[ChatChunk] = _Buffer()
        self._audio: _Buffer[AudioFrame] = _Buffer()
        self._first_sentence: str | None = None
        self._tts_task: asyncio.Task[None] | None = None
        self._taken = False
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self._run(llm, ctx, tools, tts), name="preemptive-reply")
        self.llm = _PreparedLLM(self, llm)
        self.tts = _PreparedTTS(self, tts) if tts is not None else None

    def matches(self, user_text: str, history_id: str | None) -> bool:
        """Whether this is the reply the finished turn needs (same words, same history before them)."""
        return not self._taken and user_text == self.user_text and history_id == self.history_id

    async def _run(self, llm: LLM, ctx: ChatContext, tools: Sequence[FunctionTool], tts: TTS | None) -> None:
        sentences = SentenceStream()
        agent = self._agent
        try:
            if agent is not None and node_overridden(agent, "llm_node"):
                stream, it, chunk = await open_llm_node(agent, ctx, tools)
            else:
                stream, it, chunk = await open_stream(
                    lambda: llm.chat(chat_ctx=ctx, tools=tools, tool_choice="auto" if tools else "none"),
                    policy=llm.retry_policy,
                    provider=llm.label,
                )
        except Exception as e:  # the real reply retries with the real LLM
            self._chunks.finish(e)
            self._audio.finish()
            return
        started = False  # the first sentence went to the TTS (the reply may already have taken it)
        try:
            while chunk is not None:
                self._chunks.add(chunk)
                if chunk.content and not started:
                    first = sentences.push(chunk.content)
                    if first:
                        started = True
                        self._start_tts(tts, first[0])
                try:
                    chunk = await it.__anext__()
                except StopAsyncIteration:
                    chunk = None
            if not started:
                rest = sentences.flush()
                if rest:
                    self._start_tts(tts, rest[0])
            self._chunks.finish()
        except Exception as e:
            self._chunks.finish(e)
        finally:
            await stream.aclose()
            if self._tts_task is None:
                self._audio.finish()

    def _start_tts(self, tts: TTS | None, sentence: str) -> None:
        spoken = self._speakable(sentence)  # the reply asks its TTS for this very text
        self._first_sentence = spoken
        if tts is not None and spoken:
            self._tts_task = asyncio.get_running_loop().create_task(
                self._synthesize(tts, spoken), name="preemptive-tts"
            )

    async def _synthesize(self, tts: TTS, sentence: str) -> None:
        agent = self._agent
        if agent is not None and node_overridden(agent, "tts_node"):
            await self._synthesize_node(agent, sentence)
            return
        try:
            stream, it, frame = await open_stream(
                lambda: tts.synthesize(sentence), policy=tts.retry_policy, provider=tts.label
            )
        except Exception as e:
            self._audio.finish(e)
            return
        try:
            while frame is not None:
                self._audio.add(frame)
                try:
                    frame = await it.__anext__()
                except StopAsyncIteration:
                    frame = None
            self._audio.finish()
        except Exception as e:
            self._audio.finish(e)
        finally:
            await stream.aclose()

    async def _synthesize_node(self, agent: NodeAgent, sentence: str) -> None:
        async def text() -> AsyncIterator[str]:
            yield sentence

        try:
            async for frame in run_node(agent, "tts_node", text()):
                self._audio.add(frame)
            self._audio.finish()
        except Exception as e:  # the reply meets it when it takes the audio
            self._audio.finish(e)

    def _take_chunks(self) -> AsyncIterator[ChatChunk] | None:
        if self._taken:
            return None
        self._taken = True
        return self._chunks.replay()

    def _take_audio(self, sentence: str) -> AsyncIterator[AudioFrame] | None:
        if self._tts_task is None or sentence != self._first_sentence:
            return None
        self._first_sentence = None  # once
        return self._audio.replay()

    async def aclose(self) -> None:
        """Cancel what is still running (the requests) and drop the buffers."""
        await _cancel(self._task, self._tts_task)


def prepared_pending(llm: LLM | None) -> bool:
    """Whether ``llm`` is a prepared reply's stand-in whose prepared answer is still to be taken."""
    return isinstance(llm, _PreparedLLM) and not llm._prepared._taken


def prepared_audio(tts: TTS | None, text: str) -> TTSStream | None:
    """The prepared audio of ``text`` (what the TTS hears) if ``tts`` is a prepared reply's stand-in
    that has it, else None (once: the second call gets None)."""
    if not isinstance(tts, _PreparedTTS):
        return None
    frames = tts._prepared._take_audio(text)
    return _ReplayTTSStream(tts._prepared, frames) if frames is not None else None


class _PreparedLLM(LLM):
    """The first ``chat`` gets the prepared reply; later ones (tool steps, retries) go to ``inner``."""

    def __init__(self, prepared: PreemptiveReply, inner: LLM) -> None:
        self._prepared = prepared
        self._inner = inner
        self.retry_policy = inner.retry_policy

    @property
    def label(self) -> str:
        return self._inner.label

    def chat(
        self,
        *,
        chat_ctx: ChatContext,
        tools: Sequence[FunctionTool] = (),
        tool_choice: ToolChoice = "auto",
        temperature: float | None = None,
    ) -> LLMStream:
        chunks = self._prepared._take_chunks()
        if chunks is None:
            return self._inner.chat(
                chat_ctx=chat_ctx, tools=tools, tool_choice=tool_choice, temperature=temperature
            )
        return _ReplayLLMStream(self._prepared, chunks)


class _ReplayLLMStream(GeneratorLLMStream):
    def __init__(self, prepared: PreemptiveReply, chunks: AsyncIterator[ChatChunk]) -> None:
        super().__init__(lambda: chunks)
        self._prepared = prepared

    async def aclose(self) -> None:
        await super().aclose()
        await _cancel(self._prepared._task)  # the first sentence's audio may still be on its way


class _PreparedTTS(TTS):
    """The prepared first sentence's audio; every other sentence goes to ``inner``."""

    def __init__(self, prepared: PreemptiveReply, inner: TTS) -> None:
        self._prepared = prepared
        self._inner = inner
        self.sample_rate = inner.sample_rate
        self.num_channels = inner.num_channels
        self.retry_policy = inner.retry_policy

    @property
    def label(self) -> str:
        return self._inner.label

    def synthesize(self, text: str) -> TTSStream:
        frames = self._prepared._take_audio(text)
        if frames is None:
            return self._inner.synthesize(text)
        return _ReplayTTSStream(self._prepared, frames)


class _ReplayTTSStream(GeneratorTTSStream):
    def __init__(self, prepared: PreemptiveReply, frames: AsyncIterator[AudioFrame]) -> None:
        super().__init__(lambda: frames)
        self._prepared = prepared

    async def aclose(self) -> None:
        await super().aclose()
        # e.g. an interruption: stop the audio still being made (the reply's LLM stream may still be reading)
        await _cancel(self._prepared._tts_task)


async def _cancel(*tasks: asyncio.Task[None] | None) -> None:
    running = [t for t in tasks if t is not None and not t.done()]
    for t in running:
        t.cancel()
    await asyncio.gather(*running, return_exceptions=True)
