"""Latency and usage metrics.

Every completed agent turn produces one :class:`TurnMetrics`; provider usage is reported as
:class:`UsageMetrics`. :class:`UsageSummary` aggregates the latter.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Literal


@dataclass
class TurnMetrics:
    """Latencies of one agent turn, in seconds (``None`` when a stage did not run).

    - ``end_of_utterance_delay``: end of user speech → end-of-turn decision
    - ``transcription_delay``: STT latency: the speech segment handed to the STT → its final transcript
      (the VAD's closing silence is part of ``end_of_utterance_delay``, not of this)
    - ``llm_ttft``: LLM request sent → first token
    - ``tts_ttfb``: first text sent to TTS → first audio byte
    - ``framework_delay``: end-of-turn decision → first agent audio frame written, minus provider time
    - ``e2e_latency``: end of user speech → first agent audio frame written
    - ``input_lag``: the longest any user audio waited between arriving (the room input's capture
      time) and being processed, since the previous turn (None: the input does not say when audio
      arrived); an overloaded worker shows here first
    - ``input_dropped``: seconds of user audio the input dropped since the previous turn (too slow)
    """

    speech_id: str
    engine: Literal["pipeline", "realtime"] = "pipeline"
    end_of_utterance_delay: float | None = None
    transcription_delay: float | None = None
    llm_ttft: float | None = None
    tts_ttfb: float | None = None
    framework_delay: float | None = None
    e2e_latency: float | None = None
    tool_steps: int = 0
    interrupted: bool = False
    input_lag: float | None = None
    input_dropped: float = 0.0
    type: Literal["turn_metrics"] = "turn_metrics"
    timestamp: float = field(default_factory=time.time)


@dataclass
class UsageMetrics:
    """Provider usage for one request."""

    provider: str
    kind: Literal["stt", "llm", "tts", "realtime", "vad"]
    input_tokens: int = 0
    output_tokens: int = 0
    audio_duration: float = 0.0  # seconds of audio consumed (STT) or produced (TTS)
    characters: int = 0  # characters synthesized (TTS)
    duration: float = 0.0  # wall time the request took
    type: Literal["usage_metrics"] = "usage_metrics"
    timestamp: float = field(default_factory=time.time)


AgentMetrics = TurnMetrics | UsageMetrics


@dataclass
class UsageSummary:
    """Running totals of usage over a session."""

    llm_input_tokens: int = 0
    llm_output_tokens: int = 0
    stt_audio_seconds: float = 0.0
    tts_characters: int = 0
    tts_audio_seconds: float = 0.0

    def add(self, usage: UsageMetrics) -> None:
        if usage.kind in ("llm", "realtime"):
            self.llm_input_tokens += usage.input_tokens
            self.llm_output_tokens += usage.output_tokens
        if usage.kind == "stt":
            self.stt_audio_seconds += usage.audio_duration
        if usage.kind == "tts":
            self.tts_characters += usage.characters
            self.tts_audio_seconds += usage.audio_duration


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (``q`` in 0..100) of a non-empty list."""
    if not values:
        raise ValueError("percentile of an empty list")
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)
