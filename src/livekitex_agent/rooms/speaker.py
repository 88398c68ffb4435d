"""The agent's voice on a speaker (a PortAudio output device), as an :class:`AudioOutput`.

The device's own clock paces playout: frames queue in a deque and PortAudio's callback (on its
thread) takes what each block needs, writing silence when there is nothing to play. So playout
never stutters when the event loop is busy, and :attr:`SpeakerOutput.position` counts what the
device really played (less its output latency), which is what an interrupted reply is cut to.
Segments, ``pause``/``resume``/``clear_buffer`` and ``wait_for_playout`` behave as in
:class:`~livekitex_agent.media.io.PacedAudioOutput`; they take effect at the next block.

Threading: the loop thread appends ``(epoch, samples)`` and bumps ``epoch`` on a new segment or
a clear; the callback drops whatever belongs to an older epoch. Plain attribute reads/writes and
deque appends/pops are atomic in CPython, so neither side ever waits for the other.
"""

from __future__ import annotations

import asyncio
import collections
import time
from typing import Any

import numpy as np
import numpy.typing as npt

from ..media.frame import AudioFrame
from ..media.io import AudioOutput, PlaybackFinished
from .audio_device import StreamSettings, check_settings, close_stream, find_device, open_stream


class SpeakerOutput(AudioOutput):
    """Plays segments on an output device: ``device`` is an index, a name part or None (the default).

    The output rate is the device's own (or ``sample_rate``); the session resamples the TTS to it
    once. At most ``max_buffer`` seconds wait to be played; ``capture_frame`` waits beyond that.
    ``latency`` is PortAudio's suggested latency (seconds, or ``"low"``/``"high"``): 0.1 s keeps a busy
    machine from running the device dry; less makes a barge-in stop the voice sooner.
    """

    sample_rate: int

    def __init__(
        self,
        device: str | int | None = None,
        *,
        sample_rate: int | None = None,
        block_duration: float = 0.02,
        latency: str | float = 0.1,
        max_buffer: float = 30.0,
    ) -> None:
        super().__init__()
        self.device = find_device(device, "output")
        rate, self._channels = check_settings(self.device, "output", sample_rate=sample_rate)
        self.sample_rate = rate
        self._block = max(1, round(rate * block_duration))
        self._latency_setting = latency
        self._max_buffer = round(max_buffer * rate)
        self._stream: Any = None
        self._nominal_latency = 0.0  # PortAudio's figure for the stream
        self._delay = 0.0  # measured by the callback: seconds until the block it writes is heard
        # shared with the callback
        self._frames: collections.deque[tuple[int, npt.NDArray[np.int16]]] = collections.deque()
        self._epoch = 0
        self._paused = False
        self._flushed_epoch = -1
        self._progress = (0, 0)  # (epoch, samples of that epoch's segment played)
        self._last_audible = -1e9  # time.monotonic() at which the last played segment audio is heard
        # callback-only state
        self._cur: npt.NDArray[np.int16] | None = None
        self._cur_epoch = -1
        self._cur_off = 0
        self._notified_epoch = -1
        # loop-only state
        self._loop: asyncio.AbstractEventLoop | None = None
        self._in_segment = False
        self._pushed = 0  # samples of the current segment queued
        self._pause_position: float | None = None
        self._finished: asyncio.Future[PlaybackFinished] | None = None
        self._last_result = PlaybackFinished(position=0.0, interrupted=False)
        self._closed = False

    # -- AudioOutput ----------------------------------------------------------------------------
    async def capture_frame(self, frame: AudioFrame) -> None:
        if self._closed:
            raise RuntimeError("audio output is closed")
        if frame.sample_rate != self.sample_rate or frame.num_channels != 1:
            raise ValueError(
                f"this output plays mono {self.sample_rate} Hz audio, got a "
                f"{frame.num_channels}-channel {frame.sample_rate} Hz frame"
            )
        self.open()
        if not self._in_segment:
            self._start_segment()
        epoch = self._epoch
        while self._pushed - self._played() >= self._max_buffer:
            await asyncio.sleep(0.05)  # only with more than max_buffer queued: rare, bounded by playout
            if self._epoch != epoch:
                return  # cleared while we waited: the frame belongs to a dead segment
        self._frames.append((epoch, frame.data))
        self._pushed += frame.samples_per_channel

    def flush(self) -> None:
        if not self._in_segment:
            self._start_segment()
        self._flushed_epoch = self._epoch
        if self._pushed == 0:  # nothing to play
            self._finish(PlaybackFinished(position=0.0, interrupted=False))
        elif self._played() >= self._pushed:  # the device already took it all: done once it is heard
            self._on_drained(self._epoch)

    def clear_buffer(self) -> None:
        if not self._in_segment:
            return
        position = self.position
        self._epoch += 1  # the callback drops the rest of this segment at its next block
        self._frames.clear()
        self._paused = False  # a cleared output plays the next segment normally
        self._finish(PlaybackFinished(position=position, interrupted=True))

    def pause(self) -> None:
        if not self._paused:
            self._pause_position = self.position
            self._paused = True

    def resume(self) -> None:
        if self._paused:
            self._paused = False
            self._pause_position = None

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def position(self) -> float:
        if not self._in_segment:
            return self._last_result.position
        if self._pause_position is not None:
            return self._pause_position
        return max(0.0, self._played() / self.sample_rate - self.latency)

    async def wait_for_playout(self) -> PlaybackFinished:
        if self._finished is None:
            return self._last_result
        return await asyncio.shield(self._finished)

    def echo_active(self, tail: float = 0.3) -> bool:
        """Whether the agent's voice may be coming out of the speaker now (or did less than ``tail`` ago)."""
        if self._in_segment and not self._paused and self._pushed > 0:
            return True
        return time.monotonic() < self._last_audible + tail

    async def aclose(self) -> None:
        self._closed = True
        self.clear_buffer()
        # what the device already took is still on its way to the speaker: let it out
        await asyncio.sleep(max(0.0, min(self._last_audible - time.monotonic(), 1.0)))
        stream, self._stream = self._stream, None
        if stream is not None:
            close_stream(stream, "output")

    # -- stream lifecycle -----------------------------------------------------------------------
    def open(self) -> None:
        """Start the output stream (silence until something is played); idempotent."""
        if self._stream is not None or self._closed:
            return
        self._loop = asyncio.get_running_loop()
        settings = StreamSettings(
            self.device, "output", self.sample_rate, self._channels, self._block, self._latency_setting
        )
        self._stream = open_stream(settings, self._callback)
        self._nominal_latency = self._delay = float(self._stream.latency)

    @property
    def latency(self) -> float:
        """Seconds from the device taking audio to the speaker playing it (measured at each block)."""
        return self._delay

    # -- loop side ------------------------------------------------------------------------------
    def _played(self) -> int:
        epoch, played = self._progress
        return played if epoch == self._epoch else 0

    def _start_segment(self) -> None:
        self._epoch += 1
        self._in_segment = True
        self._pushed = 0
        self._pause_position = None
        self._finished = asyncio.get_running_loop().create_future()

    def _finish(self, result: PlaybackFinished) -> None:
        self._in_segment = False
        self._last_result = result
        self._pause_position = None
        if self._finished is not None and not self._finished.done():
            self._finished.set_result(result)

    def _on_started(self, epoch: int) -> None:
        if epoch == self._epoch and self._in_segment and self._loop is not None:
            self._notify_playback_started(self._loop.time())

    def _on_drained(self, epoch: int) -> None:
        # the device took the last sample; it is heard a block and ``latency`` later
        if self._loop is not None and epoch == self._epoch:
            self._loop.call_later(self.latency + self._block / self.sample_rate, self._finish_drained, epoch)

    def _finish_drained(self, epoch: int) -> None:
        if (
            epoch == self._epoch
            and self._in_segment
            and self._flushed_epoch == epoch
            and self._played() >= self._pushed
        ):
            self._finish(PlaybackFinished(position=self._pushed / self.sample_rate, interrupted=False))

    def _post(self, fn: Any, epoch: int) -> None:
        if self._loop is not None:
            try:
                self._loop.call_soon_threadsafe(fn, epoch)
            except RuntimeError:  # the loop is closed
                pass

    # -- PortAudio side (its own thread) --------------------------------------------------------
    def _callback(self, outdata: Any, frames: int, time_info: Any, status: Any) -> None:
        delay = time_info.outputBufferDacTime - time_info.currentTime
        self._delay = delay if 0.0 < delay < 2.0 else self._nominal_latency  # 0: host API cannot tell
        epoch = self._epoch
        filled = 0
        if self._cur is not None and self._cur_epoch != epoch:
            self._cur = None  # cleared or superseded
        if not self._paused:
            while filled < frames:
                cur = self._cur
                if cur is None:
                    try:
                        item_epoch, cur = self._frames.popleft()
                    except IndexError:
                        break
                    if item_epoch != epoch:
                        continue  # queued before a clear
                    if self._progress[0] != epoch:
                        self._progress = (epoch, 0)
                        self._post(self._on_started, epoch)
                    self._cur, self._cur_epoch, self._cur_off = cur, epoch, 0
                take = min(frames - filled, cur.shape[0] - self._cur_off)
                outdata[filled : filled + take, :] = cur[self._cur_off : self._cur_off + take, None]
                filled += take
                self._cur_off += take
                self._progress = (epoch, self._progress[1] + take)
                if self._cur_off >= cur.shape[0]:
                    self._cur = None
        if filled < frames:
            outdata[filled:, :] = 0
        if filled:
            self._last_audible = time.monotonic() + self._delay + frames / self.sample_rate
        if (
            self._cur is None
            and not self._frames
            and self._flushed_epoch == epoch
            and self._notified_epoch != epoch
            and not self._paused
        ):
            self._notified_epoch = epoch
            self._post(self._on_drained, epoch)
