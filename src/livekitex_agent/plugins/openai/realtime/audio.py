"""User audio on its way to the server: resampled once to 24 kHz mono, cut into ~100 ms chunks."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ....media.frame import AudioFrame
from ....media.resample import Resampler
from .protocol import SAMPLE_RATE


class AudioChunker:
    """Collects frames of any rate into fixed chunks of PCM16 bytes (one preallocated buffer)."""

    def __init__(self, chunk_ms: int = 100) -> None:
        if chunk_ms <= 0:
            raise ValueError(f"chunk_ms must be positive, got {chunk_ms!r}")
        self._resampler = Resampler(SAMPLE_RATE)
        self._buf = np.empty(SAMPLE_RATE * chunk_ms // 1000, dtype=np.int16)
        self._fill = 0

    @property
    def pending_ms(self) -> float:
        return self._fill * 1000 / SAMPLE_RATE

    def push(self, frame: AudioFrame) -> Sequence[bytes]:
        """Add a frame; returns the chunks it completed (usually none or one)."""
        out = self._resampler.push(frame)
        if out is None:
            return ()
        data = out.data
        chunks: list[bytes] | None = None
        pos, n, size = 0, data.size, self._buf.size
        while pos < n:
            take = min(size - self._fill, n - pos)
            self._buf[self._fill : self._fill + take] = data[pos : pos + take]
            self._fill += take
            pos += take
            if self._fill == size:
                if chunks is None:
                    chunks = []
                chunks.append(self._buf.tobytes())
                self._fill = 0
        return chunks if chunks is not None else ()

    def flush(self) -> bytes | None:
        """Everything not sent yet (before a commit): the partial chunk and the last few ms the
        resampler still holds; ``None`` if nothing is left."""
        pcm = self._buf[: self._fill].tobytes()
        self._fill = 0
        tail = self._resampler.flush()  # the next push starts a fresh filter
        if tail is not None:
            pcm += tail.data.tobytes()
        return pcm or None

    def clear(self) -> None:
        self._fill = 0
        self._resampler.flush()  # drop what the filter holds too
