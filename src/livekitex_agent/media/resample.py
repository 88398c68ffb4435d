"""Streaming sample-rate conversion (soxr), done once at the edge of the pipeline."""

from __future__ import annotations

import numpy as np
import soxr

from .frame import AudioFrame


class Resampler:
    """Converts a stream of mono or multi-channel frames to ``output_rate`` (and to mono if asked).

    Keeps the filter state between frames, so consecutive frames join without clicks. When the input
    already has the output format, frames pass through untouched (no copy).
    """

    def __init__(self, output_rate: int, *, mono: bool = True, quality: str = "HQ") -> None:
        if output_rate <= 0:
            raise ValueError(f"output_rate must be positive, got {output_rate!r}")
        self.output_rate = output_rate
        self.mono = mono
        self._quality = quality
        self._input_rate: int | None = None
        self._channels = 1
        self._stream: soxr.ResampleStream | None = None

    def push(self, frame: AudioFrame) -> AudioFrame | None:
        """Resample one frame; returns ``None`` while the filter is still filling (first few ms)."""
        if self.mono and frame.num_channels != 1:
            frame = frame.to_mono()
        if frame.sample_rate == self.output_rate:
            return frame
        if (
            self._stream is None
            or self._input_rate != frame.sample_rate
            or self._channels != frame.num_channels
        ):
            self._input_rate = frame.sample_rate
            self._channels = frame.num_channels
            self._stream = soxr.ResampleStream(
                frame.sample_rate, self.output_rate, frame.num_channels, dtype="int16", quality=self._quality
            )
        channels = frame.num_channels
        data = frame.data if channels == 1 else frame.data.reshape(-1, channels)
        out = self._stream.resample_chunk(data)
        if out.size == 0:
            return None
        return AudioFrame(np.ascontiguousarray(out, dtype=np.int16).reshape(-1), self.output_rate, channels)

    def flush(self) -> AudioFrame | None:
        """Return what is left in the filter (call at the end of the stream)."""
        if self._stream is None:
            return None
        channels = self._channels
        out = self._stream.resample_chunk(np.zeros(0, dtype=np.int16), last=True)
        self._stream = None
        if out.size == 0:
            return None
        return AudioFrame(np.ascontiguousarray(out, dtype=np.int16).reshape(-1), self.output_rate, channels)


def resample(frame: AudioFrame, output_rate: int) -> AudioFrame:
    """One-shot conversion of a whole clip (not for streams: use :class:`Resampler`)."""
    if frame.sample_rate == output_rate:
        return frame
    channels = frame.num_channels
    data = frame.data if channels == 1 else frame.data.reshape(-1, channels)
    out = soxr.resample(data, frame.sample_rate, output_rate, quality="HQ")
    return AudioFrame(np.ascontiguousarray(out, dtype=np.int16).reshape(-1), output_rate, channels)
