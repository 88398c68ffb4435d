"""Session I/O interfaces: where the session's audio comes from and where its voice and text go.

These live in the base layer so that ``session`` can use them without importing ``rooms``;
``rooms`` provides the implementations (LiveKit room, console/WAV, in-memory).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from .frame import AudioFrame

logger = logging.getLogger("livekitex_agent.media")


class AudioInput(ABC):
    """An async stream of the user's audio frames; iteration ends when the input is closed."""

    @abstractmethod
    def __aiter__(self) -> AsyncIterator[AudioFrame]: ...

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release what the input holds."""


@dataclass
class PlaybackFinished:
    """How a played segment ended: ``position`` seconds were heard; ``interrupted`` if cut short."""

    position: float
    interrupted: bool


class AudioOutput(ABC):
    """Where the agent's voice goes. Audio is written in segments (one per reply).

    ``capture_frame`` queues audio of the current segment, ``flush`` closes the segment,
    ``clear_buffer`` drops what was not heard yet, ``pause``/``resume`` hold playout.
    """

    sample_rate: int | None = None  # the rate this output wants; None accepts any

    def __init__(self) -> None:
        self._playback_started_cbs: list[Callable[[float], Any]] = []

    def on_playback_started(self, callback: Callable[[float], Any]) -> None:
        """``callback(loop_time)`` runs when the first frame of a segment is written out."""
        self._playback_started_cbs.append(callback)

    def _notify_playback_started(self, t: float) -> None:
        for cb in list(self._playback_started_cbs):
            try:
                cb(t)
            except Exception:
                logger.exception("playback_started callback failed")

    @abstractmethod
    async def capture_frame(self, frame: AudioFrame) -> None: ...

    @abstractmethod
    def flush(self) -> None: ...

    @abstractmethod
    def clear_buffer(self) -> None: ...

    @abstractmethod
    def pause(self) -> None: ...

    @abstractmethod
    def resume(self) -> None: ...

    @property
    @abstractmethod
    def position(self) -> float:
        """Seconds of the current (or last) segment played out so far."""

    @abstractmethod
    async def wait_for_playout(self) -> PlaybackFinished: ...

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release what the output holds."""


class TextOutput(ABC):
    """Where the agent's words go (transcription), in step with its voice."""

    @abstractmethod
    async def capture_text(self, text: str) -> None: ...

    @abstractmethod
    def flush(self) -> None:
        """The current segment's text is complete."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release what the output holds."""


