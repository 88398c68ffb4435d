"""WebRTC VAD (the Gaussian-mixture detector from WebRTC) through ``webrtcvad-wheels``."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from ...errors import ConfigError
from ...media.frame import AudioFrame
from ...providers.segmenter import SpeechSegmenter, WindowBuffer
from ...providers.vad import VAD, VADEvent, VADOptions, VADStream
from ._deps import require
from ._gate import LevelGate

logger = logging.getLogger("livekitex_agent.plugins.local")

SUPPORTED_RATES = (8000, 16000, 32000, 48000)
SUPPORTED_WINDOWS = (0.01, 0.02, 0.03)


class WebRTCVAD(VAD):
    """Voice activity detection with the WebRTC VAD (10/20/30 ms windows; 8, 16, 32 or 48 kHz).

    ``aggressiveness`` 0-3: higher rejects more non-speech (and some quiet speech). Each window is
    a yes/no decision (probability 1.0 or 0.0), so ``min_speech_duration`` is what filters clicks
    (and the short false start WebRTC gives on steady noise while it adapts). Windows below
    ``min_level_dbfs``, or 30 dB under the open segment's speech, count as silence (``LevelGate``),
    which also cuts WebRTC's ~100 ms hangover at the end of speech.
    Measured cost: ~0.4 ms of CPU per second of audio with segmentation (``bench/local_providers.py``),
    15 times cheaper than Silero.

    Limits: it reacts to any voiced-like energy (music, some noise) more readily than Silero,
    and it does not adapt to the level of the speaker; prefer Silero when accuracy matters.

    - ``window_duration``: seconds per decision: 0.01, 0.02 or 0.03.
    """

    def __init__(
        self,
        *,
        sample_rate: int = 16000,
        aggressiveness: int = 2,
        window_duration: float = 0.03,
        min_speech_duration: float = 0.1,
        min_silence_duration: float = 0.55,
        prefix_padding_duration: float = 0.5,
        max_buffered_speech: float = 60.0,
        min_level_dbfs: float = -60.0,
    ) -> None:
        self._lib: Any = require("webrtcvad", "webrtcvad-wheels", "WebRTCVAD")
        if sample_rate not in SUPPORTED_RATES:
            raise ConfigError(f"WebRTCVAD sample_rate must be one of {SUPPORTED_RATES}, got {sample_rate!r}")
        if aggressiveness not in (0, 1, 2, 3):
            raise ConfigError(f"WebRTCVAD aggressiveness must be 0, 1, 2 or 3, got {aggressiveness!r}")
        if not any(abs(window_duration - w) < 1e-9 for w in SUPPORTED_WINDOWS):
            raise ConfigError(
                f"WebRTCVAD window_duration must be 0.01, 0.02 or 0.03 s, got {window_duration!r}"
            )
        self.sample_rate = sample_rate
        self.aggressiveness = aggressiveness
        self.window_size = round(sample_rate * window_duration)
        self.min_level_dbfs = min_level_dbfs
        try:
            self.options = VADOptions(
                activation_threshold=0.5,
                min_speech_duration=min_speech_duration,
                min_silence_duration=min_silence_duration,
                prefix_padding_duration=prefix_padding_duration,
                max_buffered_speech=max_buffered_speech,
            )
        except ValueError as e:
            raise ConfigError(f"WebRTCVAD: {e}") from e

    def stream(self) -> VADStream:
        return _WebRTCStream(self, self._lib.Vad(self.aggressiveness))


class _WebRTCStream(VADStream):
    def __init__(self, vad: WebRTCVAD, detector: Any) -> None:
        self._rate = vad.sample_rate
        self._size = vad.window_size
        self._detector: Any = detector
        self._windows = WindowBuffer(vad.window_size, vad.sample_rate)
        self._segmenter = SpeechSegmenter(vad.options)
        self._gate = LevelGate(floor_dbfs=vad.min_level_dbfs)
        self._scratch = np.zeros(vad.window_size, dtype=np.float32)

    def push_frame(self, frame: AudioFrame) -> Sequence[VADEvent]:
        detector = self._detector
        if detector is None:
            raise RuntimeError("this WebRTCVAD stream is closed")
        events: list[VADEvent] = []
        for window in self._windows.push(frame):
            data = window.data if window.data.flags.c_contiguous else np.ascontiguousarray(window.data)
            speech = detector.is_speech(data.data.cast("B"), self._rate, self._size)
            np.multiply(data, 1.0 / 32768.0, out=self._scratch, casting="unsafe")
            seg = self._segmenter
            probability = self._gate.apply(self._scratch, 1.0 if speech else 0.0, 0.5, seg.speaking)
            events.extend(seg.process(window, probability))
        return events

    def flush(self) -> Sequence[VADEvent]:
        return self._segmenter.flush()

    def close(self) -> None:
        self._detector = None
