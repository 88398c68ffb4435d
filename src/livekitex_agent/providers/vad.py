"""Voice activity detection: frames in, speech start/end events out.

A VAD stream is synchronous on purpose: it runs on every input frame, and a function call is
cheaper and easier to reason about than a task switch per frame. Times are audio time (seconds of
audio pushed), not wall time.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from ..media.frame import AudioFrame
from ..validation import check_number
from .base import Provider


class VADEventType(enum.StrEnum):
    """What a :class:`VADEvent` reports."""

    START_OF_SPEECH = "start_of_speech"
    INFERENCE = "inference"  # periodic update while speaking (speech_duration grows)
    END_OF_SPEECH = "end_of_speech"


@dataclass
class VADEvent:
    """A start or end of speech, or a periodic update while speaking, at ``timestamp`` of the audio."""

    type: VADEventType
    timestamp: float  # audio time of the event (seconds since the stream started)
    speech_duration: float = 0.0  # seconds of speech in the current segment so far
    silence_duration: float = 0.0  # seconds of silence since speech ended (END_OF_SPEECH)
    probability: float = 0.0
    # END_OF_SPEECH: the segment's audio. START_OF_SPEECH: the segment's audio so far (prefix padding
    # and the speech that started it, up to ``timestamp + speech_duration``), for streaming STT
    frames: tuple[AudioFrame, ...] = ()


@dataclass(frozen=True)
class VADOptions:
    """Common VAD settings (each implementation documents its defaults)."""

    activation_threshold: float = 0.5  # speech probability at or above which a window counts as speech
    min_speech_duration: float = 0.05  # seconds of speech before a segment starts (filters clicks)
    min_silence_duration: float = 0.55  # seconds of silence that end a segment
    prefix_padding_duration: float = 0.3  # seconds of audio before the detected start kept in the segment
    max_buffered_speech: float = 60.0  # a segment longer than this many seconds is cut

    def __post_init__(self) -> None:
        check_number("activation_threshold", self.activation_threshold, maximum=1.0)
        for name in ("min_speech_duration", "min_silence_duration", "prefix_padding_duration"):
            check_number(name, getattr(self, name))
        check_number("max_buffered_speech", self.max_buffered_speech, exclusive=True)


class VADStream(ABC):
    """Push frames (any length, the VAD's sample rate); get back the events they caused."""

    @abstractmethod
    def push_frame(self, frame: AudioFrame) -> Sequence[VADEvent]: ...

    def flush(self) -> Sequence[VADEvent]:
        """End of input: close an open speech segment (returns its END_OF_SPEECH, if any)."""
        return ()

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release per-stream state."""


class VAD(Provider, ABC):
    """A voice activity detector. ``sample_rate`` is the rate its streams expect."""

    sample_rate: int = 16000

    @abstractmethod
    def stream(self) -> VADStream: ...
