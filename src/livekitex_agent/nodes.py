"""The pipeline's nodes: what :class:`~livekitex_agent.Agent`'s ``stt_node``, ``llm_node``,
``tts_node``, ``transcription_node`` and ``realtime_audio_output_node`` do by default, and how the
session runs an override.

A node is an async stream transform. The defaults here do what the pipeline did before nodes
existed (retries, mid-stream resume, fallback from a broken STT stream to per-segment
recognition); they reach the active providers and settings through a :class:`NodeContext` that
the session lends the agent while it is active, never through the session itself. The session
runs a node only when the agent's class overrides it (:func:`node_overridden`); otherwise it takes
its direct path, so a plain agent pays nothing per audio frame.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterable, AsyncIterator, Callable, Sequence
from typing import Any, Literal, Protocol, TypeVar

from .chat import ChatContext
from .errors import NodeError, ProviderError
from .media.frame import AudioFrame
from .media.resample import Resampler
from .providers.base import open_stream
from .providers.llm import LLM, ChatChunk
from .providers.resume import resumable_chat, resumable_synthesis
from .providers.stt import STT, SpeechEvent, SpeechEventType, STTStream, recognize_segment
from .providers.tts import TTS
from .tools.function_tool import FunctionTool

logger = logging.getLogger("livekitex_agent.session")

NodeName = Literal["stt_node", "llm_node", "tts_node", "transcription_node", "realtime_audio_output_node"]
F = TypeVar("F", bound=Callable[..., Any])
_FINAL_TIMEOUT = 15.0  # seconds a streaming STT may take for its final after the end of speech


class NodeContext(Protocol):
    """What a session lends the nodes of its active agent: the resolved providers (the agent's own,
    else the session's) and the settings the defaults need."""

    @property
    def stt(self) -> STT | None: ...

    @property
    def llm(self) -> LLM | None: ...

    @property
    def tts(self) -> TTS | None: ...

    @property
    def language(self) -> str | None: ...

    @property
    def stt_streaming(self) -> bool:
        """Whether a streaming-capable STT is streamed (the session's ``stt_streaming`` option)."""
        ...

    def report_error(self, error: BaseException, *, source: str) -> None:
        """Report a recovered failure through the session's ``error`` event (logged once there)."""
        ...


def default_node(method: F) -> F:
    """Marks ``Agent``'s own node methods: a class that overrides one replaces the mark."""
    method._livekitex_default_node = True  # type: ignore[attr-defined]
    return method


def node_overridden(agent: object, name: NodeName) -> bool:
    """Whether ``agent``'s class overrides the node ``name`` (else the session's direct path runs)."""
    return not getattr(getattr(type(agent), name), "_livekitex_default_node", False)


class NodeAgent(Protocol):
    """An :class:`~livekitex_agent.Agent` as the session's node runners see it."""

    stt: STT | None
    llm: LLM | None
    tts: TTS | None


# -- defaults --------------------------------------------------------------------------------------
def _need(provider: Any, kind: str) -> Any:
    if provider is None:
        raise RuntimeError(f"the default {kind}_node needs an {kind.upper()}: give {kind}= to the AgentSession or the Agent")
    return provider


async def default_llm_node(
    ctx: NodeContext, chat_ctx: ChatContext, tools: Sequence[FunctionTool]
) -> AsyncIterator[ChatChunk]:
    """``llm.chat`` retried until its first chunk, then resumed mid-stream on a retryable failure."""
    llm: LLM = _need(ctx.llm, "llm")
    stream, it, chunk = await open_stream(
        lambda: resumable_chat(llm, chat_ctx=chat_ctx, tools=tools, tool_choice="auto" if tools else "none"),
        policy=llm.retry_policy,
        provider=llm.label,
    )
    try:
        while chunk is not None:
            yield chunk
            chunk = await anext(it, None)
    finally:
        await stream.aclose()


async def default_tts_node(ctx: NodeContext, text: AsyncIterable[str]) -> AsyncIterator[AudioFrame]:
    """Each sentence synthesized in turn (retried until its first frame, resumed mid-stream)."""
    tts: TTS = _need(ctx.tts, "tts")
    async for sentence in text:
        if not sentence.strip():
            continue
        stream, it, frame = await open_stream(
            lambda s=sentence: resumable_synthesis(tts, s), policy=tts.retry_policy, provider=tts.label  # type: ignore[misc]
        )
        try:
            while frame is not None:
                yield frame
                frame = await anext(it, None)
        finally:
            await stream.aclose()


async def default_stt_node(ctx: NodeContext, audio: AsyncIterable[AudioFrame]) -> AsyncIterator[SpeechEvent]:
    """A segment streamed to a streaming STT (interims, then finals), else recognized once it ends.

    A stream that breaks is reported (``error``, source ``stt``) and the segment's audio is
    recognized per segment instead, as the pipeline does without nodes.
    """
    stt: STT = _need(ctx.stt, "stt")
    if not (ctx.stt_streaming and stt.capabilities.streaming):
        frames = [f async for f in audio]
        if frames:
            yield await recognize_segment(stt, frames, language=ctx.language)
        return
    feed = _Feed()
    try:
        stream: STTStream | None = stt.stream(language=ctx.language)
    except Exception as e:  # a refused connection or a provider bug: recognize per segment instead
        ctx.report_error(e, source="stt")
        stream = None
    pump = asyncio.get_running_loop().create_task(feed.run(stt, stream, audio), name="stt-node-pump")
    try:
        if stream is not None:
            try:
                events = aiter(stream)
                while True:
                    if feed.error is not None:
                        raise feed.error
                    # once the audio is all in, the final may take the STT's timeout at most
                    timeout = (stt.retry_policy.timeout or _FINAL_TIMEOUT) if pump.done() else None
                    try:
                        event = await asyncio.wait_for(anext(events), timeout)
                    except StopAsyncIteration:
                        break
                    yield event
                await pump
                if feed.error is None:
                    return
                raise feed.error
            except asyncio.CancelledError:
                raise
            except Exception as e:  # the stream broke or gave no final in time: the words are in the audio
                feed.broken = True
                ctx.report_error(e, source="stt")
        await pump  # every frame of the segment, then per-segment recognition
        if feed.frames:
            yield await recognize_segment(stt, feed.frames, language=ctx.language)
    finally:
        if not pump.done():
            pump.cancel()
            await asyncio.gather(pump, return_exceptions=True)
        if stream is not None:
            await stream.aclose()


class _Feed:
    """Reads a segment's audio: keeps every frame and pushes it to the STT stream until that breaks."""

    def __init__(self) -> None:
        self.frames: list[AudioFrame] = []
        self.broken = False
        self.error: BaseException | None = None

    async def run(self, stt: STT, stream: STTStream | None, audio: AsyncIterable[AudioFrame]) -> None:
        resampler = Resampler(stt.sample_rate) if stt.sample_rate is not None else None
        async for frame in audio:
            self.frames.append(frame)
            self._push(stream, resampler.push(frame) if resampler is not None else frame)
        if resampler is not None:
            self._push(stream, resampler.flush())
        if stream is not None and not self.broken:
            try:
                stream.end_input()
            except Exception as e:
                self._fail(e)

    def _push(self, stream: STTStream | None, frame: AudioFrame | None) -> None:
        if stream is None or frame is None or self.broken:
            return
        try:
            stream.push_frame(frame)
        except Exception as e:
            self._fail(e)

    def _fail(self, error: BaseException) -> None:
        self.broken, self.error = True, error


async def passthrough(items: AsyncIterable[Any]) -> AsyncIterator[Any]:
    """The default ``transcription_node`` and ``realtime_audio_output_node``: items unchanged."""
    async for item in items:
        yield item


# -- running a node ------------------------------------------------------------------------------
async def run_node(agent: Any, name: NodeName, *args: Any) -> AsyncIterator[Any]:
    """The items of ``agent.<name>(*args)``; an error raised in it becomes a :class:`NodeError`
    naming the node (a provider's :class:`ProviderError` passes as it is: the provider failed).

    The node may be an async generator, or an ``async def`` returning an async iterable.
    """
    result: Any = None
    try:
        result = getattr(agent, name)(*args)
        if inspect.isawaitable(result):
            result = await result
        if not isinstance(result, AsyncIterable):
            raise TypeError(f"it returned {type(result).__name__}, not an async iterable")
        async for item in result:
            yield item
    except (ProviderError, NodeError):
        raise
    except Exception as e:
        raise NodeError(f"{type(agent).__name__}.{name} failed: {type(e).__name__}: {e}", node=name) from e
    finally:
        close = getattr(result, "aclose", None)
        if close is not None:
            await close()


def bad_item(agent: Any, name: NodeName, item: object, expected: str) -> NodeError:
    """The error for a node that yielded something of the wrong type."""
    return NodeError(
        f"{type(agent).__name__}.{name} yielded {type(item).__name__} ({item!r:.60}), expected {expected}",
        node=name,
    )


def as_chunk(agent: Any, item: object) -> ChatChunk:
    """An ``llm_node`` item as a :class:`ChatChunk` (a plain ``str`` is text)."""
    if isinstance(item, ChatChunk):
        return item
    if isinstance(item, str):
        return ChatChunk(content=item)
    raise bad_item(agent, "llm_node", item, "ChatChunk or str")


def final_text(event: SpeechEvent) -> str | None:
    """The text of a final transcript event, else None."""
    return event.text.strip() if event.type is SpeechEventType.FINAL_TRANSCRIPT else None
