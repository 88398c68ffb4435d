"""The user's recent audio, kept so that a reconnected model or the pipeline can hear what the realtime
model did not answer (frames are shared, not copied)."""

from __future__ import annotations

import collections

from ..media.frame import AudioFrame

REPLAY_PADDING = 0.3  # seconds of audio kept before the user's speech started, for the VAD


class InputBuffer:
    """The last ``max_seconds`` of input frames with their loop times (frames are shared, not copied)."""

    def __init__(self, max_seconds: float = 30.0) -> None:
        self._frames: collections.deque[tuple[float, AudioFrame]] = collections.deque()
        self._max = max_seconds

    def push(self, t: float, frame: AudioFrame) -> None:
        self._frames.append((t, frame))
        while self._frames and t - self._frames[0][0] > self._max:
            self._frames.popleft()

    def since(self, t: float, until: float | None = None) -> list[AudioFrame]:
        return [f for ft, f in self._frames if ft >= t and (until is None or ft <= until)]
