"""Automatic realtime → pipeline fallback, and the way back.

The session starts on the realtime model when it has one. When the model cannot connect, reports
a fatal error, stalls twice in one turn, or cannot reconnect (after its retries, or after
``reconnect_grace`` seconds), the session moves to the STT → LLM → TTS pipeline at once: the history
is shared, and the turn in flight is answered exactly once — by the speech that was answering it
(continuing from what the user heard), or from the replayed audio through the pipeline's VAD and STT
when the model never transcribed it, or, when nobody was answering yet, as the last user message.
With ``recovery`` on, the model is probed in the background and the session moves back between turns.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Literal

from ..chat import ChatMessage
from ..errors import ErrorCategory, ProviderError
from ..events import AgentState, EngineChangedEvent, UserInputTranscribedEvent, UserState
from ..media.frame import AudioFrame
from ..providers.realtime import RealtimeModel
from .generation import ReplyGeneration, TurnTiming
from .host import SessionHost
from .realtime_engine import RealtimeEngine
from .realtime_stall import RealtimeStallTimeouts
from .speech import SpeechHandle
from .turn_guard import TurnHandedOver, UntranscribedTurn, continuation_instructions, merge_continuation

logger = logging.getLogger("livekitex_agent.session")

Engine = Literal["realtime", "pipeline"]


class EngineSwitch:
    def __init__(
        self,
        session: SessionHost,
        model: RealtimeModel,
        *,
        recovery: bool,
        connect_timeout: float,
        reconnect_grace: float | None,
        recovery_interval: tuple[float, float] = (1.0, 30.0),
        stall_timeouts: RealtimeStallTimeouts | None = None,
    ) -> None:
        self._session = session
        self._model = model
        self._recovery = recovery
        self._connect_timeout = connect_timeout
        self._reconnect_grace = reconnect_grace
        self._recovery_interval = recovery_interval
        self._stall_timeouts = stall_timeouts
        self.engine: RealtimeEngine | None = None
        self.active: Engine = "pipeline"

    def _new_engine(self) -> RealtimeEngine:
        return RealtimeEngine(
            self._session,
            self._model,
            on_failure=self._on_failure,
            hand_over=self._hand_over,
            connect_timeout=self._connect_timeout,
            reconnect_grace=self._reconnect_grace,
            stall_timeouts=self._stall_timeouts,
        )

    async def start(self) -> None:
        s = self._session
        engine = self._new_engine()
        try:
            await engine.start(s.current_agent)
        except ProviderError as e:
            s.report_error(e, source="realtime", recoverable=s.can_run_pipeline, recovered=s.can_run_pipeline)
            self._enter_pipeline(old=None, reason=f"realtime unavailable: {e}")
            if self._recovery:
                s.spawn(self._recover(), "realtime-recovery")
            return
        self.engine = engine
        self.active = "realtime"
        s.emit(
            "engine_changed", EngineChangedEvent(old_engine=None, new_engine="realtime", reason="started")
        )

    def push_audio(self, frame: AudioFrame) -> bool:
        """Route a frame to the realtime model; False when the pipeline should take it."""
        if self.active == "realtime" and self.engine is not None:
            self.engine.push_audio(frame)
            return True
        return False

    # -- answering ---------------------------------------------------------------------------------
    async def reply(self, speech: SpeechHandle, *, instructions: str | None, turn: TurnTiming | None) -> None:
        """Answer in ``speech`` with the engine that is up (the realtime model waits out a reconnect,
        and hands the turn to the pipeline if it fails meanwhile)."""
        engine = self.engine
        if self.active == "realtime" and engine is not None:
            await engine.answer(speech, None, instructions)
            return
        await self._pipeline_reply(speech, instructions, turn)

    async def _hand_over(self, speech: SpeechHandle, handed: TurnHandedOver, instructions: str | None) -> None:
        await self._pipeline_reply(speech, instructions, None, handed.partial, handed.untranscribed)

    async def _pipeline_reply(
        self, speech: SpeechHandle, instructions: str | None, turn: TurnTiming | None,
        partial: ChatMessage | None = None, untranscribed: UntranscribedTurn | None = None,
    ) -> None:
        s = self._session
        if not s.can_run_pipeline:
            return  # reported when the model failed
        if untranscribed is not None and not await self._transcribe(untranscribed):
            return
        if partial is not None and partial.content:
            instructions = continuation_instructions(partial.content, instructions)
        await ReplyGeneration(s, speech, instructions=instructions, turn=turn).run()
        if partial is not None:
            answers = [i for i in speech.chat_items if isinstance(i, ChatMessage) and i.role == "assistant"]
            if answers:
                merge_continuation(s.history, partial, answers[-1])  # one assistant message for the turn

    async def _transcribe(self, turn: UntranscribedTurn) -> bool:
        """The pipeline's STT fills in the user's turn the model never transcribed (in its place in the
        history); False when it heard nothing (or failed, which is reported): nothing to answer."""
        s = self._session
        msg, stt = turn.message, s.stt_for(s.current_agent)
        text = ""
        if stt is not None and turn.audio:
            try:
                text = (await stt.recognize(turn.audio, language=s.language)).text.strip()
            except ProviderError as e:
                s.report_error(e, source="stt", recoverable=True)
        if text:
            msg.content = text
            s.history.update_item(msg)
            s.emit("user_input_transcribed", UserInputTranscribedEvent(transcript=text, is_final=True))
            s.announce_item(msg)
            return True
        s.history.remove(msg.id)
        return False

    # -- realtime → pipeline ----------------------------------------------------------------------
    def _on_failure(self, reason: str) -> None:
        s = self._session
        if self.active != "realtime" or s.closing:
            return
        loop = asyncio.get_running_loop()
        engine = self.engine
        assert engine is not None
        started = engine.failure_noticed_at or loop.time()
        replay = engine.unanswered_audio()
        owner_answers = engine.owner_answers_turn
        self.engine = None
        logger.warning("realtime engine failed (%s): switching to the pipeline", reason)
        self._enter_pipeline(old="realtime", reason=reason, started=started)
        if s.can_run_pipeline:
            error = engine.failure_error or ProviderError(
                f"realtime model failed: {reason}", provider=self._model.label, retryable=False,
                category=ErrorCategory.CONNECTION,
            )
            s.report_error(error, source="realtime", recoverable=True, recovered=True)
        listener = s.listener
        if listener is not None:
            for frame in replay:
                listener.push_audio(frame)
        untranscribed = engine.untranscribed
        if not owner_answers:  # (else the speech that was answering the turn answers it on the pipeline)
            if untranscribed is not None:  # nobody was answering yet: a new speech does
                speech = s.new_speech("generate_reply", None, user_initiated=False)
                s.enqueue(speech, lambda: self._pipeline_reply(speech, None, None, untranscribed=untranscribed))
            else:
                self._answer_pending_user_message()
        s.spawn(engine.aclose(), "realtime-close")
        if self._recovery:
            s.spawn(self._recover(), "realtime-recovery")

    def _enter_pipeline(self, *, old: Engine | None, reason: str, started: float | None = None) -> None:
        s = self._session
        self.active = "pipeline"
        if not s.can_run_pipeline:
            s.report_error(
                RuntimeError(f"realtime failed ({reason}) and there is no pipeline to fall back to"),
                source="realtime",
                recoverable=False,
            )
            return
        s.ensure_recognition()
        seconds = asyncio.get_running_loop().time() - started if started is not None else None
        s.emit(
            "engine_changed",
            EngineChangedEvent(old_engine=old, new_engine="pipeline", reason=reason, switch_seconds=seconds),
        )

    def _answer_pending_user_message(self) -> None:
        """A transcribed user message the model never answered gets its answer from the pipeline."""
        s = self._session
        for item in reversed(s.history.items):
            if isinstance(item, ChatMessage) and item.role == "assistant" and not item.interrupted:
                return
            if isinstance(item, ChatMessage) and item.role == "user":
                if item.content:
                    s.reply_to_user()
                else:
                    s.history.remove(item.id)  # untranscribed audio: the replay transcribes it again
                return

    # -- pipeline → realtime ----------------------------------------------------------------------
    async def _recover(self) -> None:
        s = self._session
        low, high = self._recovery_interval
        delay = low
        while not s.closing:
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(high, delay * 2)
            engine = self._new_engine()
            try:
                await engine.start(s.current_agent)
            except ProviderError as e:
                logger.info("realtime still unavailable: %s", e)
                continue
            await self._wait_for_quiet_moment()
            if engine.failed:
                await engine.aclose()
                continue
            await engine.load_agent(s.current_agent)  # the history may have grown while we waited
            self.engine = engine
            self.active = "realtime"
            s.emit(
                "engine_changed",
                EngineChangedEvent(old_engine="pipeline", new_engine="realtime", reason="recovered"),
            )
            logger.info("realtime model is back: switched from the pipeline")
            return

    async def _wait_for_quiet_moment(self) -> None:
        s = self._session
        while not (  # noqa: ASYNC110 - a condition over several parts, polled only while recovering
            s.agent_state is AgentState.LISTENING
            and s.user_state is not UserState.SPEAKING
            and s.current_speech is None
            and not (s.listener is not None and s.listener.busy)
        ):
            await asyncio.sleep(0.1)

    async def aclose(self) -> None:
        if self.engine is not None:
            await self.engine.aclose()
            self.engine = None
