"""The session's audio input loop: never deaf and open, and honest about how late audio is.

- A frame that cannot be used (not an :class:`AudioFrame`, or one a provider chokes on) is skipped
  and reported (``error`` event, recoverable); the input goes on. ``max_bad_frames`` bad frames in
  a row, or the input stream itself failing, end the session (``close`` with reason ``error`` and
  an :class:`AudioInputError`): a session that can no longer hear says so instead of staying open.
- Input filters (:class:`AudioFilterChain`, e.g. a noise suppressor) run on each frame before it
  is pushed, so the VAD, the STT and a realtime model all hear the filtered audio; with none, the
  frame goes straight through. What the filters still hold is pushed when the input ends.
- :class:`InputLagMeter` measures how long audio waited between arriving (``captured_at``) and
  being processed, and how much the input dropped, for the turn metrics.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Callable
from typing import Any

from ..errors import AudioInputError
from ..media.filter import AudioFilterChain
from ..media.frame import AudioFrame

MAX_BAD_FRAMES = 50  # in a row: 1 s of 20 ms frames


class InputLagMeter:
    """The worst wait of audio in the input queue, and the audio dropped, since the last :meth:`take`."""

    def __init__(self, source: Any = None) -> None:
        self._source = source  # an input with ``dropped_duration`` (the room input), if any
        self._max_lag = 0.0
        self._seen = False
        self._dropped_before = float(getattr(source, "dropped_duration", 0.0) or 0.0)

    def observe(self, frame: AudioFrame, now: float) -> None:
        if frame.captured_at is not None:
            self._seen = True
            lag = now - frame.captured_at
            if lag > self._max_lag:
                self._max_lag = lag

    def take(self) -> tuple[float | None, float]:
        """(worst lag in seconds or None if no frame said when it arrived, seconds of audio dropped)."""
        lag = self._max_lag if self._seen else None
        self._max_lag, self._seen = 0.0, False
        dropped_now = float(getattr(self._source, "dropped_duration", 0.0) or 0.0)
        dropped, self._dropped_before = max(0.0, dropped_now - self._dropped_before), dropped_now
        return lag, dropped


async def pump_audio(
    frames: AsyncIterable[Any],
    push: Callable[[AudioFrame], None],
    *,
    report: Callable[[BaseException], None],
    meter: InputLagMeter | None = None,
    max_bad_frames: int = MAX_BAD_FRAMES,
    filters: AudioFilterChain | None = None,
) -> None:
    """Feed ``frames`` (through ``filters``) to ``push`` until the input ends; raises
    :class:`AudioInputError` when it cannot."""
    loop = asyncio.get_running_loop()
    iterator = aiter(frames)
    bad = 0
    unfiltered = push
    if filters:
        push = filters.wrap(push)
    while True:
        try:
            frame = await anext(iterator)
        except StopAsyncIteration:
            if filters:
                for rest in filters.flush():
                    unfiltered(rest)
            return
        except Exception as e:
            raise AudioInputError(f"the audio input failed: {type(e).__name__}: {e}") from e
        try:
            if not isinstance(frame, AudioFrame):
                raise TypeError(f"the audio input gave a {type(frame).__name__}, not an AudioFrame: {frame!r:.60}")
            if meter is not None:
                meter.observe(frame, loop.time())
            push(frame)
            bad = 0
        except Exception as e:
            bad += 1
            if bad == 1:  # once per run of bad frames, not 50 times a second
                report(e)
            if bad >= max_bad_frames:
                raise AudioInputError(
                    f"{bad} audio frames in a row could not be used (last: {type(e).__name__}: {e})"
                ) from e
