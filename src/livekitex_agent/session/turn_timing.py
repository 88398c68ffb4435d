"""When a user turn ended (``TurnTiming``, measured by the listener) and when its reply's stages began
(``ReplyTiming``): the two halves of a turn's latency metrics."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TurnTiming:
    """Loop-clock times of a user turn, used for the turn's latency metrics."""

    speech_end: float | None = None  # end of user speech (VAD)
    transcription: float | None = None  # seconds the STT took for the last segment
    end_of_turn: float | None = None  # the session decided the user was done


@dataclass
class ReplyTiming:
    """Loop-clock times of a pipeline reply's stages (None until reached), for the turn's metrics."""

    llm_request: float | None = None
    llm_first_chunk: float | None = None
    first_sentence: float | None = None
    tts_request: float | None = None
    tts_first_frame: float | None = None
    playback_start: float | None = None
