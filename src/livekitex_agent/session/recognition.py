"""The pipeline's ears: input audio → VAD → per-segment STT → end-of-turn decision.

``push_audio`` runs for every input frame and is synchronous: resample (once), VAD, done.
Transcription runs per VAD segment in owned tasks; the end of the turn is decided when the user
has been silent for ``min_endpointing_delay`` and every segment has its transcript (waiting for a
slow transcript at most until ``max_endpointing_delay``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import ProviderError
from ..media.frame import AudioFrame, combine_frames
from ..media.resample import Resampler, resample
from ..metrics import UsageMetrics
from ..providers.base import with_retries
from ..providers.stt import STT
from ..providers.vad import VAD, VADEvent, VADEventType, VADStream
from .generation import TurnTiming

logger = logging.getLogger("livekitex_agent.session")


@dataclass
class RecognitionHooks:
    """What recognition tells the session."""

    speech_started: Callable[[], None]
    speech_progress: Callable[[float], None]  # seconds of speech so far
    speech_ended: Callable[[], None]
    transcript: Callable[[str, bool], None]  # (text, is_final) — only non-empty text
    segment_transcribed: Callable[[str], None]  # every finished segment, text may be empty
    end_of_turn: Callable[[str, TurnTiming], None]
    error: Callable[[BaseException, str], None]
    usage: Callable[[UsageMetrics], None]


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
    ) -> None:
        self._vad = vad
        self._stt = stt
        self._hooks = hooks
        self._min_delay = min_endpointing_delay
        self._max_delay = max_endpointing_delay
        self._language = language
        self._loop = asyncio.get_running_loop()
        self._resampler = Resampler(vad.sample_rate)
        self._vad_stream: VADStream = vad.stream()
        self._speaking = False
        self._stt_tasks: set[asyncio.Task[None]] = set()
        self._turn_parts: list[str] = []
        self._speech_end: float | None = None
        self._stt_seconds: float | None = None  # how long the last segment took to transcribe
        self._timer: asyncio.TimerHandle | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._silence_ok = False
        self._closed = False

    @property
    def busy(self) -> bool:
        """True while speech is going on or a turn is still being transcribed or decided."""
        return (
            self._speaking or bool(self._stt_tasks) or (bool(self._turn_parts) and self._deadline is not None)
        )

    # -- per frame --------------------------------------------------------------------------------
    def push_audio(self, frame: AudioFrame) -> None:
        if self._closed:
            return
        resampled = self._resampler.push(frame)
        if resampled is None:
            return
        for event in self._vad_stream.push_frame(resampled):
            self._on_vad_event(event)

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
            self._cancel_timers()
            self._silence_ok = False
            self._hooks.speech_started()
            self._hooks.speech_progress(event.speech_duration)
        elif event.type is VADEventType.END_OF_SPEECH:
            self._speaking = False
            # input is paced in real time, so audio-time silence is wall-time silence
            self._speech_end = self._loop.time() - event.silence_duration
            self._hooks.speech_ended()
            if event.frames:
                task = self._loop.create_task(self._transcribe(list(event.frames)), name="stt-segment")
                self._stt_tasks.add(task)
                task.add_done_callback(self._stt_tasks.discard)
            self._arm_timers()

    # -- transcription ----------------------------------------------------------------------------
    async def _transcribe(self, frames: list[AudioFrame]) -> None:
        stt = self._stt
        audio = combine_frames(frames)
        if stt.sample_rate is not None and audio.sample_rate != stt.sample_rate:
            audio = resample(audio, stt.sample_rate)
        started = self._loop.time()
        text = ""
        try:
            result = await with_retries(
                lambda: stt.recognize([audio], language=self._language),
                policy=stt.retry_policy,
                provider=stt.label,
            )
            text = result.text.strip()
            self._hooks.usage(
                UsageMetrics(
                    provider=stt.label,
                    kind="stt",
                    audio_duration=audio.duration,
                    duration=self._loop.time() - started,
                )
            )
        except ProviderError as e:
            self._hooks.error(e, "stt")
        except Exception as e:  # a provider bug must not end the session
            logger.exception("STT %s failed", stt.label)
            self._hooks.error(e, "stt")
        self._stt_seconds = self._loop.time() - started
        if text:
            self._turn_parts.append(text)
            self._hooks.transcript(text, True)
        self._hooks.segment_transcribed(text)
        task = asyncio.current_task()
        if task is not None:
            self._stt_tasks.discard(task)  # this transcript is in: the turn may end now
        self._maybe_end_turn()

    # -- end of turn ------------------------------------------------------------------------------
    def _arm_timers(self) -> None:
        self._cancel_timers()
        assert self._speech_end is not None
        self._timer = self._loop.call_at(self._speech_end + self._min_delay, self._on_silence_long_enough)
        self._deadline = self._loop.call_at(self._speech_end + self._max_delay, self._on_deadline)

    def _cancel_timers(self) -> None:
        for handle in (self._timer, self._deadline):
            if handle is not None:
                handle.cancel()
        self._timer = self._deadline = None

    def _on_silence_long_enough(self) -> None:
        self._timer = None
        self._silence_ok = True
        self._maybe_end_turn()

    def _on_deadline(self) -> None:
        self._deadline = None
        self._maybe_end_turn(force=True)

    def _maybe_end_turn(self, force: bool = False) -> None:
        if self._closed or self._speaking or not self._silence_ok:
            return
        if self._stt_tasks and not force:
            return  # a transcript is still on its way
        if not self._turn_parts:
            return  # noise, or speech without words: not a turn
        self._cancel_timers()
        self._silence_ok = False
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

    async def aclose(self) -> None:
        self._closed = True
        self._cancel_timers()
        tasks = list(self._stt_tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._vad_stream.close()
