"""A scripted :class:`TurnDetector` for tests: the end-of-turn probability comes from the transcript."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..providers.turn import TurnDetector


@dataclass
class TurnQuestion:
    transcript: str
    audio_seconds: float  # how much of the turn's audio the detector was given


class FakeTurnDetector(TurnDetector):
    """Answers ``decide(transcript)`` (or a fixed probability) after ``delay`` seconds.

    A :class:`BaseException` returned by ``decide`` is raised instead. Every question is kept in
    ``questions``.
    """

    def __init__(
        self,
        decide: float | Callable[[str], float | BaseException] = 1.0,
        *,
        delay: float = 0.0,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self._decide = decide
        self.delay = delay
        self.questions: list[TurnQuestion] = []

    async def predict_end_of_turn(
        self, audio: npt.NDArray[np.float32], transcript: str, *, language: str | None = None
    ) -> float:
        self.questions.append(TurnQuestion(transcript, audio.size / self.sample_rate))
        if self.delay:
            await asyncio.sleep(self.delay)
        answer = self._decide(transcript) if callable(self._decide) else self._decide
        if isinstance(answer, BaseException):
            raise answer
        return answer
