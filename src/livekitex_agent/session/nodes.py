"""Running the agent's nodes inside the session (see :mod:`livekitex_agent.nodes`).

The session lends the active agent a :class:`SessionNodeContext` (its resolved providers and
settings). The engines run a node only when the agent's class overrides it: the LLM step's chunks
(:func:`open_llm_node`), a speech segment's transcripts (:class:`NodeSegment`), the shown text
(:class:`ShownText`) and the realtime audio (:func:`realtime_audio`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable, Sequence
from typing import Protocol

from ..agent import Agent
from ..chat import ChatContext
from ..errors import NodeError
from ..media.frame import AudioFrame
from ..media.io import TextOutput
from ..nodes import NodeAgent, as_chunk, bad_item, final_text, node_overridden, run_node
from ..providers.base import ProviderStream
from ..providers.llm import LLM, ChatChunk
from ..providers.stt import STT, SpeechEvent, SpeechEventType
from ..providers.tts import TTS
from ..tools.function_tool import FunctionTool
from .host import SessionProviders, SessionSignals
from .options import SessionOptions

logger = logging.getLogger("livekitex_agent.session")


class NodeSession(SessionProviders, SessionSignals, Protocol):
    """What :class:`SessionNodeContext` asks of the session."""

    options: SessionOptions
    language: str | None


class SessionNodeContext:
    """The :class:`~livekitex_agent.nodes.NodeContext` the session lends ``agent`` while it is active."""

    def __init__(self, session: NodeSession, agent: Agent) -> None:
        self._session = session
        self._agent = agent

    @property
    def stt(self) -> STT | None:
        return self._session.stt_for(self._agent)

    @property
    def llm(self) -> LLM | None:
        return self._session.llm_for(self._agent)

    @property
    def tts(self) -> TTS | None:
        return self._session.tts_for(self._agent)

    @property
    def language(self) -> str | None:
        return self._session.language

    @property
    def stt_streaming(self) -> bool:
        return self._session.options.stt_streaming

    def report_error(self, error: BaseException, *, source: str) -> None:
        self._session.report_error(error, source=source, recoverable=True)


def error_source(error: BaseException, default: str) -> str:
    """The ``error`` event's source for ``error``: the node's name for a :class:`NodeError`."""
    return error.node if isinstance(error, NodeError) else default


# -- llm_node --------------------------------------------------------------------------------------
async def _chunks(agent: NodeAgent, chat_ctx: ChatContext, tools: Sequence[FunctionTool]) -> AsyncGenerator[ChatChunk]:
    async for item in run_node(agent, "llm_node", chat_ctx, tools):
        yield as_chunk(agent, item)


async def open_llm_node(
    agent: NodeAgent, chat_ctx: ChatContext, tools: Sequence[FunctionTool]
) -> tuple[ProviderStream[ChatChunk], AsyncIterator[ChatChunk], ChatChunk | None]:
    """``agent.llm_node`` started like a provider stream: (stream to close, iterator, first chunk)."""
    chunks = _chunks(agent, chat_ctx, tools)
    return chunks, chunks, await anext(chunks, None)


# -- stt_node --------------------------------------------------------------------------------------
class NodeSegment:
    """One speech segment through ``agent.stt_node``: the same calls as a
    :class:`~.stt_stream.StreamedSegment`, so recognition treats both alike. A node that fails is
    reported (``on_error``) and the segment has no words; the session goes on."""

    def __init__(
        self,
        agent: NodeAgent,
        *,
        on_interim: Callable[[str], None],
        on_error: Callable[[BaseException], None],
    ) -> None:
        self._agent = agent
        self._on_interim = on_interim
        self._on_error = on_error
        self._loop = asyncio.get_running_loop()
        self._audio: asyncio.Queue[AudioFrame | None] = asyncio.Queue()
        self._finals: list[str] = []
        self.opened_at = self._loop.time()
        self.ended_at: float | None = None
        self.audio_duration = 0.0
        self._ended = asyncio.Event()
        self._reader: asyncio.Task[str] | None = self._loop.create_task(self._read(), name="stt-node")

    failed = False  # a failing node is reported here, never retried per segment

    def push(self, frame: AudioFrame) -> None:
        if self.ended_at is None:
            self.audio_duration += frame.duration
            self._audio.put_nowait(frame)

    def end(self, frames: tuple[AudioFrame, ...]) -> None:
        if self.ended_at is None:
            self.ended_at = self._loop.time()
            self._ended.set()
            self._audio.put_nowait(None)

    async def result(self) -> str:
        reader = self._reader
        assert reader is not None
        text = await asyncio.shield(reader)
        await self._ended.wait()  # a node that stopped early: its words count from the end of speech
        return text

    async def frames(self) -> tuple[AudioFrame, ...]:
        return ()

    async def aclose(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None and not reader.done():
            reader.cancel()
            await asyncio.wait((reader,))

    async def _frames(self) -> AsyncIterator[AudioFrame]:
        while (frame := await self._audio.get()) is not None:
            yield frame

    async def _read(self) -> str:
        try:
            async for event in run_node(self._agent, "stt_node", self._frames()):
                if not isinstance(event, SpeechEvent):
                    raise bad_item(self._agent, "stt_node", event, "SpeechEvent")
                text = final_text(event)
                if text:
                    self._finals.append(text)
                elif event.type is SpeechEventType.INTERIM_TRANSCRIPT and event.text.strip():
                    self._on_interim(" ".join((*self._finals, event.text.strip())))
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self._on_error(e)
            return ""
        return " ".join(self._finals)


# -- transcription_node ----------------------------------------------------------------------------
class ShownText:
    """The text of one reply on its way to the text output, through ``agent.transcription_node``
    when the agent overrides it. A node that fails is reported once and shows nothing more."""

    def __init__(self, agent: object, out: TextOutput, report: Callable[[BaseException], None]) -> None:
        self._out = out
        self._report = report
        self._queue: asyncio.Queue[str | None] | None = None
        self._task: asyncio.Task[None] | None = None
        if node_overridden(agent, "transcription_node"):
            self._queue = asyncio.Queue()
            self._task = asyncio.get_running_loop().create_task(self._forward(agent), name="transcription-node")

    async def capture(self, text: str) -> None:
        if self._queue is None:
            await self._out.capture_text(text)
        else:
            self._queue.put_nowait(text)

    async def close(self) -> None:
        """The reply's text is complete: let the node finish (what it holds back is shown now)."""
        task = self._task
        if self._queue is not None and task is not None:
            self._queue.put_nowait(None)
            try:
                await asyncio.wait((task,))
            finally:
                if not task.done():  # the reply itself was cancelled meanwhile
                    task.cancel()

    async def cancel(self) -> None:
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait((task,))

    async def _text(self) -> AsyncIterator[str]:
        assert self._queue is not None
        while (text := await self._queue.get()) is not None:
            yield text

    async def _forward(self, agent: object) -> None:
        try:
            async for text in run_node(agent, "transcription_node", self._text()):
                if not isinstance(text, str):
                    raise bad_item(agent, "transcription_node", text, "str")
                if text:
                    await self._out.capture_text(text)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self._report(e)
            self._queue = asyncio.Queue()  # swallow the rest of this reply's text, unseen


# -- realtime_audio_output_node ------------------------------------------------------------------
def realtime_audio(agent: object, audio: AsyncIterable[AudioFrame]) -> AsyncIterable[AudioFrame]:
    """The realtime model's audio as the agent's node has it played (the stream itself when the
    node is not overridden: no layer per frame)."""
    if not node_overridden(agent, "realtime_audio_output_node"):
        return audio
    return _checked_audio(agent, audio)


async def _checked_audio(agent: object, audio: AsyncIterable[AudioFrame]) -> AsyncIterator[AudioFrame]:
    async for frame in run_node(agent, "realtime_audio_output_node", audio):
        if not isinstance(frame, AudioFrame):
            raise bad_item(agent, "realtime_audio_output_node", frame, "AudioFrame")
        yield frame