class PacedAudioOutput(AudioOutput):
    """An :class:`AudioOutput` that plays frames out in real time on the event loop clock.

    Subclasses implement :meth:`_write_frame` (hand one frame to the real sink). Frames longer than
    ``frame_duration`` are split, so pausing or clearing takes effect within one frame.
    ``lookahead`` writes that many seconds ahead of real time, for sinks with their own buffer.
    """

    def __init__(
        self,
        *,
        sample_rate: int | None = None,
        frame_duration: float = 0.02,
        lookahead: float = 0.0,
        max_buffer: float = 30.0,
    ) -> None:
        super().__init__()
        self.sample_rate = sample_rate
        self._frame_duration = frame_duration
        self._lookahead = lookahead
        self._max_buffer = max_buffer
        self._queue: collections.deque[AudioFrame] = collections.deque()
        self._queued_duration = 0.0
        self._wakeup = asyncio.Event()
        self._space = asyncio.Event()
        self._space.set()
        self._paused = False
        self._in_segment = False
        self._flushed = False
        self._segment_started = False
        self._written = 0.0  # seconds of the segment handed to the sink
        self._cur_end = 0.0  # loop time at which the last written frame finishes playing
        self._pause_position: float | None = None
        # frames handed to the sink ahead of time (lookahead > 0): (start time, frame)
        self._ahead: collections.deque[tuple[float, AudioFrame]] = collections.deque()
        self._finished: asyncio.Future[PlaybackFinished] | None = None
        self._last_result = PlaybackFinished(position=0.0, interrupted=False)
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    # -- subclass hook --------------------------------------------------------------------------
    @abstractmethod
    async def _write_frame(self, frame: AudioFrame) -> None:
        """Hand one frame to the sink (called at the frame's playout time minus ``lookahead``)."""

    def _segment_ended(self, result: PlaybackFinished) -> None:  # noqa: B027 - optional hook
        """Called when a segment finished playing or was cleared."""

    # -- AudioOutput ----------------------------------------------------------------------------
    async def capture_frame(self, frame: AudioFrame) -> None:
        if self._closed:
            raise RuntimeError("audio output is closed")
        if self.sample_rate is not None and frame.sample_rate != self.sample_rate:
            raise ValueError(
                f"this output plays {self.sample_rate} Hz audio, got a {frame.sample_rate} Hz frame"
            )
        if not self._in_segment:
            self._start_segment()
        while self._queued_duration >= self._max_buffer:
            self._space.clear()
            await self._space.wait()
            if not self._in_segment:  # cleared while we waited: the frame belongs to a dead segment
                return
        step = max(1, round(self._frame_duration * frame.sample_rate))
        n = frame.samples_per_channel
        if n <= step:
            self._queue.append(frame)
        else:
            ch = frame.num_channels
            for i in range(0, n, step):
                self._queue.append(AudioFrame(frame.data[i * ch : (i + step) * ch], frame.sample_rate, ch))
        self._queued_duration += frame.duration
        self._ensure_task()
        self._wakeup.set()

    def flush(self) -> None:
        if not self._in_segment:
            self._start_segment()
        self._flushed = True
        self._ensure_task()
        self._wakeup.set()

    def clear_buffer(self) -> None:
        if not self._in_segment:
            return
        position = self.position
        self._queue.clear()
        self._queued_duration = 0.0
        self._space.set()
        self._paused = False  # a cleared output plays the next segment normally
        self._ahead.clear()
        self._finish(PlaybackFinished(position=position, interrupted=True))

    def pause(self) -> None:
        if not self._paused:
            self._paused = True
            self._pause_position = self.position
            self._take_back_ahead()

    def _take_back_ahead(self) -> None:
        """Frames written ahead but not yet playing go back to the queue (the sink drops its copy)."""
        if not self._ahead:
            return
        now = asyncio.get_running_loop().time()
        back = [frame for start, frame in self._ahead if start >= now - 1e-9]
        self._ahead.clear()
        for frame in reversed(back):
            self._queue.appendleft(frame)
            self._queued_duration += frame.duration

    def resume(self) -> None:
        if self._paused:
            self._paused = False
            # the frame being played when we paused was cut: replay time continues from the pause point
            if self._pause_position is not None:
                loop = asyncio.get_running_loop()
                self._cur_end = loop.time()
                self._written = self._pause_position
            self._pause_position = None
            self._wakeup.set()

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def position(self) -> float:
        if self._pause_position is not None:
            return self._pause_position
        if not self._in_segment:
            return self._last_result.position
        try:
            now = asyncio.get_running_loop().time()
        except RuntimeError:
            return self._written
        return max(0.0, self._written - max(0.0, self._cur_end - now))

    @property
    def queued_duration(self) -> float:
        return self._queued_duration

    async def wait_for_playout(self) -> PlaybackFinished:
        if self._finished is None:
            return self._last_result
        return await asyncio.shield(self._finished)

    async def aclose(self) -> None:
        self._closed = True
        self.clear_buffer()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    # -- internals ------------------------------------------------------------------------------
    def _start_segment(self) -> None:
        self._in_segment = True
        self._flushed = False
        self._segment_started = False
        self._written = 0.0
        self._pause_position = None
        self._cur_end = 0.0
        self._finished = asyncio.get_running_loop().create_future()

    def _finish(self, result: PlaybackFinished) -> None:
        self._in_segment = False
        self._flushed = False
        self._last_result = result
        self._pause_position = None
        if self._finished is not None and not self._finished.done():
            self._finished.set_result(result)
        self._segment_ended(result)

    def _ensure_task(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._playout(), name="paced-audio-output")

    async def _playout(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._closed:
            if not self._in_segment or self._paused or (not self._queue and not self._flushed):
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            if not self._queue:  # flushed and drained: finished once the last frame has played
                wait = self._cur_end - loop.time()
                if wait > 0:
                    await asyncio.sleep(min(wait, self._frame_duration))
                    continue
                self._finish(PlaybackFinished(position=self._written, interrupted=False))
                continue
            # wait until it is time to write the next frame
            wait = self._cur_end - self._lookahead - loop.time()
            if wait > 0:
                # sleeping at most one frame keeps pause/clear effective within a frame
                await asyncio.sleep(min(wait, self._frame_duration))
                continue
            frame = self._queue.popleft()
            self._queued_duration = max(0.0, self._queued_duration - frame.duration)
            if self._queued_duration < self._max_buffer:
                self._space.set()
            now = loop.time()
            if not self._segment_started:
                self._segment_started = True
                self._cur_end = now
                self._notify_playback_started(now)
            start = max(self._cur_end, now)
            self._cur_end = start + frame.duration
            self._written += frame.duration
            if self._lookahead > 0:
                while self._ahead and self._ahead[0][0] + self._ahead[0][1].duration <= now:
                    self._ahead.popleft()
                self._ahead.append((start, frame))
            try:
                await self._write_frame(frame)
            except Exception:
                logger.exception("audio sink failed to write a frame; dropping the segment")
                self.clear_buffer()


class SessionIO:
    """The I/O one session uses. Implementations (rooms, console, memory) may hook into the session.

    ``start`` is called by ``AgentSession.start`` before the first turn; an implementation may
    subscribe to the session's events there (e.g. publish the agent state) or feed it text input
    through its public API (``session.generate_reply(user_input=...)``).
    """

    def __init__(
        self,
        audio_input: AudioInput | None = None,
        audio_output: AudioOutput | None = None,
        text_output: TextOutput | None = None,
    ) -> None:
        self.audio_input = audio_input
        self.audio_output = audio_output
        self.text_output = text_output

    async def start(self, session: Any) -> None:  # noqa: B027 - optional hook
        """Called once when the session starts with this I/O."""

    async def aclose(self) -> None:
        """Close every part (called by the session when it closes)."""
        for part in (self.audio_input, self.audio_output, self.text_output):
            if part is not None:
                try:
                    await part.aclose()
                except Exception:
                    logger.exception("closing %r failed", part)
