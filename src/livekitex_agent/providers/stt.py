"""Speech to text: per-segment recognition, and optional streaming recognition."""

from __future__ import annotations

import asyncio
import enum
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from ..media.frame import AudioFrame, combine_frames
from ..media.resample import resample
from .base import Provider, with_retries


class SpeechEventType(enum.StrEnum):
    """What a :class:`SpeechEvent` reports."""

    START_OF_SPEECH = "start_of_speech"
    INTERIM_TRANSCRIPT = "interim_transcript"
    FINAL_TRANSCRIPT = "final_transcript"
    END_OF_SPEECH = "end_of_speech"


@dataclass
class SpeechAlternative:
    """One hypothesis of what was said, with its language, confidence and timing."""

    text: str
    language: str | None = None
    confidence: float = 1.0
    start_time: float = 0.0
    end_time: float = 0.0


@dataclass
class SpeechEvent:
    """A recognition result (interim or final transcript) or a start/end of speech."""

    type: SpeechEventType
    alternatives: list[SpeechAlternative] = field(default_factory=list)
    audio_duration: float = 0.0  # seconds of audio behind this result

    @property
    def text(self) -> str:
        return self.alternatives[0].text if self.alternatives else ""

    @property
    def language(self) -> str | None:
        return self.alternatives[0].language if self.alternatives else None


@dataclass(frozen=True)
class STTCapabilities:
    """What an STT supports: ``streaming`` (``stream()``) and ``interim_results`` while the user speaks."""

    streaming: bool = False
    interim_results: bool = False


class STTStream(ABC):
    """A streaming recognition: push frames, read events; ``end_input`` when the audio is over."""

    @abstractmethod
    def push_frame(self, frame: AudioFrame) -> None: ...

    @abstractmethod
    def end_input(self) -> None: ...

    @abstractmethod
    def __aiter__(self) -> AsyncIterator[SpeechEvent]: ...

    @abstractmethod
    async def aclose(self) -> None: ...


EventQueue = asyncio.Queue[SpeechEvent | BaseException | None]


async def iterate_events(queue: EventQueue) -> AsyncIterator[SpeechEvent]:
    """A stream's events as its reader sees them: what is put in ``queue`` until ``None``; an
    exception put in it is raised (for streams whose producer is a task, a thread or callbacks)."""
    while True:
        item = await queue.get()
        if item is None:
            return
        if isinstance(item, BaseException):
            raise item
        yield item


class STT(Provider, ABC):
    """A speech recognizer.

    ``recognize`` transcribes one speech segment (what the pipeline calls after the VAD closes a
    segment). Providers with ``capabilities.streaming`` also implement ``stream``.
    """

    capabilities: STTCapabilities = STTCapabilities()
    sample_rate: int | None = 16000  # the rate it wants; None accepts any

    @abstractmethod
    async def recognize(self, frames: Sequence[AudioFrame], *, language: str | None = None) -> SpeechEvent:
        """Transcribe ``frames`` (one segment); returns a FINAL_TRANSCRIPT event (text may be empty)."""

    def stream(self, *, language: str | None = None) -> STTStream:
        raise NotImplementedError(f"{self.label} does not support streaming recognition")


async def recognize_segment(stt: STT, frames: Sequence[AudioFrame], *, language: str | None) -> SpeechEvent:
    """One speech segment transcribed at once: its frames joined, resampled to the STT's rate,
    and ``stt.recognize`` retried by its ``retry_policy`` (the per-segment path of the pipeline)."""
    audio = combine_frames(frames)
    if stt.sample_rate is not None and audio.sample_rate != stt.sample_rate:
        audio = resample(audio, stt.sample_rate)
    return await with_retries(
        lambda: stt.recognize([audio], language=language), policy=stt.retry_policy, provider=stt.label
    )
