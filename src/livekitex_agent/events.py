"""Typed events and a small emitter.

Event names are strings (``session.on("agent_state_changed", cb)``); each payload is a dataclass
carrying ``created_at`` (wall-clock seconds) so handlers and logs can order them.
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, get_args

if TYPE_CHECKING:
    from .chat import ChatItem, FunctionCall, FunctionCallOutput
    from .metrics import AgentMetrics

logger = logging.getLogger("livekitex_agent.events")

EventName = Literal[
    "agent_state_changed",
    "user_state_changed",
    "user_input_transcribed",
    "conversation_item_added",
    "function_tools_executed",
    "speech_created",
    "metrics_collected",
    "engine_changed",
    "realtime_connection_changed",
    "error",
    "close",
]
EVENT_NAMES: tuple[EventName, ...] = get_args(EventName)


class AgentState(enum.StrEnum):
    """What the agent is doing: initializing, listening, thinking, speaking, or closed."""

    INITIALIZING = "initializing"
    LISTENING = "listening"
    THINKING = "thinking"
    SPEAKING = "speaking"
    CLOSED = "closed"


class UserState(enum.StrEnum):
    """What the user is doing: listening, speaking, or away (silent for ``user_away_timeout``)."""

    LISTENING = "listening"
    SPEAKING = "speaking"
    AWAY = "away"


class CloseReason(enum.StrEnum):
    """Why a session closed (the ``reason`` of the ``close`` event)."""

    USER_REQUESTED = "user_requested"  # aclose() was called
    INPUT_ENDED = "input_ended"  # the audio input finished (end of WAV file, memory input closed)
    PARTICIPANT_DISCONNECTED = "participant_disconnected"
    MAX_DURATION = "max_duration"
    IDLE_TIMEOUT = "idle_timeout"
    ERROR = "error"
    JOB_SHUTDOWN = "job_shutdown"


def _now() -> float:
    return time.time()


@dataclass
class AgentStateChangedEvent:
    """The agent moved between initializing, listening, thinking, speaking and closed."""

    old_state: AgentState  # the state it left
    new_state: AgentState  # the state it is in now
    type: Literal["agent_state_changed"] = "agent_state_changed"
    created_at: float = field(default_factory=_now)


@dataclass
class UserStateChangedEvent:
    """The user started or stopped speaking, or went away (``user_away_timeout``)."""

    old_state: UserState  # the state the user left
    new_state: UserState  # the user's state now
    type: Literal["user_state_changed"] = "user_state_changed"
    created_at: float = field(default_factory=_now)


@dataclass
class UserInputTranscribedEvent:
    """A transcript of what the user said: interim while they speak, then final."""

    transcript: str  # the text heard so far (interim) or of the whole segment (final)
    is_final: bool  # False while the user is still speaking; the final one ends the segment
    language: str | None = None  # the session's language, if it has one
    type: Literal["user_input_transcribed"] = "user_input_transcribed"
    created_at: float = field(default_factory=_now)


@dataclass
class ConversationItemAddedEvent:
    """A message, tool call or tool output was added to the session's history."""

    item: ChatItem  # a ChatMessage, FunctionCall or FunctionCallOutput
    type: Literal["conversation_item_added"] = "conversation_item_added"
    created_at: float = field(default_factory=_now)


@dataclass
class FunctionToolsExecutedEvent:
    """A round of tool calls finished: the calls and their outputs, in the same order."""

    function_calls: list[FunctionCall]  # the calls the model made in this round
    function_call_outputs: list[FunctionCallOutput]  # their results (errors included), same order
    type: Literal["function_tools_executed"] = "function_tools_executed"
    created_at: float = field(default_factory=_now)


@dataclass
class SpeechCreatedEvent:
    """The agent is going to speak: ``say``, a reply, or a reply after tool calls."""

    source: Literal["say", "generate_reply", "tool_response"]  # what asked for the speech
    user_initiated: bool  # True when code called say/generate_reply; False for a reply to a user turn
    speech_handle: Any  # the SpeechHandle: wait for it, interrupt it
    type: Literal["speech_created"] = "speech_created"
    created_at: float = field(default_factory=_now)


@dataclass
class MetricsCollectedEvent:
    """A turn's latencies (:class:`TurnMetrics`) or a provider's usage (:class:`UsageMetrics`)."""

    metrics: AgentMetrics  # TurnMetrics (latencies of a turn) or UsageMetrics (a provider request)
    type: Literal["metrics_collected"] = "metrics_collected"
    created_at: float = field(default_factory=_now)


