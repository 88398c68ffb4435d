"""The pipeline's ears: input audio → VAD → STT (streaming or per segment) → end-of-turn decision.

``push_audio`` runs for every input frame and is synchronous: resample (once), VAD, and with a
streaming STT, push the same frame to the segment's stream. Transcription runs per VAD segment in
owned tasks: with a streaming STT the stream opens at the start of speech (interim transcripts
while the user speaks) and the final arrives soon after the end; otherwise the segment is
transcribed once it has ended. A broken stream falls back to per-segment recognition of the same
audio. The end of the turn is decided when the user has been silent for ``min_endpointing_delay``
and every segment has its transcript (waiting for a slow transcript at most until
``max_endpointing_delay``). With a :class:`TurnDetector`, a segment ends after the detector's
``pause_duration`` of silence and the detector decides once its transcript is in (see
``turn_detection``); a turn it holds ends after its ``max_pause``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from ..media.frame import AudioFrame
from ..media.resample import Resampler
from ..metrics import UsageMetrics
from ..nodes import NodeAgent
from ..providers.stt import STT, recognize_segment
from ..providers.turn import TurnDetector
from ..providers.vad import VAD, VADEvent, VADEventType, VADStream
from .nodes import NodeSegment, error_source
from .stt_stream import StreamedSegment, StreamFailed
from .turn_detection import DetectorTurns
from .turn_timing import TurnTiming

EARLY_PENDING_SILENCE = 0.07  # seconds of silence (two VAD windows) after which interim words are the turn so far


@dataclass
class RecognitionHooks:
    """What recognition tells the session."""

    speech_started: Callable[[], None]
    speech_progress: Callable[[float], None]  # seconds of speech so far
    speech_ended: Callable[[], None]
    transcript: Callable[[str, bool], None]  # (text, is_final) — only non-empty text
    segment_transcribed: Callable[[str], None]  # every finished segment, text may be empty
    end_of_turn: Callable[[str, TurnTiming], None]
    error: Callable[[BaseException, str], None]  # (error, source); the session logs and reports it
    usage: Callable[[UsageMetrics], None]
    # every transcript of the turn is in but the turn is not over yet (text so far) / the user goes on
    turn_pending: Callable[[str], None] = lambda _text: None
    turn_resumed: Callable[[], None] = lambda: None
    # the agent whose overridden stt_node hears each segment (None: the STT directly), asked per segment
    stt_node: Callable[[], NodeAgent | None] = lambda: None


class AudioRecognition:
    def __init__(
        self,
        *,
        vad: VAD,
        stt: STT,
        hooks: RecognitionHooks,
        min_endpointing_delay: float,
        max_endpointing_delay: float,
        language: str | None = None,
        streaming: bool = True,
        turn_detector: TurnDetector | None = None,
    ) -> None:
        self._vad = vad
        self._stt = stt
        self._hooks = hooks
        self._min_delay = min_endpointing_delay
        self._max_delay = max_endpointing_delay
        self._language = language
        self._streaming = streaming and stt.capabilities.streaming
        self._loop = asyncio.get_running_loop()
        self._resampler = Resampler(vad.sample_rate)
        self._vad_stream: VADStream = vad.stream()
        self._speaking = False
        self._samples_in = 0  # samples pushed to the VAD so far
        self._frame: AudioFrame | None = None  # the frame being pushed to the VAD, and where it starts
        self._frame_start = 0
        self._segment: StreamedSegment | NodeSegment | None = None  # the open streaming segment
        self._segments: set[StreamedSegment | NodeSegment] = set()  # every segment not closed yet
        self._stt_tasks: set[asyncio.Task[None]] = set()
        self._turn_parts: list[str] = []
        self._speech_end: float | None = None
        self._stt_seconds: float | None = None  # how long the last segment took to transcribe
        self._timer: asyncio.TimerHandle | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._silence_ok = False
        self._captured_at: float | None = None  # arrival time of the latest frame, if its source said
        self._closed = False
        self._interim = ""  # the open streaming segment's text so far
        self._early_pending = False  # turn_pending was told about this pause from the interim text
        self._detector = (
            DetectorTurns(
                turn_detector,
                sample_rate=vad.sample_rate,
                language=language,
                on_complete=self._on_detector_complete,
                on_error=lambda e: hooks.error(e, "turn_detection"),
            )
            if turn_detector is not None
            else None
        )
        self._quiet = asyncio.Event()  # set while not busy
        self._quiet.set()

    @property
    def busy(self) -> bool:
        """True while speech is going on or a turn is still being transcribed or decided."""
        return (
            self._speaking or bool(self._stt_tasks) or (bool(self._turn_parts) and self._deadline is not None)
        )

    async def wait_until_quiet(self) -> None:
        """Wait until nothing is spoken, transcribed or being decided (``busy`` is False)."""
        while self.busy and not self._closed:
            self._quiet.clear()
            await self._quiet.wait()

    def _update_quiet(self) -> None:
        if self.busy:
            self._quiet.clear()
        else:
            self._quiet.set()

    # -- per frame --------------------------------------------------------------------------------
    def push_audio(self, frame: AudioFrame) -> None:
        if self._closed:
            return
        if frame.captured_at is not None:
            self._captured_at = frame.captured_at
        resampled = self._resampler.push(frame)
        if resampled is None:
            return
        self._frame, self._frame_start = resampled, self._samples_in
        self._samples_in += resampled.samples_per_channel
        open_before = self._segment
        detector = self._detector
        if detector is not None:
            detector.audio.push(resampled.data if resampled.num_channels == 1 else resampled.to_mono().data)
        for event in self._vad_stream.push_frame(resampled):
            self._on_vad_event(event)
            if (
                event.type is VADEventType.INFERENCE
                and event.silence_duration >= EARLY_PENDING_SILENCE
                and self._interim
                and not self._early_pending
            ):
                # a streaming STT already has the words: a reply may be prepared before the final
                self._early_pending = True
                self._hooks.turn_pending(" ".join([*self._turn_parts, self._interim]))
            if (
                detector is not None
                and event.type is VADEventType.INFERENCE
                and event.silence_duration >= detector.detector.pause_duration
            ):
                # a pause long enough to ask the detector: end the segment now to get its transcript
                for end in self._vad_stream.flush():
                    self._on_vad_event(end)
                break  # the rest of the events belong to the segment just ended
        self._frame = None
        if open_before is not None and self._segment is open_before:
            open_before.push(resampled)  # the frame the VAD has, not a copy

    def end_input(self) -> None:
        """The input ended: close an open speech segment so its words still count."""
        for event in self._vad_stream.flush():
            self._on_vad_event(event)

    # -- VAD events -------------------------------------------------------------------------------
    def _on_vad_event(self, event: VADEvent) -> None:
        if event.type is VADEventType.INFERENCE:
            self._hooks.speech_progress(event.speech_duration)
        elif event.type is VADEventType.START_OF_SPEECH:
            self._speaking = True
            self._interim = ""
            self._early_pending = False
            self._cancel_timers()
            self._silence_ok = False
            if self._detector is not None:
                self._detector.cancel()
                self._detector.audio.start_turn(sum(f.duration for f in event.frames) + 0.02)
            self._hooks.turn_resumed()
            self._hooks.speech_started()
            self._hooks.speech_progress(event.speech_duration)
            node_agent = self._hooks.stt_node()
            if self._streaming or node_agent is not None:
                self._open_segment(event, node_agent)
            self._update_quiet()
        elif event.type is VADEventType.END_OF_SPEECH:
            self._speaking = False
            self._interim = ""
            # the silence ended with the frame just pushed: count back from when that frame arrived
            # (not from now: audio that queued on a busy worker must not shorten the latency)
            arrived = self._captured_at if self._captured_at is not None else self._loop.time()
            self._speech_end = arrived - event.silence_duration
            self._hooks.speech_ended()
            segment, self._segment = self._segment, None
            if segment is not None:  # (the rest of this frame is silence after the segment)
                segment.end(event.frames)
            elif event.frames:
                self._start_task(self._transcribe(list(event.frames)), "stt-segment")
            self._arm_timers()
            if self._detector is not None:
                self._maybe_end_turn()  # the transcripts may all be in already: ask the detector
            self._update_quiet()

    def _start_task(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = self._loop.create_task(coro, name=name)
        self._stt_tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._stt_tasks.discard(task)
        self._update_quiet()

    # -- streaming --------------------------------------------------------------------------------
    def _open_segment(self, event: VADEvent, node_agent: NodeAgent | None = None) -> None:
        segment = (
            NodeSegment(node_agent, on_interim=self._on_interim, on_error=self._node_error)
            if node_agent is not None
            else StreamedSegment(self._stt, language=self._language, on_interim=self._on_interim)
        )
        self._segment = segment
        self._segments.add(segment)
        self._start_task(self._stream_segment(segment), "stt-stream")
        for frame in event.frames:  # the prefix padding and the speech that started the segment
            segment.push(frame)
        current = self._frame
        if current is None:
            return
        # the rest of the current frame: what follows the audio the START event carried (a VAD
        # that sends no frames with START gets the whole frame)
        offset = 0
        if event.frames:
            end = round((event.timestamp + event.speech_duration) * current.sample_rate)
            offset = min(max(end - self._frame_start, 0), current.samples_per_channel)
        if offset < current.samples_per_channel:
            segment.push(current if offset == 0 else AudioFrame(current.data[offset:], current.sample_rate))

    def _on_interim(self, text: str) -> None:
        if not self._closed:
            self._interim = text
            self._hooks.transcript(text, False)

    def _node_error(self, error: BaseException) -> None:
        if not self._closed:
            self._hooks.error(error, error_source(error, "stt"))

    async def _stream_segment(self, segment: StreamedSegment | NodeSegment) -> None:
        try:
            try:
                text = await segment.result()
                assert segment.ended_at is not None
                now = self._loop.time()
                self._hooks.usage(
                    UsageMetrics(
                        provider=self._stt.label,
                        kind="stt",
                        audio_duration=segment.audio_duration,
                        duration=now - segment.opened_at,
                    )
                )
                # the STT's share of the turn's latency: from the VAD's end of speech to the final
                self._segment_done(text, max(0.0, now - segment.ended_at))
            except StreamFailed as e:
                self._hooks.error(e.__cause__ if e.__cause__ is not None else e, "stt")
                frames = await segment.frames()  # the user's words are in the segment's audio
                await segment.aclose()
                started = self._loop.time()
                text = await self._recognize(list(frames)) if frames else ""
                self._segment_done(text, self._loop.time() - started)
        finally:
            await segment.aclose()
            self._segments.discard(segment)

    # -- transcription ----------------------------------------------------------------------------
    async def _transcribe(self, frames: list[AudioFrame]) -> None:
        started = self._loop.time()
        text = await self._recognize(frames)
        self._segment_done(text, self._loop.time() - started)

    async def _recognize(self, frames: list[AudioFrame]) -> str:
        """Transcribe one segment with ``stt.recognize`` (retried); errors are reported, text is ''."""
        stt = self._stt
        started = self._loop.time()
        try:
            result = await recognize_segment(stt, frames, language=self._language)
        except Exception as e:  # a provider error (or bug) must not end the session; the hook logs it
            self._hooks.error(e, "stt")
            return ""
        self._hooks.usage(
            UsageMetrics(
                provider=stt.label,
                kind="stt",
                audio_duration=sum(f.duration for f in frames),
                duration=self._loop.time() - started,
            )
        )
        return result.text.strip()

    def _segment_done(self, text: str, stt_seconds: float) -> None:
        """A segment's final transcript is in (``text`` may be empty): the turn may end now."""
        self._stt_seconds = stt_seconds
        if text:
            self._turn_parts.append(text)
            self._hooks.transcript(text, True)
        self._hooks.segment_transcribed(text)
        task = asyncio.current_task()
        if task is not None:
            self._stt_tasks.discard(task)
        self._maybe_end_turn()
        self._update_quiet()

    # -- end of turn ------------------------------------------------------------------------------
    def _arm_timers(self) -> None:
        self._cancel_timers()
        assert self._speech_end is not None
        min_delay, max_delay = self._min_delay, self._max_delay
        if self._detector is not None:  # the detector decides; silence alone only after max_pause
            min_delay = self._detector.detector.max_pause
            max_delay = max(max_delay, min_delay)
        self._timer = self._loop.call_at(self._speech_end + min_delay, self._on_silence_long_enough)
        self._deadline = self._loop.call_at(self._speech_end + max_delay, self._on_deadline)

    def _cancel_timers(self) -> None:
        for handle in (self._timer, self._deadline):
            if handle is not None:
                handle.cancel()
        self._timer = self._deadline = None

    def _on_silence_long_enough(self) -> None:
        self._timer = None
        self._silence_ok = True
        self._maybe_end_turn()
        self._update_quiet()

    def _on_deadline(self) -> None:
        self._deadline = None
        self._maybe_end_turn(force=True)
        self._update_quiet()

    def _on_detector_complete(self) -> None:
        self._silence_ok = True
        self._maybe_end_turn()
        self._update_quiet()

    def _maybe_end_turn(self, force: bool = False) -> None:
        if self._closed or self._speaking:
            return
        if self._stt_tasks and not force:
            return  # a transcript is still on its way
        if not self._turn_parts:
            return  # noise, or speech without words: not a turn
        if not self._silence_ok:
            text = " ".join(self._turn_parts)
            self._hooks.turn_pending(text)
            if self._detector is not None:
                self._detector.ask(text)
            return
        self._cancel_timers()
        self._silence_ok = False
        if self._detector is not None:
            self._detector.cancel()
            self._detector.audio.end_turn()
        text = " ".join(self._turn_parts)
        self._turn_parts = []
        timing = TurnTiming(
            speech_end=self._speech_end,
            end_of_turn=self._loop.time(),
            transcription=self._stt_seconds,
        )
        self._hooks.end_of_turn(text, timing)

    def clear_turn(self) -> None:
        """Forget the words gathered so far (e.g. the turn was taken as text input instead)."""
        self._turn_parts = []
        if self._detector is not None:
            self._detector.cancel()
            self._detector.audio.end_turn()
        self._update_quiet()

    async def aclose(self) -> None:
        self._closed = True
        self._cancel_timers()
        if self._detector is not None:
            await self._detector.aclose()
        self._quiet.set()  # nothing more will be decided
        tasks = list(self._stt_tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._segment = None
        for segment in list(self._segments):  # a task cancelled before it ran did not close its own
            await segment.aclose()
        self._segments.clear()
        self._vad_stream.close()
