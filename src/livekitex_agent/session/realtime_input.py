"""The user's recent audio, kept so that a reconnected model or the pipeline can hear what the realtime
model did not answer (frames are shared, not copied)."""

from __future__ import annotations

import collections

from ..media.frame import AudioFrame
from .realtime_liveness import QUIET_AFTER_SPEECH, DeafModelWatch

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


class UserInput:
    """The user's audio as the realtime engine follows it: the recent frames, whether (and since when)
    the model hears the user speak, and the words the model never heard (a deaf connection)."""

    def __init__(self, deaf: DeafModelWatch | None) -> None:
        self.buffer = InputBuffer()
        self.deaf = deaf
        self.turn_start: float | None = None  # the user's latest turn began here (with padding)
        self.speaking = False  # the model said the user speaks, and has not said they stopped
        self.unheard_from: float | None = None  # the user's words since then never reached the model

    def push(self, t: float, frame: AudioFrame) -> None:
        self.buffer.push(t, frame)
        if self.deaf is not None:
            self.deaf.push(t, frame)

    def speech_started(self, t: float) -> None:
        self.turn_start = t - REPLAY_PADDING
        self.speaking = True

    def committed(self) -> None:
        """The model made the user's words a conversation item: it heard them."""
        self.speaking = False
        self.unheard_from = None

    def mark_unheard(self, since: float) -> None:
        """The model went deaf; the user's voice it missed began at ``since`` at the latest."""
        if self.unheard_from is None:
            began = self.deaf.voice_began if self.deaf is not None and self.deaf.voice_began is not None else since
            self.unheard_from = min(began, self.turn_start or began) - REPLAY_PADDING

    def for_new_connection(self, outage_start: float | None) -> list[AudioFrame]:
        """What a new connection must hear: the outage, the words not committed yet, the unheard ones."""
        starts = [outage_start, self.turn_start if self.speaking else None, self.unheard_from]
        return self._since(starts)

    def for_pipeline(self, outage_start: float | None) -> list[AudioFrame]:
        """What the pipeline's listener must hear: the outage and the words not committed yet."""
        return self._since([outage_start, self.turn_start if self.speaking else None])

    def take_unheard(self) -> list[AudioFrame] | None:
        """The words the model never heard (they go to the pipeline's STT instead), once."""
        if self.unheard_from is None or self.deaf is None:
            return None
        end = self.deaf.voice_last + QUIET_AFTER_SPEECH
        frames, self.unheard_from, self.speaking = self.buffer.since(self.unheard_from, end), None, False
        return frames

    def _since(self, starts: list[float | None]) -> list[AudioFrame]:
        times = [t for t in starts if t is not None]
        return self.buffer.since(min(times)) if times else []
