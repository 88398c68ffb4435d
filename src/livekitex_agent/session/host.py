"""What the session's engines may ask of the session: small protocols, one per concern.

The pipeline listener, a reply generation, the realtime engine, the engine switch and the timers
are each given a host typed with one of these protocols, never ``AgentSession`` itself: so each of
them can be read (and tested, with a small fake) alone, and none imports the session back.
``AgentSession`` satisfies :class:`SessionHost`, the union of them all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, Literal, Protocol

from ..agent import Agent
from ..chat import ChatContext, ChatItem
from ..events import AgentState, CloseReason, EventName, UserState
from ..media.frame import AudioFrame
from ..media.io import SessionIO
from ..metrics import AgentMetrics, UsageMetrics
from ..providers.llm import LLM
from ..providers.stt import STT
from ..providers.tts import TTS
from ..providers.vad import VAD
from .options import SessionOptions
from .speech import SpeechHandle, SpeechSource
from .speech_queue import SpeechRun
from .turn_timing import TurnTiming


class SessionSignals(Protocol):
    """How an engine tells the session's listeners what happened (events, metrics, errors)."""

    def emit(self, event: EventName, *args: Any) -> None:
        """Emit ``event`` with its payload dataclass to the session's listeners."""

    def emit_metrics(self, metrics: AgentMetrics) -> None:
        """Emit ``metrics_collected`` (a turn's metrics get the input lag measured since the last turn)."""

    def emit_usage(self, usage: UsageMetrics) -> None:
        """Add ``usage`` to the session's summary and emit it as metrics."""

    def report_error(
        self, error: BaseException, *, source: str, recoverable: bool, recovered: bool = False
    ) -> None:
        """Log ``error`` once and emit ``error``; an unrecoverable one closes the session."""


class SessionStates(Protocol):
    """The agent's and the user's state (each change is an event and re-arms the timers)."""

    @property
    def agent_state(self) -> AgentState: ...

    @property
    def user_state(self) -> UserState: ...

    def set_agent_state(self, state: AgentState) -> None: ...

    def set_user_state(self, state: UserState) -> None: ...


class SessionHistory(Protocol):
    """The one history both engines share."""

    history: ChatContext

    def add_history_item(self, item: ChatItem, *, after: str | None = None) -> None:
        """Add ``item`` (after the item ``after``, else at the end) and announce it."""

    def announce_item(self, item: ChatItem) -> None:
        """Emit ``conversation_item_added`` for an item already in the history."""


class SessionClosing(Protocol):
    """The session's end."""

    @property
    def closed(self) -> bool: ...

    @property
    def closing(self) -> bool:
        """The session is closing (or closed): start nothing new."""

    def request_close(self, reason: CloseReason, error: BaseException | None = None) -> None:
        """Close the session soon (from a callback that cannot await ``aclose``)."""


class SessionTasks(Protocol):
    """Tasks the session owns."""

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run ``coro`` as a task the session owns (cancelled on close; a failure is reported)."""


class TimerHost(SessionStates, SessionClosing, Protocol):
    """What the session's timers use: the states they watch, and the way to end the session."""


class SessionProviders(Protocol):
    """The providers in use: the agent's own, else the session's."""

    def llm_for(self, agent: Agent) -> LLM | None: ...

    def tts_for(self, agent: Agent) -> TTS | None: ...

    def stt_for(self, agent: Agent) -> STT | None: ...

    def vad_for(self, agent: Agent) -> VAD | None: ...

    @property
    def can_run_pipeline(self) -> bool:
        """Whether the STT → LLM → TTS pipeline has what it needs for the session's I/O."""


class PlayingReply(Protocol):
    """A reply whose audio goes to the session's output (told when playback starts)."""

    def on_playback_started(self, t: float) -> None: ...


class SessionSpeech(Protocol):
    """The speech queue: what the agent says, one speech at a time."""

    @property
    def current_speech(self) -> SpeechHandle | None: ...

    def interrupt(self, *, force: bool = False) -> None: ...

    def new_speech(
        self, source: SpeechSource, allow_interruptions: bool | None, *, user_initiated: bool
    ) -> SpeechHandle:
        """A speech handle (``speech_created`` is emitted); ``enqueue`` it with what runs it."""

    def enqueue(self, speech: SpeechHandle, run: SpeechRun) -> None: ...

    def reply_to_user(
        self, turn: TurnTiming | None = None, providers: tuple[LLM, TTS | None] | None = None
    ) -> SpeechHandle:
        """Queue the answer to the user's latest message with the engine that is up (``providers``
        replace the agent's LLM and TTS for this reply: a preemptive reply's)."""

    def set_playing(self, reply: PlayingReply) -> None:
        """``reply`` is the one playing now (it is told when its audio starts)."""


class SessionContext(Protocol):
    """What the conversation is: its options, language, I/O, current agent and engine."""

    options: SessionOptions
    language: str | None

    @property
    def io(self) -> SessionIO | None: ...

    @property
    def current_agent(self) -> Agent: ...

    @property
    def engine(self) -> Literal["realtime", "pipeline"]: ...

    async def update_agent(self, agent: Agent) -> None:
        """Hand the conversation to ``agent`` (a tool returned it)."""


class HeardAudio(Protocol):
    """The pipeline's listener, as the engine switch sees it."""

    @property
    def busy(self) -> bool: ...

    def push_audio(self, frame: AudioFrame) -> None: ...


class SessionHost(
    SessionSignals,
    SessionStates,
    SessionHistory,
    SessionClosing,
    SessionTasks,
    SessionProviders,
    SessionSpeech,
    SessionContext,
    Protocol,
):
    """Everything the session's engines may ask of it (``AgentSession`` implements it)."""

    @property
    def listener(self) -> HeardAudio | None:
        """The pipeline's listener, when the session hears audio through the pipeline."""

    def ensure_recognition(self) -> None:
        """Set up the pipeline's listener if the session has audio input and none yet."""
