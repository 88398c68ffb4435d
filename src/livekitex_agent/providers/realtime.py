"""Speech-to-speech ("realtime") models: the provider-neutral interface the realtime engine uses.

A :class:`RealtimeModel` holds the options; each :meth:`RealtimeModel.session` is one live
conversation (one websocket for OpenAI). The session takes the user's audio in, and gives back
typed events from :meth:`RealtimeSession.events` — to be read by one task — among them a
:class:`GenerationCreated` per model response, whose :class:`RealtimeGeneration` streams the
reply's text and audio and its function calls.

How to consume::

    rt = openai.RealtimeModel(voice="marin").session()
    await rt.connect()                              # ProviderError if it cannot connect
    await rt.update_instructions(agent.instructions)
    await rt.update_tools(agent.tools)
    await rt.update_chat_ctx(chat_ctx)              # our history is the source of truth

    # elsewhere, per input frame (any sample rate; cheap and synchronous):
    rt.push_audio(frame)

    async for ev in rt.events():                    # ends when the session is closed or failed
        match ev:
            case InputSpeechStarted():
                ...                                 # user barge-in: stop playout, then
                await rt.truncate(item_id, played_ms)  # clamped to the audio received
            case InputAudioCommitted(item_id=item_id):
                chat_ctx.append(ChatMessage(role="user", content="", id=item_id))
            case InputTranscriptionCompleted(item_id=item_id, transcript=text):
                ...                                 # fill in that user message
            case GenerationCreated(generation=gen):
                spawn(play(gen))                    # see below
            case ConnectionStateChanged(new=ConnectionState.FAILED):
                ...                                 # fall back to the pipeline engine

    async def play(gen: RealtimeGeneration) -> None:
        async for msg in gen.messages:              # one per assistant message item
            async for frame in msg.audio_stream:    # 24 kHz mono frames (text via msg.text_stream)
                await audio_output.capture_frame(frame)
        calls = [call async for call in gen.function_calls]
        result = await gen.done                     # status, usage
        if calls:
            await rt.send_tool_outputs(outputs)     # function_call_output items + a new response

Items the server creates (user audio messages, assistant messages, function calls) should be added
to your :class:`ChatContext` under the server's item ids, because :meth:`RealtimeSession.update_chat_ctx`
deletes server items that the context lacks and creates the ones the server lacks.
"""

from __future__ import annotations

import asyncio
import collections
import enum
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from ..chat import ChatContext, FunctionCall, FunctionCallOutput
from ..errors import ConfigError, ProviderError
from ..media.frame import AudioFrame
from ..metrics import UsageMetrics
from ..tools.function_tool import FunctionTool
from ..validation import check_int
from .base import Provider

T = TypeVar("T")

Modality = Literal["text", "audio"]
GenerationStatus = Literal["completed", "cancelled", "failed", "incomplete"]


