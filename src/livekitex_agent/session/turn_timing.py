"""``TurnTiming``: when a user turn ended, as the listener measured it, for the reply's latency metrics."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TurnTiming:
    """Loop-clock times of a user turn, used for the turn's latency metrics."""

    speech_end: float | None = None  # end of user speech (VAD)
    transcription: float | None = None  # seconds the STT took for the last segment
    end_of_turn: float | None = None  # the session decided the user was done
