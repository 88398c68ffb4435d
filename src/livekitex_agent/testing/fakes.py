"""Scripted, deterministic providers for testing agents (ours and yours).

- :class:`FakeVAD` detects speech by energy, so real audio (and :class:`FakeTTS` audio) works.
- :class:`FakeSTT` returns scripted transcripts, one per speech segment.
- :class:`FakeLLM` returns scripted replies: text chunks and/or tool calls, with optional delays.
- :class:`FakeTTS` makes a tone whose length follows the text.

Every fake records what it was asked, for assertions.
"""

from __future__ import annotations

import asyncio
import collections
import json
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..chat import ChatContext, FunctionCall
from ..errors import ErrorCategory, ProviderError
from ..media.frame import AudioFrame
from ..providers.base import RetryPolicy
from ..providers.llm import LLM, ChatChunk, CompletionUsage, GeneratorLLMStream, LLMStream, ToolChoice
from ..providers.segmenter import SpeechSegmenter, WindowBuffer
from ..providers.stt import (
    STT,
    EventQueue,
    SpeechAlternative,
    SpeechEvent,
    SpeechEventType,
    STTCapabilities,
    STTStream,
    iterate_events,
)
from ..providers.tts import TTS, GeneratorTTSStream, TTSStream
from ..providers.vad import VAD, VADEvent, VADOptions, VADStream
from ..tools.function_tool import FunctionTool

FAST_RETRY = RetryPolicy(max_retries=2, base_delay=0.01, max_delay=0.05, jitter=0.0, timeout=10.0)


# -- VAD ------------------------------------------------------------------------------------------
class FakeVAD(VAD):
    """Energy VAD: a 10 ms window is speech when its level is above ``threshold_dbfs``."""

    def __init__(
        self,
        *,
        threshold_dbfs: float = -45.0,
        sample_rate: int = 16000,
        min_speech_duration: float = 0.05,
        min_silence_duration: float = 0.3,
        prefix_padding_duration: float = 0.1,
    ) -> None:
        self.sample_rate = sample_rate
        self.threshold_dbfs = threshold_dbfs
        self.options = VADOptions(
            activation_threshold=0.5,
            min_speech_duration=min_speech_duration,
            min_silence_duration=min_silence_duration,
            prefix_padding_duration=prefix_padding_duration,
        )
        # compare mean squares instead of dB: no log per window
        self._threshold_ms = (32768.0 * 10 ** (threshold_dbfs / 20.0)) ** 2

    def stream(self) -> VADStream:
        return _EnergyVADStream(self)


