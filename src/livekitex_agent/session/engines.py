"""``SessionEngines``: which engine runs the conversation, and where the user's audio and replies go.

With a realtime model the session starts on it, through the :class:`~.fallback.EngineSwitch` (which
moves to the pipeline when the model fails, and back with ``recovery``); without one, it runs the
pipeline: a :class:`~.listening.PipelineListener` hears the user and a
:class:`~.generation.ReplyGeneration` answers.
"""

from __future__ import annotations

from typing import Literal

from ..agent import Agent
from ..errors import ConfigError
from ..events import EngineChangedEvent
from ..media.frame import AudioFrame
from ..providers.llm import LLM
from ..providers.realtime import RealtimeModel
from ..providers.tts import TTS
from .fallback import EngineSwitch
from .generation import ReplyGeneration
from .host import SessionHost
from .listening import PipelineListener
from .realtime_stall import RealtimeStallTimeouts
from .speech import SpeechHandle
from .turn_timing import TurnTiming


class SessionEngines:
    """The session's engines: the realtime model (if any, with its fallback) and the pipeline."""

    def __init__(
        self,
        host: SessionHost,
        realtime: RealtimeModel | None,
        *,
        recovery: bool,
        connect_timeout: float,
        reconnect_grace: float | None,
        recovery_interval: tuple[float, float],
        stall_timeouts: RealtimeStallTimeouts | None,
    ) -> None:
        self._host = host
        self._realtime = realtime
        self._recovery = recovery
        self._connect_timeout = connect_timeout
        self._reconnect_grace = reconnect_grace
        self._recovery_interval = recovery_interval
        self._stall_timeouts = stall_timeouts
        self.switch: EngineSwitch | None = None
        self.listener: PipelineListener | None = None

    @property
    def active(self) -> Literal["realtime", "pipeline"]:
        return self.switch.active if self.switch is not None else "pipeline"

    async def start(self) -> None:
        """Start on the realtime model when there is one (falling back at once if it cannot
        connect), else on the pipeline."""
        host = self._host
        if self._realtime is not None:
            self.switch = EngineSwitch(
                host,
                self._realtime,
                recovery=self._recovery,
                connect_timeout=self._connect_timeout,
                reconnect_grace=self._reconnect_grace,
                recovery_interval=self._recovery_interval,
                stall_timeouts=self._stall_timeouts,
            )
            await self.switch.start()
        else:
            self.ensure_recognition()
            host.emit(
                "engine_changed", EngineChangedEvent(old_engine=None, new_engine="pipeline", reason="started")
            )

    # -- the pipeline's ears ----------------------------------------------------------------------
    def ensure_recognition(self) -> None:
        io = self._host.io
        if self.listener is None and io is not None and io.audio_input is not None:
            self._setup_recognition(self._host.current_agent)

    def _setup_recognition(self, agent: Agent) -> None:
        host = self._host
        vad, stt = host.vad_for(agent), host.stt_for(agent)
        missing = [name for name, p in (("vad", vad), ("stt", stt)) if p is None]
        if missing:
            raise ConfigError(
                f"audio input needs {' and '.join(missing)}: give them to AgentSession or the Agent"
            )
        assert vad is not None and stt is not None
        self.listener = PipelineListener(host, vad=vad, stt=stt)

    def push_audio(self, frame: AudioFrame) -> None:
        switch = self.switch
        if switch is not None and switch.push_audio(frame):
            return
        if self.listener is not None:
            self.listener.push_audio(frame)

    def end_input(self) -> None:
        if self.listener is not None:
            self.listener.end_input()

    async def wait_until_quiet(self) -> None:
        if self.listener is not None:
            await self.listener.wait_until_quiet()

    # -- answering --------------------------------------------------------------------------------
    async def reply(
        self,
        speech: SpeechHandle,
        *,
        instructions: str | None = None,
        turn: TurnTiming | None = None,
        providers: tuple[LLM, TTS | None] | None = None,
    ) -> None:
        switch = self.switch
        # the engine that is up answers (and hands over if it fails); a preemptive reply's own
        # providers are the pipeline's, so it goes straight to the pipeline
        if switch is not None and (providers is None or switch.active == "realtime"):
            await switch.reply(speech, instructions=instructions, turn=turn)
            return
        llm, tts = providers if providers is not None else (None, None)
        await ReplyGeneration(self._host, speech, instructions=instructions, turn=turn, llm=llm, tts=tts).run()

    async def load_agent(self, agent: Agent) -> None:
        """``agent`` took over: the realtime model gets its instructions and tools, and the pipeline
        listens with its own VAD and STT if it brings them."""
        if self.switch is not None and self.switch.engine is not None:
            await self.switch.engine.load_agent(agent)
        if self.listener is not None and (agent.vad is not None or agent.stt is not None):
            await self.listener.aclose()
            self._setup_recognition(agent)

    async def aclose(self) -> None:
        if self.listener is not None:
            await self.listener.aclose()
        if self.switch is not None:
            await self.switch.aclose()
