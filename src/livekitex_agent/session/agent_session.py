"""``AgentSession``: one conversation as its users drive it — start, speak, hand off, run a turn, close.

The conversation's state and what the engines ask of it are in :class:`~.core.SessionCore`; events,
metrics and errors in :class:`~.emitter.SessionEmitter`; which engine runs in :class:`~.engines.SessionEngines`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from typing import Any

from ..agent import Agent
from ..chat import ChatMessage
from ..errors import AudioInputError, ConfigError
from ..events import (
    AgentState,
    CloseEvent,
    CloseReason,
    UserState,
)
from ..hooks import notify_session_started
from ..media.filter import AudioFilter, AudioFilterChain
from ..media.io import SessionIO
from ..providers.llm import LLM
from ..providers.realtime import RealtimeModel
from ..providers.stt import STT
from ..providers.tts import TTS
from ..providers.vad import VAD
from ..validation import check_instance
from .audio_pump import InputLagMeter, pump_audio
from .core import SessionCore
from .engines import SessionEngines
from .generation import ReplyGeneration
from .mcp_lease import MCPLease
from .nodes import SessionNodeContext
from .options import SessionOptions, check_session_arguments
from .provider_lease import ProviderLease
from .realtime_stall import RealtimeStallTimeouts
from .recording import RecordingOptions, SessionRecorder, SessionReport
from .room_io import make_room_io, native_rates
from .run_result import RunResult
from .speech import SpeechHandle
from .timers import SessionTimers
from .tracing import SessionTracer, TracingOptions

logger = logging.getLogger("livekitex_agent.session")


class AgentSession(SessionCore):
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
        base = options or SessionOptions()
        unknown = set(option_overrides) - set(SessionOptions.__dataclass_fields__)
        if unknown:
            raise ConfigError(f"unknown AgentSession option(s): {', '.join(sorted(unknown))}")
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
        super().__init__(
            replace(base, **option_overrides) if option_overrides else base,
            vad=vad, stt=stt, llm=llm, tts=tts, language=language,
        )
        self._recorder = SessionRecorder.create(record)  # None unless recording was asked for
        self._tracer = SessionTracer.attach(self, tracing)  # spans per turn, from the events
        self.realtime = realtime
        self._engines = SessionEngines(
            self,
            realtime,
            recovery=fallback_recovery,
            connect_timeout=realtime_connect_timeout,
            reconnect_grace=realtime_reconnect_grace,
            recovery_interval=realtime_recovery_interval,
            stall_timeouts=realtime_stall_timeouts,
        )
        self.userdata = userdata
        self.close_on_input_end = close_on_input_end
        self._providers = ProviderLease()  # closed with the session unless another one uses them
        self._mcp = MCPLease(lambda e: self.report_error(e, source="mcp", recoverable=True))
        self._audio_filters = AudioFilterChain(audio_filters)  # run on the input before the VAD; ours to close

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
        await self._engines.start()
        if self._io.audio_input is not None:
            self.spawn(self._read_input(), "audio-input")
        await self._io.start(self)
        self.set_agent_state(AgentState.LISTENING)
        self._timers.start()
        notify_session_started(self)  # e.g. the job this session runs in ties its life to ours
        await agent.on_enter()

    async def _read_input(self) -> None:
        assert self._io is not None and self._io.audio_input is not None
        self._input_meter = InputLagMeter(self._io.audio_input)
        try:
            await pump_audio(
                self._io.audio_input,
                self._engines.push_audio,
                report=lambda e: self.report_error(e, source="audio-input", recoverable=True),
                meter=self._input_meter,
                filters=self._audio_filters,
            )
        except AudioInputError as e:  # deaf: say so and close rather than stay open
            self.report_error(e, source="audio-input", recoverable=False)
            return
        self._engines.end_input()
        logger.debug("audio input ended")
        if self.close_on_input_end:
            await self._wait_until_quiet()
            self.request_close(CloseReason.INPUT_ENDED)

    async def _wait_until_quiet(self) -> None:
        # the last words still go through endpointing, STT and a reply before the session ends
        await asyncio.sleep(self.options.min_endpointing_delay)
        await self._engines.wait_until_quiet()
        await self.wait_for_idle()

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
        await self._cancel_tasks()
        await self._engines.aclose()
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
            if self._engines.listener is not None:
                self._engines.listener.clear_turn()
        speech = self.new_speech("generate_reply", allow_interruptions, user_initiated=True)
        self.enqueue(speech, lambda: self._engines.reply(speech, instructions=instructions))
        return speech

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
        await self._engines.load_agent(agent)
        logger.info("agent changed: %s -> %s", type(old).__name__, type(agent).__name__)
        await agent.on_enter()

    async def run(self, *, user_input: str, timeout: float | None = 60.0) -> RunResult:
        """Run one text turn and return the events it caused (for tests and text mode)."""
        if not self._started:
            raise RuntimeError("start the session before run()")
        with self._collecting() as events:
            async with asyncio.timeout(timeout):
                await self.generate_reply(user_input=user_input)
                await self.wait_for_idle()
        return RunResult(events=events)
