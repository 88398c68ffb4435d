"""``SessionCore``: the session as its engines see it — the :class:`~.host.SessionHost` that
``AgentSession`` builds its public API on.

It holds the conversation's state (options, history, the current agent and I/O, the agent's and the
user's states, the speech queue) and answers what the engines ask of it: the providers in use, the
pipeline's listener, adding to the history, queueing a speech, changing a state. ``AgentSession``
adds what users call (``start``, ``say``, ``generate_reply``, ``update_agent``, ``run``, ``aclose``).
"""

from __future__ import annotations

import asyncio
from typing import Literal

from ..agent import Agent
from ..chat import ChatContext, ChatItem
from ..events import (
    AgentState,
    AgentStateChangedEvent,
    SpeechCreatedEvent,
    UserState,
    UserStateChangedEvent,
)
from ..media.io import SessionIO
from ..providers.llm import LLM
from ..providers.stt import STT
from ..providers.tts import TTS
from ..providers.vad import VAD
from .emitter import SessionEmitter
from .engines import SessionEngines
from .host import PlayingReply
from .listening import PipelineListener
from .options import SessionOptions
from .speech import SpeechHandle, SpeechSource
from .speech_queue import SpeechQueue, SpeechRun
from .state import agent_state_machine, user_state_machine
from .timers import SessionTimers
from .turn_timing import TurnTiming


