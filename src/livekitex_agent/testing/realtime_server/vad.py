"""A simple energy VAD standing in for the server's turn detection (10 ms windows of 24 kHz PCM16)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

WINDOW_SAMPLES = 240  # 10 ms at 24 kHz
WINDOW_MS = 10
_EAGERNESS_SILENCE_MS = {"low": 1000, "medium": 500, "auto": 500, "high": 250}


@dataclass
class VADChange:
    kind: Literal["started", "stopped"]
    ms: int  # audio_start_ms (with prefix padding) or audio_end_ms, since the session's first audio


class EnergyVAD:
    """Speech = a window whose RMS reaches the threshold; the turn ends after enough silence.

    ``threshold`` (0..1, like the API's) maps to -60..-10 dBFS; 0.5 is -35 dBFS.
    """

    def __init__(self) -> None:
        self._pending = np.zeros(0, dtype=np.int16)
        self._position_ms = 0
        self.speaking = False
        self._last_speech_end_ms = 0
        self.configure({})

    def configure(self, turn_detection: dict[str, object]) -> None:
        threshold = turn_detection.get("threshold")
        self.threshold = float(threshold) if isinstance(threshold, (int, float)) else 0.5
        padding = turn_detection.get("prefix_padding_ms")
        self.prefix_padding_ms = int(padding) if isinstance(padding, int) else 300
        if turn_detection.get("type") == "semantic_vad":
            self.silence_ms = _EAGERNESS_SILENCE_MS.get(str(turn_detection.get("eagerness") or "auto"), 500)
        else:
            silence = turn_detection.get("silence_duration_ms")
            self.silence_ms = int(silence) if isinstance(silence, int) else 500
        self._rms_threshold = 32768.0 * 10 ** ((-60.0 + 50.0 * self.threshold) / 20.0)

    @property
    def position_ms(self) -> int:
        return self._position_ms

    def push(self, pcm: np.ndarray) -> list[VADChange]:
        """Feed samples; returns the speech start/stop changes they caused, in order."""
        data = np.concatenate([self._pending, pcm]) if self._pending.size else pcm
        changes: list[VADChange] = []
        n_windows = data.size // WINDOW_SAMPLES
        windows = data[: n_windows * WINDOW_SAMPLES].reshape(n_windows, WINDOW_SAMPLES).astype(np.float32)
        levels = np.sqrt(np.mean(windows * windows, axis=1))  # every window's RMS at once
        for loud in (levels >= self._rms_threshold).tolist():
            start = self._position_ms
            self._position_ms += WINDOW_MS
            if loud:
                self._last_speech_end_ms = self._position_ms
                if not self.speaking:
                    self.speaking = True
                    changes.append(VADChange("started", max(0, start - self.prefix_padding_ms)))
            elif self.speaking and self._position_ms - self._last_speech_end_ms >= self.silence_ms:
                self.speaking = False
                changes.append(VADChange("stopped", self._last_speech_end_ms))
        self._pending = data[n_windows * WINDOW_SAMPLES :].copy()
        return changes

    def reset_speech(self) -> None:
        self.speaking = False
