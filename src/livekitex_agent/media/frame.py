"""Audio frames: 16-bit PCM samples in a numpy array plus their format."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

Int16Array = npt.NDArray[np.int16]


class AudioFrame:
    """A chunk of interleaved 16-bit PCM audio.

    ``data`` is a 1-D ``int16`` array of ``samples_per_channel * num_channels`` values.
    Frames are treated as immutable once created; share them freely. ``captured_at`` is the
    event-loop time (``loop.time()``) at which the frame's last sample arrived from its source, when
    the source knows (the room input does): latency is measured from it, so audio that waited in a
    queue counts as waiting.
    """

    __slots__ = ("data", "sample_rate", "num_channels", "captured_at")

    def __init__(
        self, data: Int16Array, sample_rate: int, num_channels: int = 1, *, captured_at: float | None = None
    ) -> None:
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {sample_rate!r}")
        if num_channels <= 0:
            raise ValueError(f"num_channels must be positive, got {num_channels!r}")
        if data.dtype != np.int16:
            raise TypeError(f"audio data must be int16, got {data.dtype}")
        if data.ndim != 1:
            data = data.reshape(-1)
        if data.size % num_channels:
            raise ValueError(f"{data.size} samples do not divide into {num_channels} channels")
        self.data = data
        self.sample_rate = sample_rate
        self.num_channels = num_channels
        self.captured_at = captured_at

    @classmethod
    def from_bytes(
        cls, pcm: bytes | bytearray | memoryview, sample_rate: int, num_channels: int = 1
    ) -> AudioFrame:
        if len(pcm) % 2:
            raise ValueError(f"PCM16 data must have an even number of bytes, got {len(pcm)}")
        return cls(np.frombuffer(pcm, dtype="<i2").astype(np.int16, copy=False), sample_rate, num_channels)

    @classmethod
    def silence(cls, duration: float, sample_rate: int, num_channels: int = 1) -> AudioFrame:
        n = round(duration * sample_rate)
        return cls(np.zeros(n * num_channels, dtype=np.int16), sample_rate, num_channels)

    @classmethod
    def from_float(cls, samples: npt.NDArray[np.floating], sample_rate: int) -> AudioFrame:
        """Build a mono frame from float samples in [-1, 1] (values outside are clipped)."""
        clipped = np.clip(samples, -1.0, 1.0) * 32767.0
        return cls(clipped.astype(np.int16), sample_rate, 1)

    @property
    def samples_per_channel(self) -> int:
        return self.data.size // self.num_channels

    @property
    def duration(self) -> float:
        return self.samples_per_channel / self.sample_rate

    def to_bytes(self) -> bytes:
        return self.data.astype("<i2", copy=False).tobytes()

    def to_mono(self) -> AudioFrame:
        if self.num_channels == 1:
            return self
        mixed = self.data.reshape(-1, self.num_channels).mean(axis=1)
        return AudioFrame(mixed.astype(np.int16), self.sample_rate, 1)

    def slice(self, start: float, end: float | None = None) -> AudioFrame:
        """The part between ``start`` and ``end`` seconds (a view, no copy)."""
        a = max(0, round(start * self.sample_rate)) * self.num_channels
        b = (
            self.data.size
            if end is None
            else min(self.data.size, round(end * self.sample_rate) * self.num_channels)
        )
        return AudioFrame(self.data[a:b], self.sample_rate, self.num_channels)

    def rms_dbfs(self) -> float:
        """Root-mean-square level in dBFS (-inf for digital silence)."""
        if self.data.size == 0:
            return float("-inf")
        x = self.data.astype(np.float32)
        rms = float(np.sqrt(np.mean(x * x)))
        return 20.0 * float(np.log10(rms / 32768.0)) if rms > 0 else float("-inf")

    def __repr__(self) -> str:
        return (
            f"AudioFrame(duration={self.duration * 1000:.1f}ms, sample_rate={self.sample_rate}, "
            f"num_channels={self.num_channels})"
        )


def combine_frames(frames: Sequence[AudioFrame] | Iterable[AudioFrame]) -> AudioFrame:
    """Concatenate frames of one format into one frame."""
    frames = list(frames)
    if not frames:
        raise ValueError("combine_frames needs at least one frame")
    rate, channels = frames[0].sample_rate, frames[0].num_channels
    for f in frames:
        if f.sample_rate != rate or f.num_channels != channels:
            raise ValueError(
                f"cannot combine frames of {f.sample_rate} Hz/{f.num_channels} ch with {rate} Hz/{channels} ch"
            )
    return AudioFrame(np.concatenate([f.data for f in frames]), rate, channels)
