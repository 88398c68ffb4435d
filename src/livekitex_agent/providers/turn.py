"""End-of-turn detection: has the user finished speaking, or only paused?

A :class:`TurnDetector` is asked whenever the user has been silent for ``pause_duration``: it gets
the last seconds of the user's audio (16 kHz mono float, up to ``max_audio_seconds``, the pause
included) and the transcript of the turn so far, and returns the probability that the turn is
over. The session ends the turn at once when it is at least ``threshold``; otherwise it waits
for the user to go on, ending the turn anyway after ``max_pause`` of silence.

``predict_end_of_turn`` is a coroutine so that implementations can run models off the event loop.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import numpy.typing as npt

from ..errors import ConfigError
from .base import Provider


class TurnDetector(Provider, ABC):
    """Decides from what was said and how whether a pause ends the user's turn.

    Subclasses call ``super().__init__(...)`` to validate the timing fields.
    """

    sample_rate: int = 16000
    max_audio_seconds: float = 8.0

    def __init__(
        self,
        *,
        threshold: float = 0.5,
        pause_duration: float = 0.2,
        max_pause: float = 2.0,
        transcript_cues: bool = True,
    ) -> None:
        if not 0.0 < threshold < 1.0:
            raise ConfigError(f"{type(self).__name__} threshold must be in (0, 1), got {threshold!r}")
        if not 0.05 <= pause_duration <= 2.0:
            raise ConfigError(
                f"{type(self).__name__} pause_duration must be in [0.05, 2.0] s, got {pause_duration!r}"
            )
        if not max_pause >= pause_duration:
            raise ConfigError(
                f"{type(self).__name__} max_pause ({max_pause!r}) must be >= pause_duration ({pause_duration!r})"
            )
        self.threshold = threshold  # probability at or above which the turn is over
        self.pause_duration = pause_duration  # seconds of silence before the detector is asked
        self.max_pause = max_pause  # seconds of silence after which the turn ends whatever it said
        # also hold the turn when the transcript cannot be the end of a sentence ("a table for")
        self.transcript_cues = transcript_cues

    @abstractmethod
    async def predict_end_of_turn(
        self, audio: npt.NDArray[np.float32], transcript: str, *, language: str | None = None
    ) -> float:
        """The probability (0..1) that the user's turn is over, ``audio`` ending now."""

    def prewarm(self) -> None:  # noqa: B027 - optional hook
        """Load what the detector needs now (blocking), so that the first decision does not wait."""
