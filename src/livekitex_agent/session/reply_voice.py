"""The spoken side of one pipeline reply: its sentences to the TTS (or the agent's ``tts_node``), the
audio to the session's output (resampled once, paced by the output), and each sentence to the text
output (through the agent's ``transcription_node``) when its audio starts playing.
:class:`~.generation.ReplyGeneration` feeds it the sentences, step by step.
"""

from __future__ import annotations

import asyncio

from ..events import AgentState
from ..media.frame import AudioFrame
from ..media.resample import Resampler
from ..metrics import UsageMetrics
from ..nodes import node_overridden
from ..providers.base import open_stream
from ..providers.resume import resumable_synthesis
from ..providers.tts import TTS
from .host import SessionHost
from .node_speech import speak_through_node
from .nodes import ShownText, error_source
from .speech import SpeechHandle
from .timeline import SpeechTimeline, TextSegment
from .tts_text import SpeakableText
from .turn_timing import ReplyTiming


class ReplyVoice:
    """Speaks one reply's sentences (``tts`` instead of the agent's, e.g. a preemptive reply's) and
    keeps its :class:`~.timeline.SpeechTimeline`, from which what the user heard is known. It is the
    ``SpokenReply`` the ``tts_node`` path speaks for (``session/node_speech.py``)."""

    def __init__(
        self, session: SessionHost, speech: SpeechHandle, timing: ReplyTiming, *, tts: TTS | None = None
    ) -> None:
        self._session = session
        self._speech = speech
        self._timing = timing
        self._tts = tts
        self._loop = asyncio.get_running_loop()
        self._out = session.io.audio_output if session.io else None
        self._text_out = session.io.text_output if session.io else None
        self._timeline = SpeechTimeline()
        self._audio_started = False
        self._playing = asyncio.Event()  # set with _audio_started: what the text sync waits for
        self._audio_written = False
        self._segment_ready = asyncio.Event()
        self._speakable = SpeakableText.for_session(session)  # what the TTS hears of a sentence
        self._shown: ShownText | None = None  # the reply's words on their way to the text output
        self._sync: asyncio.Task[None] | None = None

    @property
    def has_output(self) -> bool:
        """The session has an audio output (else the reply is text only)."""
        return self._out is not None

    @property
    def audio_started(self) -> bool:
        """The reply's audio started playing."""
        return self._audio_started

    @property
    def audio_written(self) -> bool:
        """Some of the reply's audio went to the output."""
        return self._audio_written

    def heard_text(self, position: float, step: int) -> str:
        """What the user heard of step ``step`` when the playout stopped at ``position`` seconds."""
        return self._timeline.heard_text(position, step)

    # -- the reply's life -------------------------------------------------------------------------
    def start(self) -> None:
        """Start forwarding the words to the text output as their audio plays."""
        self._shown = self._shown_text()
        self._sync = self._loop.create_task(self._sync_text(), name=f"text-sync:{self._speech.id}")

    def speak(self, queue: asyncio.Queue[str | None], step: int) -> asyncio.Task[None]:
        """A task speaking the sentences of step ``step`` put in ``queue`` (None ends them)."""
        return self._loop.create_task(self._tts_worker(queue, step), name=f"tts:{self._speech.id}")

    async def play_out(self) -> None:
        """Wait until what was written has been played."""
        if self._out is not None and self._audio_written:
            self._out.flush()
            await self._out.wait_for_playout()

    async def stop(self, *, cut: bool) -> float:
        """End the reply (``cut``: drop what was not played yet); the playout position, in seconds."""
        position = 0.0
        if self._out is not None and self._audio_written:
            if cut:
                self._out.clear_buffer()
            result = await self._out.wait_for_playout()
            position = result.position
        if self._sync is not None:
            self._sync.cancel()
            await asyncio.gather(self._sync, return_exceptions=True)
        if self._shown is not None:
            await self._shown.close()
        if self._text_out is not None:
            self._text_out.flush()
        return position

    # -- speech synthesis -------------------------------------------------------------------------
    async def _tts_worker(self, queue: asyncio.Queue[str | None], step: int) -> None:
        session = self._session
        tts = self._tts or session.tts_for(session.current_agent)
        out = self._out
        if out is not None and node_overridden(session.current_agent, "tts_node"):
            await speak_through_node(self, session.current_agent, queue, step=step, tts=tts,
                                     output_rate=out.sample_rate)
            return
        while (sentence := await queue.get()) is not None:
            if out is None or tts is None:
                # text-only: the words are "heard" as soon as they exist
                self.begin_sentence(sentence, step)
                continue
            await self._synthesize(tts, sentence, step)

    async def _synthesize(self, tts: TTS, sentence: str, step: int) -> None:
        out = self._out
        assert out is not None
        resampler = (
            Resampler(out.sample_rate) if out.sample_rate and out.sample_rate != tts.sample_rate else None
        )

        spoken = self._speakable(sentence)  # what the TTS hears; the transcript keeps `sentence`
        if not spoken.strip():  # nothing to say (e.g. only an emoji)
            self.begin_sentence(sentence, step)
            return
        requested = self._loop.time()
        if self._timing.tts_request is None:
            self._timing.tts_request = requested
        stream, it, frame = await open_stream(
            lambda: resumable_synthesis(tts, spoken), policy=tts.retry_policy, provider=tts.label
        )
        if self._timing.tts_first_frame is None:
            self._timing.tts_first_frame = self._loop.time()
        segment = self.begin_sentence(sentence, step)
        try:  # the per-frame path: inline, no extra await per frame
            while frame is not None:
                if resampler is not None:
                    frame = resampler.push(frame)
                if frame is not None and frame.data.size:
                    self._audio_written = True
                    await out.capture_frame(frame)
                    self._timeline.add_audio(frame.duration)
                try:
                    frame = await it.__anext__()
                except StopAsyncIteration:
                    frame = None
            if resampler is not None and (tail := resampler.flush()) is not None:
                await self.play(tail, None)
        finally:
            await stream.aclose()
        self.emit_tts_usage(tts.label, spoken, segment.duration, requested)

    # -- what the tts_node path (node_speech.py) uses --------------------------------------------
    def speakable(self, sentence: str) -> str:
        return self._speakable(sentence)

    def begin_sentence(self, sentence: str, step: int) -> TextSegment:
        segment = self._timeline.begin_text(sentence, step)
        self._segment_ready.set()
        return segment

    def tts_requested(self) -> None:
        if self._timing.tts_request is None:
            self._timing.tts_request = self._loop.time()

    def tts_first_frame(self) -> None:
        if self._timing.tts_first_frame is None:
            self._timing.tts_first_frame = self._loop.time()

    async def play(self, frame: AudioFrame | None, resampler: Resampler | None) -> None:
        if resampler is not None and frame is not None:
            frame = resampler.push(frame)
        if frame is not None and frame.data.size:
            assert self._out is not None
            self._audio_written = True
            await self._out.capture_frame(frame)
            self._timeline.add_audio(frame.duration)

    def emit_tts_usage(self, provider: str, spoken: str, audio: float, requested: float) -> None:
        self._session.emit_usage(
            UsageMetrics(
                provider=provider,
                kind="tts",
                characters=len(spoken),
                audio_duration=audio,
                duration=self._loop.time() - requested,
            )
        )

    def _shown_text(self) -> ShownText | None:
        """Where this reply's words go to be shown (through the agent's ``transcription_node``)."""
        if self._text_out is None:
            return None
        session = self._session
        return ShownText(
            session.current_agent,
            self._text_out,
            lambda e: session.report_error(e, source=error_source(e, "transcription_node"), recoverable=True),
        )

    def on_playback_started(self, t: float) -> None:
        if self._audio_started:
            return
        self._audio_started = True
        self._playing.set()
        self._timing.playback_start = t
        self._session.set_agent_state(AgentState.SPEAKING)

    async def _sync_text(self) -> None:
        """Forward each sentence to the text output when its audio starts playing."""
        out, text_out = self._out, self._text_out
        if text_out is None:
            return
        sent = 0
        while True:
            while sent >= len(self._timeline.segments):
                self._segment_ready.clear()
                await self._segment_ready.wait()
            seg = self._timeline.segments[sent]
            if out is not None and self._audio_written:
                await self._playing.wait()
                # a timer to the sentence's start in the playout, re-armed only if the playout lagged
                while (ahead := seg.start - out.position) > 0:  # noqa: ASYNC110
                    await asyncio.sleep(max(0.005, ahead))
            assert self._shown is not None
            await self._shown.capture(seg.text if sent == 0 else " " + seg.text)
            sent += 1