class SessionCore(SessionEmitter):
    """The state of one conversation, and what its engines may ask of it (see :class:`~.host.SessionHost`)."""

    _engines: SessionEngines  # set by AgentSession, which knows the realtime settings

    def __init__(
        self,
        options: SessionOptions,
        *,
        vad: VAD | None,
        stt: STT | None,
        llm: LLM | None,
        tts: TTS | None,
        language: str | None,
    ) -> None:
        super().__init__()
        self.options = options
        self.vad, self.stt, self.llm, self.tts = vad, stt, llm, tts
        self.language = language
        self.history = ChatContext(max_items=options.max_history_items, max_tokens=options.max_history_tokens)
        self._agent_sm = agent_state_machine(self._on_agent_state)
        self._user_sm = user_state_machine(self._on_user_state)
        self._agent: Agent | None = None
        self._io: SessionIO | None = None
        self._speeches = SpeechQueue(
            on_start=self._on_speech_start,
            on_end=self._on_speech_end,
            on_error=lambda e: self.report_error(e, source="speech", recoverable=True),
        )
        self._current_generation: PlayingReply | None = None  # a ReplyGeneration or a realtime reply
        self._timers: SessionTimers | None = None
        self._started = False
        self._closing: asyncio.Task[None] | None = None
        self._closed = asyncio.Event()

    # -- public state -----------------------------------------------------------------------------
    @property
    def agent_state(self) -> AgentState:
        return self._agent_sm.state

    @property
    def user_state(self) -> UserState:
        return self._user_sm.state

    @property
    def current_agent(self) -> Agent:
        if self._agent is None:
            raise RuntimeError("the session has not been started")
        return self._agent

    @property
    def current_speech(self) -> SpeechHandle | None:
        return self._speeches.current

    @property
    def io(self) -> SessionIO | None:
        return self._io

    @property
    def engine(self) -> Literal["realtime", "pipeline"]:
        """The engine running the conversation now (``engine_changed`` tells when it changes)."""
        return self._engines.active

    @property
    def can_run_pipeline(self) -> bool:
        """Whether the STT → LLM → TTS pipeline has what it needs for this session's I/O."""
        agent = self._agent
        if agent is None or self.llm_for(agent) is None:
            return False
        io = self._io
        if (
            io is not None
            and io.audio_input is not None
            and None in (self.vad_for(agent), self.stt_for(agent))
        ):
            return False
        return not (io is not None and io.audio_output is not None and self.tts_for(agent) is None)

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    # -- speech queue -----------------------------------------------------------------------------
    async def wait_for_idle(self) -> None:
        """Wait until no speech is playing or queued."""
        await self._speeches.wait_for_idle()

    def reply_to_user(
        self, turn: TurnTiming | None = None, providers: tuple[LLM, TTS | None] | None = None
    ) -> SpeechHandle:
        """Answer the user's latest message (a finished spoken turn, or one left unanswered);
        ``providers`` replace the agent's LLM and TTS for this reply (a preemptive reply's)."""
        speech = self.new_speech("generate_reply", None, user_initiated=False)
        self.enqueue(speech, lambda: self._engines.reply(speech, turn=turn, providers=providers))
        return speech

    def interrupt(self, *, force: bool = False) -> None:
        """Stop the current speech (and drop queued ones) if they allow interruptions, or ``force``."""
        self._speeches.interrupt(force=force)

    def new_speech(self, source: SpeechSource, allow: bool | None, *, user_initiated: bool) -> SpeechHandle:
        if self._closing is not None or not self._started:
            raise RuntimeError("the session is not running")
        if allow is None:
            agent_allow = self._agent.allow_interruptions if self._agent else None
            allow = self.options.allow_interruptions if agent_allow is None else agent_allow
        speech = SpeechHandle(source=source, allow_interruptions=allow, user_initiated=user_initiated)
        self.emit(
            "speech_created",
            SpeechCreatedEvent(source=source, user_initiated=user_initiated, speech_handle=speech),
        )
        return speech

    def enqueue(self, speech: SpeechHandle, run: SpeechRun) -> None:
        self._speeches.push(speech, run)

    def _on_speech_start(self, speech: SpeechHandle) -> None:
        if speech.source != "say":
            self.set_agent_state(AgentState.THINKING)

    def _on_speech_end(self, speech: SpeechHandle, queue_empty: bool) -> None:
        self._current_generation = None
        if self._engines.listener is not None:
            self._engines.listener.speech_ended()
        if queue_empty:
            self.set_agent_state(AgentState.LISTENING)

    def _on_playback_started(self, t: float) -> None:
        reply = self._current_generation
        if reply is not None:
            reply.on_playback_started(t)

    # -- what the engines ask of the session (SessionHost) -----------------------------------------
    @property
    def closing(self) -> bool:
        return self._closing is not None

    @property
    def listener(self) -> PipelineListener | None:
        return self._engines.listener

    def ensure_recognition(self) -> None:
        self._engines.ensure_recognition()

    def llm_for(self, agent: Agent) -> LLM | None:
        return agent.llm or self.llm

    def tts_for(self, agent: Agent) -> TTS | None:
        return agent.tts or self.tts

    def stt_for(self, agent: Agent) -> STT | None:
        return agent.stt or self.stt

    def vad_for(self, agent: Agent) -> VAD | None:
        return agent.vad or self.vad

    def set_playing(self, reply: PlayingReply) -> None:
        self._current_generation = reply

    def add_history_item(self, item: ChatItem, *, after: str | None = None) -> None:
        if after is None:
            self.history.append(item)
        else:
            self.history.insert_after(after, item)
        self.announce_item(item)

    def set_agent_state(self, state: AgentState) -> None:
        if self._agent_sm.state is AgentState.CLOSED:
            return
        self._agent_sm.move(state)

    def set_user_state(self, state: UserState) -> None:
        self._user_sm.move(state)

    def _on_agent_state(self, old: AgentState, new: AgentState) -> None:
        self.emit("agent_state_changed", AgentStateChangedEvent(old_state=old, new_state=new))
        if self._timers is not None:
            self._timers.on_activity()

    def _on_user_state(self, old: UserState, new: UserState) -> None:
        self.emit("user_state_changed", UserStateChangedEvent(old_state=old, new_state=new))
        if self._timers is not None and new is not UserState.AWAY:
            self._timers.on_activity()
