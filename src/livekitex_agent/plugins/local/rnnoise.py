"""RNNoise noise suppression as an audio input filter (offline: the model is compiled into the library).

The ``pyrnnoise`` wheel ships ``librnnoise`` with its weights built in; we load that library with
ctypes and call it directly (``pip install livekitex-agent[noise]``), without importing the
package's own front end (which pulls in audio file and plotting libraries). RNNoise works on
10 ms blocks of 48 kHz mono audio: other rates are resampled to 48 kHz on the way in and the
filter's output stays at 48 kHz (the session resamples once more, to the VAD's rate).
"""

from __future__ import annotations

import ctypes
import importlib.util
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ...media.frame import AudioFrame
from ...media.resample import Resampler

SAMPLE_RATE = 48000
INSTALL_HINT = "pip install 'livekitex-agent[noise]'"
_LIBRARY_NAMES = {"linux": "librnnoise.so", "darwin": "librnnoise.dylib", "win32": "rnnoise.dll"}
_library: Any = None


def _load_library() -> Any:
    global _library
    if _library is not None:
        return _library
    spec = importlib.util.find_spec("pyrnnoise")
    name = _LIBRARY_NAMES.get(sys.platform, "librnnoise.so")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    path = next((Path(p) / name for p in locations if (Path(p) / name).exists()), None)
    if path is None:
        raise ImportError(
            f"RNNoiseFilter needs the 'pyrnnoise' package (its {name}), which is not installed: "
            f"run `{INSTALL_HINT}` (or `pip install pyrnnoise`)"
        )
    lib = ctypes.CDLL(str(path))
    lib.rnnoise_create.argtypes = [ctypes.c_void_p]
    lib.rnnoise_create.restype = ctypes.c_void_p
    lib.rnnoise_destroy.argtypes = [ctypes.c_void_p]
    lib.rnnoise_destroy.restype = None
    lib.rnnoise_get_frame_size.restype = ctypes.c_int
    lib.rnnoise_process_frame.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    lib.rnnoise_process_frame.restype = ctypes.c_float
    _library = lib
    return lib


class RNNoiseFilter:
    """Suppresses steady and babble noise in the user's audio before the VAD and STT hear it.

    ``AgentSession(audio_filters=[local.RNNoiseFilter()])``. Mono; a stereo input is mixed down.
    ``speech_probability`` is RNNoise's own voice-activity estimate for the last 10 ms block.
    Adds up to 10 ms of latency (audio waits for a whole block).
    """

    sample_rate = SAMPLE_RATE

    def __init__(self) -> None:
        self._lib = _load_library()
        self._block = int(self._lib.rnnoise_get_frame_size())
        self._state: int | None = self._lib.rnnoise_create(None)
        if not self._state:
            raise RuntimeError("rnnoise_create failed")
        self._resampler: Resampler | None = None
        self._input_rate: int | None = None
        self._pending = np.zeros(self._block, dtype=np.float32)  # a partial block, at most block - 1
        self._held = 0
        self._work = np.zeros(self._block * 8, dtype=np.float32)
        self.speech_probability = 0.0

    def process(self, frame: AudioFrame) -> AudioFrame | None:
        if self._state is None:
            raise RuntimeError("RNNoiseFilter is closed")
        if frame.num_channels != 1:
            frame = frame.to_mono()
        if frame.sample_rate != SAMPLE_RATE:
            if self._resampler is None or frame.sample_rate != self._input_rate:
                self._resampler, self._input_rate = Resampler(SAMPLE_RATE), frame.sample_rate
            resampled = self._resampler.push(frame)
            if resampled is None:
                return None
            frame = resampled
        return self._denoise(frame.data)

    def flush(self) -> AudioFrame | None:
        tail = self._resampler.flush() if self._resampler is not None else None
        out = self._denoise(tail.data) if tail is not None else None
        if self._held == 0 or self._state is None:
            return out
        # the last partial block, padded with silence and cut back to its length
        held = self._held
        self._pending[held:] = 0.0
        last = self._run_blocks(self._pending[: self._block], 1)[:held]
        self._held = 0
        if out is None:
            return AudioFrame(last, SAMPLE_RATE)
        return AudioFrame(np.concatenate([out.data, last]), SAMPLE_RATE)

    def close(self) -> None:
        if self._state is not None:
            self._lib.rnnoise_destroy(self._state)
            self._state = None

    def _denoise(self, samples: np.ndarray) -> AudioFrame | None:
        total = self._held + samples.size
        blocks = total // self._block
        if self._work.size < total:
            self._work = np.zeros(total, dtype=np.float32)
        work = self._work
        work[: self._held] = self._pending[: self._held]
        work[self._held : total] = samples  # int16 → float32 at int16 scale, as RNNoise expects
        self._held = total - blocks * self._block
        self._pending[: self._held] = work[blocks * self._block : total]
        if blocks == 0:
            return None
        return AudioFrame(self._run_blocks(work, blocks), SAMPLE_RATE)

    def _run_blocks(self, work: np.ndarray, blocks: int) -> np.ndarray:
        n = self._block
        base = work.ctypes.data
        step = n * work.itemsize
        process, state = self._lib.rnnoise_process_frame, self._state
        for i in range(blocks):
            ptr = base + i * step
            self.speech_probability = process(state, ptr, ptr)  # in place
        out = work[: blocks * n]
        np.clip(out, -32768.0, 32767.0, out=out)
        return out.astype(np.int16)  # the one allocation per frame: frames are shared, not reused

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass
