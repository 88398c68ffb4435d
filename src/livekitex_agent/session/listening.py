"""The pipeline's ears wired into the session: recognition, barge-in and the user's finished turns."""

from __future__ import annotations

import asyncio
import logging

from ..chat import ChatMessage
from ..errors import StopResponse
from ..events import UserInputTranscribedEvent, UserState
from ..media.frame import AudioFrame
from ..nodes import node_overridden
from ..providers.stt import STT
from ..providers.turn import TurnDetector
from ..providers.vad import VAD
from .host import SessionHost
from .interruption import InterruptionController
from .preemptive import PreemptiveReply
from .recognition import AudioRecognition, RecognitionHooks
from .speech import SpeechHandle
from .tts_text import SpeakableText
from .turn_timing import TurnTiming

logger = logging.getLogger("livekitex_agent.session")


class PipelineListener:
    """Feeds input audio to VAD and STT, holds/resumes/interrupts the agent, and answers finished turns."""

    def __init__(self, session: SessionHost, *, vad: VAD, stt: STT) -> None:
        self._session = session
        self._preemptive: PreemptiveReply | None = None  # prepared for the pending turn
        self._in_use: set[PreemptiveReply] = set()  # taken by a reply that is still running
        opts = session.options
        self.interruption = InterruptionController(
            options=opts,
            current_speech=lambda: session.current_speech,
            audio_output=lambda: session.io.audio_output if session.io else None,
            interrupt=session.interrupt,
            language=session.language,
        )
        self.recognition = AudioRecognition(
            vad=vad,
            stt=stt,
            hooks=RecognitionHooks(
                speech_started=self._speech_started,
                speech_progress=self.interruption.on_speech_progress,
                speech_ended=self._speech_ended,
                transcript=self._transcript,
                segment_transcribed=self.interruption.on_segment_transcribed,
                end_of_turn=self._end_of_turn,
                error=lambda e, source: session.report_error(e, source=source, recoverable=True),
                usage=session.emit_usage,
                turn_pending=self._turn_pending,
                turn_resumed=self._drop_preemptive,
                stt_node=lambda: agent if node_overridden(agent := session.current_agent, "stt_node") else None,
            ),
            min_endpointing_delay=opts.min_endpointing_delay,
            max_endpointing_delay=opts.max_endpointing_delay,
            language=session.language,
            streaming=opts.stt_streaming,
            turn_detector=opts.turn_detection if isinstance(opts.turn_detection, TurnDetector) else None,
        )
        self._turns: set[asyncio.Task[None]] = set()  # finished turns being answered

    # -- what the session calls -------------------------------------------------------------------
    def push_audio(self, frame: AudioFrame) -> None:
        self.recognition.push_audio(frame)

    def end_input(self) -> None:
        self.recognition.end_input()

    @property
    def busy(self) -> bool:
        return self.recognition.busy

    async def wait_until_quiet(self) -> None:
        """Wait until no speech is heard, transcribed or decided, and every finished turn is answered
        (its reply queued)."""
        while True:
            await self.recognition.wait_until_quiet()
            if not self._turns:
                return
            await asyncio.wait(self._turns)

    def clear_turn(self) -> None:
        self._drop_preemptive()
        self.recognition.clear_turn()

    def speech_ended(self) -> None:
        """The agent's speech ended by itself: nothing is held any more."""
        self.interruption.reset()

    async def aclose(self) -> None:
        pending, self._preemptive = self._preemptive, None
        for preemptive in [pending, *self._in_use]:
            if preemptive is not None:
                await preemptive.aclose()
        self._in_use.clear()
        await self.recognition.aclose()

    # -- recognition hooks ------------------------------------------------------------------------
    def _speech_started(self) -> None:
        self.interruption.on_speech_started()
        self._session.set_user_state(UserState.SPEAKING)

    def _speech_ended(self) -> None:
        self._session.set_user_state(UserState.LISTENING)
        self.interruption.on_speech_ended()

    def _transcript(self, text: str, is_final: bool) -> None:
        s = self._session
        if not is_final:
            self.interruption.on_interim_transcript(text)
        s.emit(
            "user_input_transcribed",
            UserInputTranscribedEvent(transcript=text, is_final=is_final, language=s.language),
        )

    def _end_of_turn(self, text: str, timing: TurnTiming) -> None:
        task = self._session.spawn(self._handle_turn(text, timing), "user-turn")
        self._turns.add(task)
        task.add_done_callback(self._turns.discard)

    async def _handle_turn(self, text: str, timing: TurnTiming) -> None:
        s = self._session
        speech = s.current_speech
        if speech is not None and not speech.done() and not self.interruption.interrupts(text):
            logger.debug("backchannel while the agent speaks, not a turn: %r", text)
            self._drop_preemptive()
            return
        message = ChatMessage(role="user", content=text)
        preemptive, self._preemptive = self._preemptive, None
        try:
            await s.current_agent.on_user_turn_completed(s.history.copy(), message)
        except StopResponse:
            s.add_history_item(message)
            self._close_later(preemptive)
            return
        ready = preemptive is not None and preemptive.matches(message.content, s.history.last_id)
        s.add_history_item(message)
        s.interrupt()  # a new user turn supersedes what the agent was about to say
        if preemptive is not None and ready:
            speech = s.reply_to_user(timing, (preemptive.llm, preemptive.tts))
            self._in_use.add(preemptive)
            s.spawn(self._close_after(speech, preemptive), "preemptive-close")
        else:
            self._close_later(preemptive)
            s.reply_to_user(timing)

    # -- preemptive generation --------------------------------------------------------------------
    def _turn_pending(self, text: str) -> None:
        s = self._session
        if not s.options.preemptive_generation or s.engine != "pipeline":
            return
        current = self._preemptive
        if current is not None and current.matches(text, s.history.last_id):
            return  # already preparing this very reply
        self._drop_preemptive()
        agent = s.current_agent
        llm = s.llm_for(agent)
        if llm is None:
            return
        tools = agent.tools if s.options.max_tool_steps > 0 else []
        tts = s.tts_for(agent) if s.io is not None and s.io.audio_output is not None else None
        self._preemptive = PreemptiveReply(
            user_text=text, history=s.history, llm=llm, tools=tools, tts=tts, speakable=SpeakableText.for_session(s),
            agent=agent,
        )

    def _drop_preemptive(self) -> None:
        """The user goes on (or the turn was taken otherwise): the prepared reply is moot."""
        preemptive, self._preemptive = self._preemptive, None
        self._close_later(preemptive)

    async def _close_after(self, speech: SpeechHandle, preemptive: PreemptiveReply) -> None:
        try:
            await speech.wait_for_playout()
        finally:
            self._in_use.discard(preemptive)
            await preemptive.aclose()

    def _close_later(self, preemptive: PreemptiveReply | None) -> None:
        if preemptive is not None:
            self._session.spawn(preemptive.aclose(), "preemptive-close")
