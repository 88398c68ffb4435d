"""The user's microphone (a PortAudio input device) as an :class:`AudioInput`.

PortAudio calls us on its own thread with each captured block. That callback only copies the
block into a pre-allocated ring of samples and, when the event loop is not already due to look,
schedules one wake-up with ``call_soon_threadsafe``; it never blocks and never touches asyncio
objects. The event loop cuts the ring into ``frame_duration`` frames (one array per frame, which
the session may keep). Audio comes at the device's rate (or the one asked for): the session
resamples it once to what its VAD and STT want.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from ..media.frame import AudioFrame
from ..media.io import AudioInput
from .audio_device import StreamSettings, check_settings, close_stream, find_device, open_stream

logger = logging.getLogger("livekitex_agent.rooms.audio")


class SampleRing:
    """A single-producer, single-consumer ring of int16 samples; the producer never waits.

    ``written`` counts every sample ever written; a reader remembers its own count. When the reader
    falls more than the capacity behind, the oldest samples are gone (:meth:`read` says so).
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._buf = np.zeros(capacity, dtype=np.int16)
        self.written = 0

    def write(self, data: npt.NDArray[np.int16]) -> None:
        n = data.shape[0]
        cap = self.capacity
        if n > cap:
            self.written += n - cap
            data, n = data[n - cap :], cap
        pos = self.written % cap
        first = min(n, cap - pos)
        self._buf[pos : pos + first] = data[:first]
        if first < n:
            self._buf[: n - first] = data[first:]
        self.written += n  # published last: the samples are in place before a reader can see them

    def read(self, start: int, out: npt.NDArray[np.int16], *, margin: int = 0) -> bool:
        """Copy samples ``start .. start+len(out)`` into ``out``; False if they were overwritten.

        ``margin`` is how far the producer may write past ``written`` while we copy (one block).
        """
        n, cap = out.shape[0], self.capacity
        if self.written + margin - start > cap:
            return False
        pos = start % cap
        first = min(n, cap - pos)
        out[:first] = self._buf[pos : pos + first]
        if first < n:
            out[first:] = self._buf[: n - first]
        return self.written + margin - start <= cap  # still intact once copied


class MicrophoneInput(AudioInput):
    """Mono int16 frames from an input device, ``frame_duration`` seconds each.

    ``device`` is an index, a name part or None (the default input). ``mute`` is asked before each
    frame: while it returns True the frame is replaced by silence (the echo guard of the console,
    which mutes the microphone while the agent's voice comes out of the speakers). Audio the session
    does not take within ``max_buffered`` seconds is dropped, oldest first (``dropped_duration``).
    The device is opened when iteration starts and closed when it ends or on :meth:`aclose`.
    ``latency`` is PortAudio's suggested latency (seconds, or ``"low"``/``"high"``).
    """

    def __init__(
        self,
        device: str | int | None = None,
        *,
        sample_rate: int | None = None,
        frame_duration: float = 0.02,
        max_buffered: float = 2.0,
        latency: str | float = 0.1,
        mute: Callable[[], bool] | None = None,
    ) -> None:
        if not 0.005 <= frame_duration <= 0.1:
            raise ValueError(f"frame_duration must be between 0.005 and 0.1 s, got {frame_duration!r}")
        self.device = find_device(device, "input")
        self.sample_rate, self._channels = check_settings(self.device, "input", sample_rate=sample_rate)
        self.frame_duration = frame_duration
        self.mute = mute
        self._latency = latency
        self._n = max(1, round(self.sample_rate * frame_duration))
        self._ring = SampleRing(max(8 * self._n, round(max_buffered * self.sample_rate)))
        self._silence = AudioFrame(np.zeros(self._n, dtype=np.int16), self.sample_rate)
        self._ready = asyncio.Event()
        self._wake_pending = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stream: Any = None
        self._closed = False
        self._iterating = False
        self._dropped = 0
        self.muted_frames = 0  # frames replaced by silence because ``mute`` said so
        self.overflows = 0  # blocks PortAudio reported as lost before they reached us

    @property
    def dropped_duration(self) -> float:
        """Seconds of audio dropped because nobody consumed them in time."""
        return self._dropped / self.sample_rate

    def __aiter__(self) -> AsyncIterator[AudioFrame]:
        if self._iterating:
            raise RuntimeError("a MicrophoneInput can be iterated only once at a time")
        return self._frames()

    async def _frames(self) -> AsyncIterator[AudioFrame]:
        if self._closed:
            return
        self._iterating = True
        self._loop = asyncio.get_running_loop()
        n, ring = self._n, self._ring
        try:
            self._open()
            read = ring.written
            while not self._closed:
                available = ring.written - read
                if available < n:
                    self._ready.clear()
                    await self._ready.wait()
                    continue
                if available > ring.capacity - 2 * n:  # the session fell behind: keep the newest frame
                    skip = available - n
                    self._dropped += skip
                    read += skip
                    logger.warning("microphone: dropped %.2f s of audio nobody read", skip / self.sample_rate)
                if self.mute is not None and self.mute():
                    read += n
                    self.muted_frames += 1
                    yield self._silence
                    continue
                out = np.empty(n, dtype=np.int16)
                if not ring.read(read, out, margin=n):
                    continue  # overwritten while we copied: the check above skips ahead
                read += n
                yield AudioFrame(out, self.sample_rate)
        finally:
            self._iterating = False
            self._close_stream()

    # -- PortAudio side (its own thread) --------------------------------------------------------
    def _callback(self, indata: Any, frames: int, time_info: Any, status: Any) -> None:
        if status.input_overflow:
            self.overflows += 1
        self._ring.write(indata[:, 0])
        if not self._wake_pending and self._loop is not None:
            self._wake_pending = True
            try:
                self._loop.call_soon_threadsafe(self._wake)
            except RuntimeError:  # the loop is closed: nobody is listening any more
                pass

    def _wake(self) -> None:
        self._wake_pending = False
        self._ready.set()

    # -- stream lifecycle -----------------------------------------------------------------------
    def _open(self) -> None:
        settings = StreamSettings(
            self.device, "input", self.sample_rate, self._channels, self._n, self._latency
        )
        self._stream = open_stream(settings, self._callback)

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            close_stream(stream, "input")

    async def aclose(self) -> None:
        self._closed = True
        self._ready.set()
        self._close_stream()