@dataclass
class EngineChangedEvent:
    """The session moved between the realtime engine and the pipeline (``reason`` says why)."""

    old_engine: Literal["realtime", "pipeline"] | None  # None at start
    new_engine: Literal["realtime", "pipeline"]  # the engine running the conversation from now on
    reason: str  # why: the failure that caused a fallback, or a recovery
    switch_seconds: float | None = None  # realtime -> pipeline: failure noticed -> pipeline ready
    type: Literal["engine_changed"] = "engine_changed"
    created_at: float = field(default_factory=_now)


class RealtimeConnectionState(enum.StrEnum):
    LOST = "lost"  # the connection dropped (or the model stalled): reconnecting begins
    RECONNECTING = "reconnecting"  # one reconnect attempt (``attempt`` counts them)
    RESTORED = "restored"  # reconnected: settings and history replayed, the turn in flight asked again
    FAILED = "failed"  # the model is unusable: the pipeline takes over when there is one


@dataclass
class RealtimeConnectionChangedEvent:
    """The realtime model's connection changed (a recovered drop emits no ``error`` event)."""

    state: RealtimeConnectionState
    reason: str | None = None
    attempt: int = 0  # the reconnect attempt, for ``reconnecting``
    outage_seconds: float | None = None  # ``restored``/``failed``: how long the model was unreachable
    type: Literal["realtime_connection_changed"] = "realtime_connection_changed"
    created_at: float = field(default_factory=_now)


@dataclass
class ErrorEvent:
    """A component failed; ``recoverable=False`` means the session closes because of it."""

    error: BaseException  # usually a ProviderError (with retryable, category, provider)
    source: str  # what failed: "stt", "pipeline" (LLM/TTS reply), "realtime", "speech", an agent node ("llm_node", ...), or a task name
    recoverable: bool  # the session goes on (False: it closes because of this error)
    recovered: bool = False  # nothing was lost: e.g. the pipeline took over from a failed realtime model
    type: Literal["error"] = "error"
    created_at: float = field(default_factory=_now)


@dataclass
class CloseEvent:
    """The session closed (always the last event), with the reason and the error if one caused it."""

    reason: CloseReason  # why the session closed
    error: BaseException | None = None  # the error that closed it (reason "error")
    type: Literal["close"] = "close"
    created_at: float = field(default_factory=_now)


SessionEvent = (
    AgentStateChangedEvent
    | UserStateChangedEvent
    | UserInputTranscribedEvent
    | ConversationItemAddedEvent
    | FunctionToolsExecutedEvent
    | SpeechCreatedEvent
    | MetricsCollectedEvent
    | EngineChangedEvent
    | RealtimeConnectionChangedEvent
    | ErrorEvent
    | CloseEvent
)

T = TypeVar("T", bound=str)
Callback = Callable[..., Any]


class EventEmitter(Generic[T]):
    """Synchronous event emitter; coroutine callbacks are run as tasks the emitter owns.

    A failing callback is logged and never breaks the emitter or the other callbacks.
    """

    def __init__(self) -> None:
        self._handlers: dict[str, list[Callback]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    def on(self, event: T, callback: Callback | None = None) -> Any:
        """Register ``callback`` for ``event``; usable as a decorator when ``callback`` is omitted."""
        if callback is None:

            def decorator(cb: Callback) -> Callback:
                self.on(event, cb)
                return cb

            return decorator
        self._handlers.setdefault(event, []).append(callback)
        return callback

    def once(self, event: T, callback: Callback) -> Callback:
        def wrapper(*args: Any) -> Any:
            self.off(event, wrapper)
            return callback(*args)

        return self.on(event, wrapper)

    def off(self, event: T, callback: Callback) -> None:
        handlers = self._handlers.get(event)
        if handlers and callback in handlers:
            handlers.remove(callback)

    def emit(self, event: T, *args: Any) -> None:
        for callback in list(self._handlers.get(event, ())):
            try:
                result = callback(*args)
            except Exception:
                logger.exception("error in %r handler %r", event, getattr(callback, "__qualname__", callback))
                continue
            if inspect.isawaitable(result):
                task = asyncio.ensure_future(result)
                self._tasks.add(task)
                task.add_done_callback(self._on_task_done)

    def _on_task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("error in async event handler", exc_info=task.exception())

    async def aclose_handlers(self, timeout: float = 1.0) -> None:
        """Wait briefly for running async handlers, then cancel the rest."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
