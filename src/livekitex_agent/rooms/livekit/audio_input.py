"""The linked participant's microphone as an :class:`AudioInput` that survives track changes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator

import numpy as np
from livekit import rtc

from ...media.frame import AudioFrame
from ...media.io import AudioInput
from ...media.resample import Resampler
from ._tasks import TaskOwner

logger = logging.getLogger("livekitex_agent.rooms.livekit")

_STREAM_CLOSE_TIMEOUT = 2.0


class RoomAudioInput(AudioInput):
    """Mono frames at ``sample_rate`` from whichever remote track is attached.

    The room I/O attaches the linked participant's microphone track and detaches it when it is
    unpublished or the participant leaves; iteration then simply waits for the next track, and ends
    only on :meth:`aclose`. The SDK delivers the requested rate itself (it resamples natively),
    in frames of ``frame_duration`` seconds (20 ms: half the per-frame work of the SDK's default
    10 ms, for at most 10 ms more latency); :class:`Resampler` is used only if a frame arrives in
    another format. At most ``max_buffered`` seconds wait for a slow consumer: older audio is
    dropped first.
    """

    def __init__(
        self, *, sample_rate: int = 24000, max_buffered: float = 2.0, frame_duration: float = 0.02
    ) -> None:
        if sample_rate <= 0:
            raise ValueError(f"input sample_rate must be positive, got {sample_rate!r}")
        if not 0.01 <= frame_duration <= 0.1:
            raise ValueError(f"input frame_duration must be between 0.01 and 0.1 s, got {frame_duration!r}")
        self.sample_rate = sample_rate
        self._frame_ms = round(frame_duration * 1000)
        self._max_buffered = max_buffered
        self._frames: deque[AudioFrame] = deque()
        self._buffered = 0.0
        self._ready = asyncio.Event()
        self._closed = False
        self._track_sid: str | None = None
        self._pump: asyncio.Task[None] | None = None
        self._tasks = TaskOwner()
        self._resampler: Resampler | None = None
        self._dropped = 0.0
        self._error: Exception | None = None  # the track's stream failed

    @property
    def track_sid(self) -> str | None:
        """The sid of the track being listened to, if any."""
        return self._track_sid

    @property
    def dropped_duration(self) -> float:
        """Seconds of audio dropped because nobody consumed them in time."""
        return self._dropped

    def attach(self, track: rtc.Track, track_sid: str) -> None:
        """Listen to ``track`` (replacing the current one); a no-op if it is already attached."""
        if self._closed or track_sid == self._track_sid:
            return
        self.detach()
        stream = rtc.AudioStream(
            track, sample_rate=self.sample_rate, num_channels=1, frame_size_ms=self._frame_ms
        )
        self._track_sid = track_sid
        self._error = None  # a new track: recovered, if the old one had failed unnoticed
        self._pump = self._tasks.spawn(self._run(stream), name=f"room-audio-input:{track_sid}")
        logger.debug("audio input attached to track %s", track_sid)

    def detach(self) -> None:
        """Stop listening to the current track (the input keeps waiting for the next one)."""
        if self._pump is not None:
            self._pump.cancel()
            self._pump = None
            logger.debug("audio input detached from track %s", self._track_sid)
        self._track_sid = None

    def __aiter__(self) -> AsyncIterator[AudioFrame]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[AudioFrame]:
        while True:
            while self._frames:
                frame = self._frames.popleft()
                self._buffered -= frame.duration
                yield frame
            if self._error is not None:
                raise self._error
            if self._closed:
                return
            self._ready.clear()
            await self._ready.wait()

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.detach()
        self._ready.set()
        await self._tasks.cancel_all()

    # -- internals ------------------------------------------------------------------------------
    async def _run(self, stream: rtc.AudioStream) -> None:
        bad = 0
        try:
            async for event in stream:
                try:
                    self._push(event.frame)
                    bad = 0
                except Exception as e:  # one odd frame must not end the input
                    bad += 1
                    if bad == 1:
                        logger.warning("skipping an audio frame the input cannot use: %r", e)
        except Exception as e:  # the SDK's stream failed: the session must hear of it, not go deaf
            # reported (once) by whoever reads the input: the session names it and closes
            logger.debug("audio input from track %s failed: %r", self._track_sid, e)
            self._error = e
            self._ready.set()
        finally:
            # the stream's own task ends once the SDK confirms the close; never wait on it forever
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(stream.aclose(), _STREAM_CLOSE_TIMEOUT)

    def _push(self, rframe: rtc.AudioFrame) -> None:
        # a view on the SDK's buffer: no copy
        frame = AudioFrame(
            np.frombuffer(rframe.data, dtype=np.int16), rframe.sample_rate, rframe.num_channels
        )
        if frame.sample_rate != self.sample_rate or frame.num_channels != 1:
            if self._resampler is None:
                logger.info(
                    "room delivers %d Hz/%d ch audio; resampling to %d Hz mono",
                    frame.sample_rate,
                    frame.num_channels,
                    self.sample_rate,
                )
                self._resampler = Resampler(self.sample_rate)
            resampled = self._resampler.push(frame)
            if resampled is None:
                return
            frame = resampled
        frame.captured_at = asyncio.get_running_loop().time()  # arrival: latency counts from here
        self._frames.append(frame)
        self._buffered += frame.duration
        while self._buffered > self._max_buffered and len(self._frames) > 1:
            old = self._frames.popleft()
            self._buffered -= old.duration
            if self._dropped == 0.0:
                logger.warning("audio input consumer is too slow: dropping the oldest audio")
            self._dropped += old.duration
        self._ready.set()