class _EnergyVADStream(VADStream):
    def __init__(self, vad: FakeVAD) -> None:
        self._vad = vad
        self._windows = WindowBuffer(vad.sample_rate // 100, vad.sample_rate)
        self._segmenter = SpeechSegmenter(vad.options)
        self._scratch = np.empty(self._windows.size, dtype=np.float32)

    def push_frame(self, frame: AudioFrame) -> Sequence[VADEvent]:
        events: list[VADEvent] = []
        for window in self._windows.push(frame):
            np.copyto(self._scratch, window.data, casting="unsafe")
            mean_square = float(np.dot(self._scratch, self._scratch)) / self._scratch.size
            probability = 1.0 if mean_square > self._vad._threshold_ms else 0.0
            events.extend(self._segmenter.process(window, probability))
        return events

    def flush(self) -> Sequence[VADEvent]:
        return self._segmenter.flush()


# -- STT ------------------------------------------------------------------------------------------
@dataclass
class STTCall:
    audio_duration: float
    language: str | None
    streamed: bool = False  # through ``stream()`` rather than ``recognize()``


class FakeSTT(STT):
    """Returns ``transcripts`` in order, one per recognized segment.

    An item may be a :class:`ProviderError` (raised instead) — to test error handling. When the
    script runs out, ``default`` is returned ('' = "no words", which the session treats as noise).

    With ``streaming=True`` it also streams (``capabilities.streaming``): each stream takes the next
    item; with ``interim_words`` it emits the item word by word as interim transcripts, one more
    word per ``seconds_per_word`` of audio pushed, and the whole item as the final transcript at
    ``end_input`` (after ``delay``). A :class:`ProviderError` item breaks the stream at its first
    audio (the session then falls back to ``recognize``, which takes the next item).
    """

    retry_policy = FAST_RETRY

    def __init__(
        self,
        transcripts: Sequence[str | ProviderError] = (),
        *,
        delay: float = 0.0,
        default: str = "",
        sample_rate: int | None = 16000,
        streaming: bool = False,
        interim_words: bool = True,
        seconds_per_word: float = 0.25,
    ) -> None:
        if seconds_per_word <= 0:
            raise ValueError(f"seconds_per_word must be positive, got {seconds_per_word!r}")
        self._script: list[str | ProviderError] = list(transcripts)
        self.delay = delay
        self.default = default
        self.sample_rate = sample_rate
        self.capabilities = STTCapabilities(streaming=streaming, interim_results=streaming and interim_words)
        self.interim_words = interim_words
        self.seconds_per_word = seconds_per_word
        self.calls: list[STTCall] = []

    def add(self, *transcripts: str | ProviderError) -> None:
        self._script.extend(transcripts)

    def _next(self) -> str | ProviderError:
        return self._script.pop(0) if self._script else self.default

    async def recognize(self, frames: Sequence[AudioFrame], *, language: str | None = None) -> SpeechEvent:
        duration = sum(f.duration for f in frames)
        self.calls.append(STTCall(audio_duration=duration, language=language))
        if self.delay:
            await asyncio.sleep(self.delay)
        item = self._next()
        if isinstance(item, ProviderError):
            raise item
        return _final(item, language, duration)

    def stream(self, *, language: str | None = None) -> STTStream:
        if not self.capabilities.streaming:
            return super().stream(language=language)
        return _FakeSTTStream(self, self._next(), language)


def _final(text: str, language: str | None, duration: float) -> SpeechEvent:
    return SpeechEvent(
        type=SpeechEventType.FINAL_TRANSCRIPT,
        alternatives=[SpeechAlternative(text=text, language=language, end_time=duration)],
        audio_duration=duration,
    )


class _FakeSTTStream(STTStream):
    def __init__(self, stt: FakeSTT, item: str | ProviderError, language: str | None) -> None:
        self._stt = stt
        self._item = item
        self._language = language
        self._words = item.split() if isinstance(item, str) else []
        self._shown = 0
        self._audio = 0.0
        self._ended = False
        self._events: EventQueue = asyncio.Queue()
        self._timer: asyncio.TimerHandle | None = None

    def push_frame(self, frame: AudioFrame) -> None:
        if self._ended:
            raise RuntimeError("push_frame after end_input")
        first = self._audio == 0.0
        self._audio += frame.duration
        if isinstance(self._item, ProviderError):
            if first:
                self._events.put_nowait(self._item)
            return
        if not self._stt.interim_words:
            return
        n = min(len(self._words), int(self._audio / self._stt.seconds_per_word + 1e-9))
        if n > self._shown:
            self._shown = n
            alt = SpeechAlternative(text=" ".join(self._words[:n]), language=self._language)
            self._events.put_nowait(
                SpeechEvent(
                    SpeechEventType.INTERIM_TRANSCRIPT, alternatives=[alt], audio_duration=self._audio
                )
            )

    def end_input(self) -> None:
        if self._ended:
            return
        self._ended = True
        self._stt.calls.append(STTCall(audio_duration=self._audio, language=self._language, streamed=True))
        if self._stt.delay:
            self._timer = asyncio.get_running_loop().call_later(self._stt.delay, self._finish)
        else:
            self._finish()

    def _finish(self) -> None:
        self._timer = None
        if isinstance(self._item, str):
            self._events.put_nowait(_final(self._item, self._language, self._audio))
        self._events.put_nowait(None)

    def __aiter__(self) -> AsyncIterator[SpeechEvent]:
        return iterate_events(self._events)

    async def aclose(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


# -- LLM ------------------------------------------------------------------------------------------
@dataclass
class FakeToolCall:
    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)
    call_id: str | None = None

    def to_function_call(self) -> FunctionCall:
        args = self.arguments if isinstance(self.arguments, str) else json.dumps(self.arguments)
        if self.call_id:
            return FunctionCall(name=self.name, arguments=args, call_id=self.call_id)
        return FunctionCall(name=self.name, arguments=args)


@dataclass
class FakeLLMResponse:
    """One scripted reply: ``text`` streamed in word chunks, then ``tool_calls``."""

    text: str = ""
    tool_calls: list[FakeToolCall] = field(default_factory=list)
    ttft: float = 0.0  # delay before the first chunk
    chunk_delay: float = 0.0  # delay between chunks
    fail_after_chunks: int | None = None  # raise a non-retryable error after this many chunks


@dataclass
class LLMRequest:
    chat_ctx: ChatContext
    tools: list[str]
    tool_choice: ToolChoice

    @property
    def last_user_message(self) -> str | None:
        msg = self.chat_ctx.last_message("user")
        return msg.content if msg else None


LLMScriptItem = str | FakeLLMResponse | ProviderError | Callable[[LLMRequest], "str | FakeLLMResponse"]


class FakeLLM(LLM):
    """Returns scripted replies in order.

    Items: a string (text reply), a :class:`FakeLLMResponse`, a :class:`ProviderError` (raised), or a
    callable ``(request) -> reply`` to decide from the conversation. ``default`` answers once the script
    is exhausted; without it, an exhausted script is an error (so a test notices an unexpected call).
    """

    retry_policy = FAST_RETRY

    def __init__(
        self,
        responses: Sequence[LLMScriptItem] = (),
        *,
        default: LLMScriptItem | None = None,
        keep_requests: int | None = 1000,
    ) -> None:
        self._script: list[LLMScriptItem] = list(responses)
        self.default = default
        # the newest ``keep_requests`` requests (each holds a copy of the chat context)
        self.requests: collections.deque[LLMRequest] = collections.deque(maxlen=keep_requests)

    def add(self, *responses: LLMScriptItem) -> None:
        self._script.extend(responses)

    def chat(
        self,
        *,
        chat_ctx: ChatContext,
        tools: Sequence[FunctionTool] = (),
        tool_choice: ToolChoice = "auto",
        temperature: float | None = None,
    ) -> LLMStream:
        request = LLMRequest(chat_ctx=chat_ctx.copy(), tools=[t.name for t in tools], tool_choice=tool_choice)
        return GeneratorLLMStream(lambda: self._run(request))

    async def _run(self, request: LLMRequest) -> AsyncIterator[ChatChunk]:
        self.requests.append(request)
        item = self._script.pop(0) if self._script else self.default
        if item is None:
            raise ProviderError(
                f"FakeLLM has no scripted response left (request #{len(self.requests)})",
                provider="FakeLLM",
                retryable=False,
                category=ErrorCategory.BAD_REQUEST,
            )
        if isinstance(item, ProviderError):
            raise item
        if callable(item):
            item = item(request)
        response = FakeLLMResponse(text=item) if isinstance(item, str) else item
        if response.ttft:
            await asyncio.sleep(response.ttft)
        words = _chunks(response.text)
        for i, chunk in enumerate(words):
            if response.fail_after_chunks is not None and i >= response.fail_after_chunks:
                raise ProviderError("scripted failure mid-stream", provider="FakeLLM", retryable=False)
            if i and response.chunk_delay:
                await asyncio.sleep(response.chunk_delay)
            yield ChatChunk(content=chunk)
        calls = [c.to_function_call() for c in response.tool_calls]
        if calls:
            yield ChatChunk(tool_calls=calls)
        tokens = request.chat_ctx.token_estimate
        out_tokens = len(response.text) // 4 + 1
        yield ChatChunk(usage=CompletionUsage(tokens, out_tokens, tokens + out_tokens))


def _chunks(text: str) -> list[str]:
    """Split text in word-sized chunks that join back to the exact text."""
    if not text:
        return []
    parts = text.split(" ")
    return [p + (" " if i < len(parts) - 1 else "") for i, p in enumerate(parts)]


# -- TTS ------------------------------------------------------------------------------------------
class FakeTTS(TTS):
    """A tone whose duration is ``seconds_per_char`` × the text length (at least 0.1 s)."""

    retry_policy = FAST_RETRY

    def __init__(
        self,
        *,
        sample_rate: int = 24000,
        seconds_per_char: float = 0.05,
        ttfb: float = 0.0,
        frame_duration: float = 0.1,
        frequency: float = 220.0,
        fail: Sequence[ProviderError] = (),
    ) -> None:
        self.sample_rate = sample_rate
        self.seconds_per_char = seconds_per_char
        self.ttfb = ttfb
        self.frame_duration = frame_duration
        self.frequency = frequency
        self._fail = list(fail)
        self.requests: list[str] = []
        n = round(frame_duration * sample_rate)
        t = np.arange(n, dtype=np.float32) / sample_rate
        # a whole number of periods per frame, so consecutive frames join without a click
        self._frame = AudioFrame.from_float(0.3 * np.sin(2 * np.pi * frequency * t), sample_rate)

    def duration_for(self, text: str) -> float:
        return max(0.1, len(text) * self.seconds_per_char)

    def synthesize(self, text: str) -> TTSStream:
        return GeneratorTTSStream(lambda: self._run(text))

    async def _run(self, text: str) -> AsyncIterator[AudioFrame]:
        self.requests.append(text)
        if self._fail:
            raise self._fail.pop(0)
        if self.ttfb:
            await asyncio.sleep(self.ttfb)
        total = round(self.duration_for(text) * self.sample_rate)
        step = self._frame.samples_per_channel
        for start in range(0, total, step):
            n = min(step, total - start)
            yield self._frame if n == step else AudioFrame(self._frame.data[:n], self.sample_rate)
