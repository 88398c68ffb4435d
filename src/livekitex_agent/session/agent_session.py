"""``AgentSession``: one conversation — its lifecycle, states, events, speech queue and limits."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Coroutine, Sequence
from dataclasses import replace
from typing import Any, Literal

from ..agent import Agent
from ..chat import ChatContext, ChatItem, ChatMessage
from ..errors import AudioInputError, ConfigError, ProviderError
from ..events import (
    AgentState,
    AgentStateChangedEvent,
    CloseEvent,
    CloseReason,
    ConversationItemAddedEvent,
    EngineChangedEvent,
    ErrorEvent,
    EventEmitter,
    EventName,
    MetricsCollectedEvent,
    SpeechCreatedEvent,
    UserState,
    UserStateChangedEvent,
)
from ..hooks import notify_session_started
from ..media.filter import AudioFilter, AudioFilterChain
from ..media.frame import AudioFrame
from ..media.io import SessionIO
from ..metrics import AgentMetrics, TurnMetrics, UsageMetrics, UsageSummary
from ..providers.llm import LLM
from ..providers.realtime import RealtimeModel
from ..providers.stt import STT
from ..providers.tts import TTS
from ..providers.vad import VAD
from ..validation import check_instance
from .audio_pump import InputLagMeter, pump_audio
from .fallback import EngineSwitch
from .generation import ReplyGeneration
from .host import PlayingReply
from .listening import PipelineListener
from .mcp_lease import MCPLease
from .nodes import SessionNodeContext
from .options import SessionOptions, check_session_arguments
from .provider_lease import ProviderLease
from .realtime_stall import RealtimeStallTimeouts
from .recording import RecordingOptions, SessionRecorder, SessionReport
from .room_io import make_room_io, native_rates
from .run_result import RunResult
from .speech import SpeechHandle, SpeechSource
from .speech_queue import SpeechQueue, SpeechRun
from .state import agent_state_machine, user_state_machine
from .timers import SessionTimers
from .tracing import SessionTracer, TracingOptions
from .turn_timing import TurnTiming

logger = logging.getLogger("livekitex_agent.session")


class AgentSession(EventEmitter[EventName]):
    """Runs a voice conversation between a user and an :class:`Agent`.

    Give it the providers (``vad``, ``stt``, ``llm``, ``tts``), ``audio_filters`` for the user's
    audio (run before the VAD; the session closes them) and turn-taking options, then
    ``await session.start(agent, room=...)`` or ``io=...``. Listen with ``session.on(event, cb)``.
    """

    def __init__(
        self,
        *,
        vad: VAD | None = None,
        stt: STT | None = None,
        llm: LLM | None = None,
        tts: TTS | None = None,
        realtime: RealtimeModel | None = None,
        fallback_recovery: bool = False,
        realtime_connect_timeout: float = 5.0,
        realtime_reconnect_grace: float | None = 3.0,
        realtime_recovery_interval: tuple[float, float] = (1.0, 30.0),
        realtime_stall_timeouts: RealtimeStallTimeouts | None = None,
        userdata: Any = None,
        language: str | None = None,
        close_on_input_end: bool = True,
        record: RecordingOptions | None = None,
        tracing: TracingOptions | None = None,
        audio_filters: Sequence[AudioFilter] = (),
        options: SessionOptions | None = None,
        **option_overrides: Any,
    ) -> None:
        """- ``vad``, ``stt``, ``llm``, ``tts``: the pipeline's providers (VAD and STT hear the user,
          the LLM answers, the TTS speaks); also the fallback when ``realtime`` fails.
        - ``realtime``: a speech-to-speech model the session starts on; on failure it moves to the pipeline.
        - ``fallback_recovery``: after a fallback, probe the realtime model and move back between turns.
        - ``realtime_connect_timeout``: seconds the realtime model may take to connect at start.
        - ``realtime_reconnect_grace``: seconds a dropped realtime connection may take to come back
          before the session falls back (None: only the model's own retries decide).
        - ``realtime_recovery_interval``: (first, longest) seconds between recovery probes, doubling.
        - ``realtime_stall_timeouts``: how long the realtime model may stay silent before it counts as
          stalled and is reconnected (None: the defaults of :class:`RealtimeStallTimeouts`).
        - ``userdata``: any object, shared by the tools of this conversation (``ctx.userdata``).
        - ``language``: the user's language, passed to the STT and on transcripts (None: the STT's own).
        - ``close_on_input_end``: close the session when its audio input ends (end of file, memory input closed).
        - ``record``: a :class:`RecordingOptions` to record the call (stereo WAV, transcript, events); off when None.
        - ``tracing``: a :class:`TracingOptions` to write an OpenTelemetry span per turn; off when None.
        - ``audio_filters``: :class:`~livekitex_agent.media.AudioFilter` s run in order on the user's audio
          before the VAD (and a realtime model), e.g. ``plugins.local.RNNoiseFilter()``; the session closes them.
        - ``options``: a :class:`SessionOptions`; keyword arguments named like its fields override it.
        """
        super().__init__()
        base = options or SessionOptions()
        unknown = set(option_overrides) - set(SessionOptions.__dataclass_fields__)
        if unknown:
            raise ConfigError(f"unknown AgentSession option(s): {', '.join(sorted(unknown))}")
        self.options = replace(base, **option_overrides) if option_overrides else base
        check_session_arguments(
            providers={
                "vad": (vad, VAD), "stt": (stt, STT), "llm": (llm, LLM), "tts": (tts, TTS),
                "realtime": (realtime, RealtimeModel),
            },
            realtime_connect_timeout=realtime_connect_timeout,
            realtime_reconnect_grace=realtime_reconnect_grace,
            realtime_recovery_interval=realtime_recovery_interval,
            flags={"fallback_recovery": fallback_recovery, "close_on_input_end": close_on_input_end},
        )
        check_instance("realtime_stall_timeouts", realtime_stall_timeouts, RealtimeStallTimeouts)
        self.vad, self.stt, self.llm, self.tts = vad, stt, llm, tts
        self._recorder = SessionRecorder.create(record)  # None unless recording was asked for
        self._tracer = SessionTracer.attach(self, tracing)  # spans per turn, from the events
        self.realtime = realtime
        self._fallback_recovery = fallback_recovery
        self._realtime_connect_timeout = realtime_connect_timeout
        self._realtime_reconnect_grace = realtime_reconnect_grace
        self._realtime_recovery_interval = realtime_recovery_interval
        self._realtime_stall_timeouts = realtime_stall_timeouts
        self._switch: EngineSwitch | None = None
        self.userdata = userdata
        self.language = language
        self.close_on_input_end = close_on_input_end
        self.usage = UsageSummary()
        self.history = ChatContext(
            max_items=self.options.max_history_items, max_tokens=self.options.max_history_tokens
        )
        self._agent_sm = agent_state_machine(self._on_agent_state)
        self._user_sm = user_state_machine(self._on_user_state)
        self._agent: Agent | None = None
        self._io: SessionIO | None = None
        self._listener: PipelineListener | None = None
        self._speeches = SpeechQueue(
            on_start=self._on_speech_start,
            on_end=self._on_speech_end,
            on_error=lambda e: self.report_error(e, source="speech", recoverable=True),
        )
        self._current_generation: PlayingReply | None = None  # a ReplyGeneration or a realtime reply
        self._tasks: set[asyncio.Task[Any]] = set()
        self._collectors: list[list[Any]] = []
        self._timers: SessionTimers | None = None
        self._started = False
        self._closing: asyncio.Task[None] | None = None
        self._closed = asyncio.Event()
        self._input_meter: InputLagMeter | None = None
        self._providers = ProviderLease()  # closed with the session unless another one uses them
        self._mcp = MCPLease(lambda e: self.report_error(e, source="mcp", recoverable=True))
        self._audio_filters = AudioFilterChain(audio_filters)  # run on the input before the VAD; ours to close

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
        return self._switch.active if self._switch is not None else "pipeline"

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

    # -- lifecycle --------------------------------------------------------------------------------
    async def start(
        self, agent: Agent, *, room: Any = None, io: SessionIO | None = None, **room_options: Any
    ) -> None:
        """Start the conversation with ``agent`` on a LiveKit ``room`` or any session ``io``."""
        if self._started:
            raise RuntimeError("AgentSession.start() was already called")
        if room is not None and io is not None:
            raise ValueError("give either room= or io=, not both")
        self._started = True
        if room is not None and io is None:
            rates = native_rates(self.vad_for(agent), self.tts_for(agent), realtime=self.realtime is not None)
            io = make_room_io(room, **{**rates, **room_options})
        self._io = io if io is not None else SessionIO()
        if self._recorder is not None:
            self._io = self._recorder.attach(self, self._io)
        self._agent = agent
        agent._attach(self, SessionNodeContext(self, agent))
        self._providers.hold(self.vad, self.stt, self.llm, self.tts, agent.vad, agent.stt, agent.llm, agent.tts)
        await self._mcp.open(agent.mcp_servers, agent.tool_registry)
        self.history.set_instructions(agent.instructions)
        self._timers = SessionTimers(self, self.options)
        self.spawn(self._speeches.run(), "speech-scheduler")
        if self._io.audio_output is not None:
            self._io.audio_output.on_playback_started(self._on_playback_started)
        if self.realtime is not None:
            self._switch = EngineSwitch(
                self,
                self.realtime,
                recovery=self._fallback_recovery,
                connect_timeout=self._realtime_connect_timeout,
                reconnect_grace=self._realtime_reconnect_grace,
                recovery_interval=self._realtime_recovery_interval,
                stall_timeouts=self._realtime_stall_timeouts,
            )
            await self._switch.start()
        else:
            self.ensure_recognition()
            self.emit(
                "engine_changed", EngineChangedEvent(old_engine=None, new_engine="pipeline", reason="started")
            )
        if self._io.audio_input is not None:
            self.spawn(self._read_input(), "audio-input")
        await self._io.start(self)
        self.set_agent_state(AgentState.LISTENING)
        self._timers.start()
        notify_session_started(self)  # e.g. the job this session runs in ties its life to ours
        await agent.on_enter()

    def ensure_recognition(self) -> None:
        if self._listener is None and self._io is not None and self._io.audio_input is not None:
            self._setup_recognition(self.current_agent)

    def _setup_recognition(self, agent: Agent) -> None:
        vad, stt = self.vad_for(agent), self.stt_for(agent)
        missing = [name for name, p in (("vad", vad), ("stt", stt)) if p is None]
        if missing:
            raise ConfigError(
                f"audio input needs {' and '.join(missing)}: give them to AgentSession or the Agent"
            )
        assert vad is not None and stt is not None
        self._listener = PipelineListener(self, vad=vad, stt=stt)

    async def _read_input(self) -> None:
        assert self._io is not None and self._io.audio_input is not None
        self._input_meter = InputLagMeter(self._io.audio_input)
        try:
            await pump_audio(
                self._io.audio_input,
                self._push_frame,
                report=lambda e: self.report_error(e, source="audio-input", recoverable=True),
                meter=self._input_meter,
                filters=self._audio_filters,
            )
        except AudioInputError as e:  # deaf: say so and close rather than stay open
            self.report_error(e, source="audio-input", recoverable=False)
            return
        if self._listener is not None:
            self._listener.end_input()
        logger.debug("audio input ended")
        if self.close_on_input_end:
            await self._wait_until_quiet()
            self.request_close(CloseReason.INPUT_ENDED)

    def _push_frame(self, frame: AudioFrame) -> None:
        switch = self._switch
        if switch is not None and switch.push_audio(frame):
            return
        if self._listener is not None:
            self._listener.push_audio(frame)

    async def _wait_until_quiet(self) -> None:
        # the last words still go through endpointing, STT and a reply before the session ends
        await asyncio.sleep(self.options.min_endpointing_delay)
        if self._listener is not None:
            await self._listener.wait_until_quiet()
        await self.wait_for_idle()

    async def wait_for_idle(self) -> None:
        """Wait until no speech is playing or queued."""
        await self._speeches.wait_for_idle()

    async def aclose(
        self, *, reason: CloseReason = CloseReason.USER_REQUESTED, error: BaseException | None = None
    ) -> None:
        """End the session: stop speaking, cancel every task it started, close the I/O, emit ``close``."""
        if self._closing is None:
            self._closing = asyncio.get_running_loop().create_task(
                self._close(reason, error), name="session-close"
            )
        await asyncio.shield(self._closing)

    def request_close(self, reason: CloseReason, error: BaseException | None = None) -> None:
        if self._closing is None:
            self._closing = asyncio.get_running_loop().create_task(
                self._close(reason, error), name="session-close"
            )

    async def _close(self, reason: CloseReason, error: BaseException | None) -> None:
        logger.info("closing session: %s", reason.value)
        if self._timers is not None:
            self._timers.cancel()
        self._speeches.interrupt(force=True)
        current = asyncio.current_task()
        tasks = [t for t in self._tasks if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._listener is not None:
            await self._listener.aclose()
        if self._switch is not None:
            await self._switch.aclose()
        if self._agent is not None:
            try:
                await self._agent.on_exit()
            except Exception:
                logger.exception("%s.on_exit failed", type(self._agent).__name__)
        if self._io is not None:
            await self._io.aclose()
        self._audio_filters.close()
        await self._providers.release()
        await self._mcp.release()
        if self._agent_sm.state is not AgentState.CLOSED:
            self.set_agent_state(AgentState.CLOSED)
        self.emit("close", CloseEvent(reason=reason, error=error))
        if self._recorder is not None:
            await self._recorder.finish()
        self._closed.set()
        await self.aclose_handlers()

    def report(self) -> SessionReport:
        """The recording so far (all of it once closed): events, transcript, both sides' audio."""
        if self._recorder is None:
            raise RuntimeError("this session records nothing: AgentSession(record=RecordingOptions(...))")
        return self._recorder.report()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    # -- speaking ---------------------------------------------------------------------------------
    def say(
        self,
        text: str | AsyncIterator[str],
        *,
        allow_interruptions: bool | None = None,
        add_to_chat_ctx: bool = True,
    ) -> SpeechHandle:
        """Speak ``text`` (a string or an async stream of text) with the TTS, without the LLM."""
        speech = self.new_speech("say", allow_interruptions, user_initiated=True)
        self.enqueue(
            speech,
            lambda: ReplyGeneration(self, speech, say_text=text, add_to_chat_ctx=add_to_chat_ctx).run(),
        )
        return speech

    def generate_reply(
        self,
        *,
        instructions: str | None = None,
        user_input: str | None = None,
        allow_interruptions: bool | None = None,
    ) -> SpeechHandle:
        """Have the LLM reply now; ``user_input`` is added as a user message first,
        ``instructions`` apply to this reply only."""
        if user_input is not None:
            if not user_input.strip():
                raise ValueError("user_input must not be empty")
            self.add_history_item(ChatMessage(role="user", content=user_input.strip()))
            if self._user_sm.state is UserState.AWAY:
                self.set_user_state(UserState.LISTENING)  # typing counts as being back
            self.interrupt()  # the user said something new: what the agent was saying is moot
            if self._listener is not None:
                self._listener.clear_turn()
        speech = self.new_speech("generate_reply", allow_interruptions, user_initiated=True)
        self.enqueue(speech, lambda: self._reply(speech, instructions=instructions))
        return speech

    async def _reply(
        self,
        speech: SpeechHandle,
        *,
        instructions: str | None = None,
        turn: TurnTiming | None = None,
        providers: tuple[LLM, TTS | None] | None = None,
    ) -> None:
        switch = self._switch
        # the engine that is up answers (and hands over if it fails); a preemptive reply's own
        # providers are the pipeline's, so it goes straight to the pipeline
        if switch is not None and (providers is None or switch.active == "realtime"):
            await switch.reply(speech, instructions=instructions, turn=turn)
            return
        llm, tts = providers if providers is not None else (None, None)
        await ReplyGeneration(self, speech, instructions=instructions, turn=turn, llm=llm, tts=tts).run()

    def reply_to_user(
        self, turn: TurnTiming | None = None, providers: tuple[LLM, TTS | None] | None = None
    ) -> SpeechHandle:
        """Answer the user's latest message (a finished spoken turn, or one left unanswered);
        ``providers`` replace the agent's LLM and TTS for this reply (a preemptive reply's)."""
        speech = self.new_speech("generate_reply", None, user_initiated=False)
        self.enqueue(speech, lambda: self._reply(speech, turn=turn, providers=providers))
        return speech

    def interrupt(self, *, force: bool = False) -> None:
        """Stop the current speech (and drop queued ones) if they allow interruptions, or ``force``."""
        self._speeches.interrupt(force=force)

    async def update_agent(self, agent: Agent) -> None:
        """Hand the conversation to ``agent``: the history stays, instructions and tools change."""
        old = self._agent
        if old is agent:
            return
        if old is not None:
            await old.on_exit()
            old._detach()
        self._agent = agent
        agent._attach(self, SessionNodeContext(self, agent))
        self._providers.hold(agent.vad, agent.stt, agent.llm, agent.tts)
        await self._mcp.open(agent.mcp_servers, agent.tool_registry)
        self.history.set_instructions(agent.instructions)
        if self._switch is not None and self._switch.engine is not None:
            await self._switch.engine.load_agent(agent)
        if self._listener is not None and (agent.vad is not None or agent.stt is not None):
            await self._listener.aclose()
            self._setup_recognition(agent)
        logger.info("agent changed: %s -> %s", type(old).__name__, type(agent).__name__)
        await agent.on_enter()

    async def run(self, *, user_input: str, timeout: float | None = 60.0) -> RunResult:
        """Run one text turn and return the events it caused (for tests and text mode)."""
        if not self._started:
            raise RuntimeError("start the session before run()")
        events: list[Any] = []
        self._collectors.append(events)
        try:
            async with asyncio.timeout(timeout):
                await self.generate_reply(user_input=user_input)
                await self.wait_for_idle()
        finally:
            self._collectors.remove(events)
        return RunResult(events=events)

    # -- speech queue -----------------------------------------------------------------------------
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
        if self._listener is not None:
            self._listener.speech_ended()
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
        return self._listener

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

    def announce_item(self, item: ChatItem) -> None:
        self.emit("conversation_item_added", ConversationItemAddedEvent(item=item))

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

    def emit_usage(self, usage: UsageMetrics) -> None:
        self.usage.add(usage)
        self.emit_metrics(usage)

    def emit_metrics(self, metrics: AgentMetrics) -> None:
        if isinstance(metrics, TurnMetrics) and self._input_meter is not None:
            metrics.input_lag, metrics.input_dropped = self._input_meter.take()
        self.emit("metrics_collected", MetricsCollectedEvent(metrics=metrics))
        if isinstance(metrics, TurnMetrics):
            logger.debug("turn metrics: %s", metrics)

    def report_error(
        self, error: BaseException, *, source: str, recoverable: bool, recovered: bool = False
    ) -> None:
        if isinstance(error, ProviderError):
            logger.warning("%s error (%s): %s", source, error.category.value, error)
        else:
            logger.error("%s error: %r", source, error, exc_info=error)
        self.emit("error", ErrorEvent(error=error, source=source, recoverable=recoverable, recovered=recovered))
        if not recoverable:
            self.request_close(CloseReason.ERROR, error)

    def emit(self, event: EventName, *args: Any) -> None:
        """Emit ``event`` to the listeners (and to the collectors of a running :meth:`run`)."""
        for collector in self._collectors:
            collector.extend(args[:1])
        super().emit(event, *args)

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.report_error(task.exception(), source=task.get_name(), recoverable=True)  # type: ignore[arg-type]
