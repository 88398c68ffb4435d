"""Turns per-window speech probabilities into speech segments (shared by every VAD implementation)."""

from __future__ import annotations

import collections
from collections.abc import Sequence

import numpy as np

from ..media.frame import AudioFrame
from .vad import VADEvent, VADEventType, VADOptions

_NONE: tuple[VADEvent, ...] = ()


class WindowBuffer:
    """Cuts a stream of frames into fixed windows of ``size`` samples (mono int16)."""

    def __init__(self, size: int, sample_rate: int) -> None:
        if size <= 0:
            raise ValueError(f"window size must be positive, got {size!r}")
        self.size = size
        self.sample_rate = sample_rate
        self._buf = np.zeros(size, dtype=np.int16)
        self._fill = 0

    def push(self, frame: AudioFrame) -> list[AudioFrame]:
        if frame.sample_rate != self.sample_rate:
            raise ValueError(f"this VAD stream takes {self.sample_rate} Hz audio, got {frame.sample_rate} Hz")
        data = frame.data if frame.num_channels == 1 else frame.to_mono().data
        out: list[AudioFrame] = []
        pos = 0
        n = data.size
        if self._fill == 0:  # fast path: whole windows straight from the input (views)
            while n - pos >= self.size:
                out.append(AudioFrame(data[pos : pos + self.size], self.sample_rate))
                pos += self.size
        while pos < n:
            take = min(self.size - self._fill, n - pos)
            self._buf[self._fill : self._fill + take] = data[pos : pos + take]
            self._fill += take
            pos += take
            if self._fill == self.size:
                out.append(AudioFrame(self._buf.copy(), self.sample_rate))
                self._fill = 0
        return out


class SpeechSegmenter:
    """Hysteresis and duration rules over per-window probabilities.

    Speech starts after ``min_speech_duration`` of windows above the threshold and ends after
    ``min_silence_duration`` below ``threshold - 0.15``. The END_OF_SPEECH event carries the
    segment's audio, starting ``prefix_padding_duration`` before the detected start; the
    START_OF_SPEECH event carries the same audio so far (what a streaming STT is fed first).
    """

    def __init__(self, opts: VADOptions) -> None:
        self.opts = opts
        self._deactivation = max(0.0, opts.activation_threshold - 0.15)
        self.speaking = False
        self._time = 0.0
        self._speech_run = 0.0
        self._silence_run = 0.0
        self._speech_duration = 0.0
        self._prefix: collections.deque[AudioFrame] = collections.deque()
        self._prefix_duration = 0.0
        self._segment: list[AudioFrame] = []
        self._segment_duration = 0.0

    def process(self, window: AudioFrame, probability: float) -> Sequence[VADEvent]:
        dur = window.duration
        self._time += dur
        o = self.opts
        if not self.speaking:
            self._prefix.append(window)
            self._prefix_duration += dur
            keep = o.prefix_padding_duration + o.min_speech_duration + dur
            while self._prefix_duration > keep and len(self._prefix) > 1:
                self._prefix_duration -= self._prefix.popleft().duration
            if probability >= o.activation_threshold:
                self._speech_run += dur
            else:
                self._speech_run = 0.0
            if self._speech_run >= o.min_speech_duration and self._speech_run > 0:
                self.speaking = True
                self._segment = list(self._prefix)
                self._segment_duration = self._prefix_duration
                self._prefix.clear()
                self._prefix_duration = 0.0
                self._speech_duration = self._speech_run
                self._silence_run = 0.0
                return (
                    VADEvent(
                        VADEventType.START_OF_SPEECH,
                        timestamp=self._time - self._speech_run,
                        speech_duration=self._speech_duration,
                        probability=probability,
                        frames=tuple(self._segment),
                    ),
                )
            return _NONE
        # speaking
        if self._segment_duration < o.max_buffered_speech:
            self._segment.append(window)
            self._segment_duration += dur
        if probability >= self._deactivation:
            self._speech_duration += self._silence_run + dur
            self._silence_run = 0.0
        else:
            self._silence_run += dur
        if self._silence_run >= o.min_silence_duration:
            return (self._end(probability),)
        return (
            VADEvent(
                VADEventType.INFERENCE,
                timestamp=self._time,
                speech_duration=self._speech_duration,
                silence_duration=self._silence_run,
                probability=probability,
            ),
        )

    def flush(self) -> Sequence[VADEvent]:
        if not self.speaking:
            return _NONE
        return (self._end(0.0),)

    def _end(self, probability: float) -> VADEvent:
        self.speaking = False
        # keep at most 0.2 s of the trailing silence with the segment
        trailing = max(0.0, self._silence_run - 0.2)
        frames = self._segment
        while trailing > 0 and frames and frames[-1].duration <= trailing:
            trailing -= frames[-1].duration
            frames.pop()
        event = VADEvent(
            VADEventType.END_OF_SPEECH,
            timestamp=self._time - self._silence_run,
            speech_duration=self._speech_duration,
            silence_duration=self._silence_run,
            probability=probability,
            frames=tuple(frames),
        )
        self._segment = []
        self._segment_duration = 0.0
        self._speech_run = 0.0
        self._silence_run = 0.0
        self._speech_duration = 0.0
        return event