def audio_end_ms(played_ms: float, received_bytes: int) -> int:
    """Where to truncate an interrupted reply: ``min(ms played, ms received)`` for 24 kHz PCM16.

    24 kHz 16-bit mono is 48 bytes a millisecond; the result never exceeds the audio the server sent,
    which would be an error.
    """
    return max(0, min(int(played_ms), received_bytes // 48))


class ConnectionState(enum.StrEnum):
    """The connection of a realtime session: connecting, connected, reconnecting, failed or closed."""

    IDLE = "idle"  # created, connect() not called yet
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    FAILED = "failed"  # fatal error or retries exhausted: the session is unusable
    CLOSED = "closed"  # aclose() was called


@dataclass(frozen=True)
class TurnDetection:
    """Server-side turn detection. ``RealtimeOptions.turn_detection=None`` means manual turns."""

    type: Literal["server_vad", "semantic_vad"] = "server_vad"
    threshold: float | None = None  # server_vad: 0..1
    prefix_padding_ms: int | None = None  # server_vad
    silence_duration_ms: int | None = None  # server_vad
    eagerness: Literal["low", "medium", "high", "auto"] | None = None  # semantic_vad
    create_response: bool = True  # reply automatically at the end of the user's turn
    interrupt_response: bool = True  # user speech cancels the reply in progress
    idle_timeout_ms: int | None = None  # server_vad

    def __post_init__(self) -> None:
        if self.type not in ("server_vad", "semantic_vad"):
            raise ConfigError(f"turn_detection.type must be 'server_vad' or 'semantic_vad', got {self.type!r}")
        if self.threshold is not None and not 0.0 <= self.threshold <= 1.0:
            raise ConfigError(f"turn_detection.threshold must be within 0..1, got {self.threshold!r}")
        for name in ("prefix_padding_ms", "silence_duration_ms", "idle_timeout_ms"):
            check_int(f"turn_detection.{name}", getattr(self, name), allow_none=True)
        if self.eagerness not in (None, "low", "medium", "high", "auto"):
            raise ConfigError(f"turn_detection.eagerness must be low/medium/high/auto, got {self.eagerness!r}")


@dataclass(frozen=True)
class RealtimeOptions:
    """What a realtime session is configured with (each plugin documents its defaults)."""

    model: str
    voice: str | None = None
    temperature: float | None = None
    turn_detection: TurnDetection | None = field(default_factory=TurnDetection)
    input_transcription_model: str | None = None  # None: no transcripts of the user's audio
    modalities: tuple[Modality, ...] = ("audio",)
    max_output_tokens: int | None = None

    def __post_init__(self) -> None:
        if not self.model:
            raise ConfigError("realtime model name must not be empty")
        if not self.modalities or any(m not in ("text", "audio") for m in self.modalities):
            raise ConfigError(f"modalities must be a non-empty subset of ('text', 'audio'), got {self.modalities!r}")
        if self.temperature is not None and not 0.0 <= self.temperature <= 2.0:
            raise ConfigError(f"temperature must be within 0..2, got {self.temperature!r}")
        check_int("max_output_tokens", self.max_output_tokens, minimum=1, allow_none=True)


class AsyncChannel(Generic[T]):
    """An unbounded single-consumer stream: the producer sends without waiting, the consumer iterates.

    Iteration ends once the channel is closed and drained.
    """

    __slots__ = ("_items", "_closed", "_waiter")

    def __init__(self) -> None:
        self._items: collections.deque[T] = collections.deque()
        self._closed = False
        self._waiter: asyncio.Future[None] | None = None

    @property
    def closed(self) -> bool:
        return self._closed

    def send_nowait(self, item: T) -> None:
        if self._closed:
            raise RuntimeError("send on a closed channel")
        self._items.append(item)
        self._wake()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def __aiter__(self) -> AsyncIterator[T]:
        return self

    async def __anext__(self) -> T:
        while not self._items:
            if self._closed:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.popleft()


class MessageGeneration:
    """One assistant message of a reply: its text (or audio transcript) deltas and its audio frames."""

    def __init__(self, item_id: str, modalities: Sequence[Modality] = ("audio",)) -> None:
        self.item_id = item_id
        self.modalities = tuple(modalities)
        self.text_stream: AsyncChannel[str] = AsyncChannel()
        self.audio_stream: AsyncChannel[AudioFrame] = AsyncChannel()
        self.text = ""  # all text received so far
        self.audio_bytes = 0  # bytes of audio received so far (for truncation)

    def close(self) -> None:
        self.text_stream.close()
        self.audio_stream.close()

    def __repr__(self) -> str:
        return f"MessageGeneration(item_id={self.item_id!r}, text={self.text!r}, audio_bytes={self.audio_bytes})"


CONNECTION_LOST = "connection_lost"  # GenerationResult.reason of a response cut by a dropped connection


@dataclass
class GenerationResult:
    """How a reply ended. ``reason``/``error_code`` come from the status details, when given
    (``reason`` is :data:`CONNECTION_LOST` when the connection dropped mid-response)."""

    status: GenerationStatus
    reason: str | None = None
    error_code: str | None = None
    status_details: dict[str, Any] | None = None
    usage: UsageMetrics | None = None
    output_item_ids: list[str] = field(default_factory=list)


class RealtimeGeneration:
    """One model response. Iterate :attr:`messages` and :attr:`function_calls`; await :attr:`done`.

    Both streams are unbounded and close when the response ends, so they can be read one after the
    other. ``user_initiated`` is true for replies asked for with :meth:`RealtimeSession.generate_reply`
    (or :meth:`RealtimeSession.send_tool_outputs`), false for those the server started on its own.
    """

    def __init__(self, response_id: str, *, user_initiated: bool = False) -> None:
        self.response_id = response_id
        self.user_initiated = user_initiated
        self.messages: AsyncChannel[MessageGeneration] = AsyncChannel()
        self.function_calls: AsyncChannel[FunctionCall] = AsyncChannel()
        self._loop = asyncio.get_running_loop()
        self.done: asyncio.Future[GenerationResult] = self._loop.create_future()
        self.created_at = self._loop.time()
        self.first_output_at: float | None = None  # loop time of the first output (audio, text, call)
        self.last_activity = self.created_at  # loop time the server last sent something for it

    def touch(self) -> None:
        """The server sent output for this response (providers call it; stall detection reads it)."""
        now = self._loop.time()
        if self.first_output_at is None:
            self.first_output_at = now
        self.last_activity = now

    def finish(self, result: GenerationResult) -> None:
        """Close the streams and resolve :attr:`done` (for providers; idempotent)."""
        self.messages.close()
        self.function_calls.close()
        if not self.done.done():
            self.done.set_result(result)

    def __repr__(self) -> str:
        return f"RealtimeGeneration(response_id={self.response_id!r}, user_initiated={self.user_initiated})"


# -- events -------------------------------------------------------------------------------------
@dataclass
class InputSpeechStarted:
    """The server heard the user start speaking (with ``interrupt_response`` it cancels the reply)."""

    audio_start_ms: int
    item_id: str | None = None
    type: Literal["input_speech_started"] = "input_speech_started"


@dataclass
class InputSpeechStopped:
    """The server heard the user stop speaking."""

    audio_end_ms: int
    item_id: str | None = None
    type: Literal["input_speech_stopped"] = "input_speech_stopped"


@dataclass
class InputAudioCommitted:
    """The user's audio became conversation item ``item_id``."""

    item_id: str
    previous_item_id: str | None = None
    type: Literal["input_audio_committed"] = "input_audio_committed"


@dataclass
class InputTranscriptionDelta:
    """Part of the transcript of the user's audio item ``item_id``."""

    item_id: str
    delta: str
    type: Literal["input_transcription_delta"] = "input_transcription_delta"


@dataclass
class InputTranscriptionCompleted:
    """The whole transcript of the user's audio item ``item_id``."""

    item_id: str
    transcript: str
    type: Literal["input_transcription_completed"] = "input_transcription_completed"


@dataclass
class InputTranscriptionFailed:
    """The user's audio item ``item_id`` could not be transcribed."""

    item_id: str
    message: str
    code: str | None = None
    type: Literal["input_transcription_failed"] = "input_transcription_failed"


@dataclass
class GenerationCreated:
    """The model started a reply: its text and audio arrive through ``generation``."""

    generation: RealtimeGeneration
    type: Literal["generation_created"] = "generation_created"


@dataclass
class RealtimeErrorEvent:
    """An error the server reported, or a connection failure. ``fatal`` errors end the session."""

    error: ProviderError
    fatal: bool
    type: Literal["error"] = "error"


@dataclass
class ConnectionStateChanged:
    """``RECONNECTING -> CONNECTED`` is a reconnect (history and settings were replayed)."""

    old: ConnectionState
    new: ConnectionState
    attempt: int = 0  # reconnect attempt number while RECONNECTING
    reason: str | None = None
    error: ProviderError | None = None
    type: Literal["connection_state_changed"] = "connection_state_changed"

    @property
    def reconnected(self) -> bool:
        return self.old is ConnectionState.RECONNECTING and self.new is ConnectionState.CONNECTED


@dataclass
class RateLimit:
    """One of the server's rate limits and what is left of it."""

    name: str
    limit: int | None = None
    remaining: int | None = None
    reset_seconds: float | None = None


@dataclass
class RateLimitsUpdated:
    """The server's rate limits after a reply."""

    limits: list[RateLimit]
    type: Literal["rate_limits_updated"] = "rate_limits_updated"


@dataclass
class UsageCollected:
    """Token usage of one reply, for :class:`UsageMetrics`."""

    usage: UsageMetrics
    response_id: str | None = None
    type: Literal["usage_collected"] = "usage_collected"


RealtimeEvent = (
    InputSpeechStarted
    | InputSpeechStopped
    | InputAudioCommitted
    | InputTranscriptionDelta
    | InputTranscriptionCompleted
    | InputTranscriptionFailed
    | GenerationCreated
    | RealtimeErrorEvent
    | ConnectionStateChanged
    | RateLimitsUpdated
    | UsageCollected
)


# -- provider interface --------------------------------------------------------------------------
class RealtimeSession(ABC):
    """One live speech-to-speech conversation. Every method may be called from any task.

    While the session is not connected (before :meth:`connect`, while reconnecting, after a failure):
    ``update_*`` calls are remembered and applied on the next connection; audio, commit, clear,
    interrupt and truncate do nothing; :meth:`generate_reply` and :meth:`send_tool_outputs` raise
    :class:`ProviderError` (retryable unless the session failed or was closed).
    """

    @property
    @abstractmethod
    def state(self) -> ConnectionState: ...

    @abstractmethod
    def events(self) -> AsyncIterator[RealtimeEvent]:
        """The session's events in order; iteration ends after the session closed or failed."""

    @abstractmethod
    async def connect(self) -> None:
        """Open the connection (retrying retryable failures); raises :class:`ProviderError`. Call once."""

    @abstractmethod
    async def update_instructions(self, instructions: str) -> None: ...

    @abstractmethod
    async def update_tools(self, tools: Sequence[FunctionTool]) -> None: ...

    @abstractmethod
    async def update_chat_ctx(self, chat_ctx: ChatContext) -> None:
        """Make the server's history match ``chat_ctx`` (the context is kept and replayed on reconnect)."""

    @abstractmethod
    def push_audio(self, frame: AudioFrame) -> None:
        """Send user audio (any sample rate; mono is mixed down)."""

    @abstractmethod
    async def commit_audio(self) -> None:
        """End the user's turn by hand (manual turn detection)."""

    @abstractmethod
    async def clear_audio(self) -> None:
        """Drop the audio not committed yet."""

    @abstractmethod
    async def generate_reply(self, instructions: str | None = None) -> RealtimeGeneration:
        """Ask for a response (``instructions`` apply to this one only); returns once it was created."""

    @abstractmethod
    async def probe(self, timeout: float) -> bool:
        """Whether the server still talks to us: a request with no effect, answered within ``timeout``
        seconds (False when not connected). For a model gone quiet when it should have spoken."""

    @abstractmethod
    async def reconnect(self, reason: str) -> None:
        """Drop the connection and open a new one, as after a network drop (settings and history are
        replayed; what was in flight fails with :data:`CONNECTION_LOST`). For a model that stopped
        answering. Raises :class:`ProviderError` when the session failed or was closed."""

    @abstractmethod
    async def interrupt(self) -> None:
        """Cancel the response in progress, if any."""

    @abstractmethod
    async def truncate(self, item_id: str, audio_end_ms: int) -> None:
        """Cut assistant message ``item_id`` at ``audio_end_ms`` (clamped to the audio received)."""

    @abstractmethod
    async def send_tool_outputs(
        self, outputs: Sequence[FunctionCallOutput], *, reply: bool = True
    ) -> RealtimeGeneration | None:
        """Send tool results; with ``reply`` also ask for the response that uses them."""

    @abstractmethod
    async def aclose(self) -> None: ...


class RealtimeModel(Provider, ABC):
    """A speech-to-speech model; ``options`` says how its sessions are configured."""

    options: RealtimeOptions

    @abstractmethod
    def session(self) -> RealtimeSession:
        """A new, not yet connected, session."""
