"""In-process session I/O: the test (or example) plays the user; the agent's voice is recorded.

The input behaves like a microphone: it delivers a frame every ``frame_duration`` on the loop
clock, silence when nothing was pushed. The output plays in real time on the same clock and keeps
every frame with the time it was played. On a :class:`~livekitex_agent.testing.VirtualTimeLoop`
a whole conversation runs in milliseconds.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import numpy as np

from ..media.frame import AudioFrame, combine_frames
from ..media.io import AudioInput, PacedAudioOutput, PlaybackFinished, SessionIO, TextOutput
from ..media.resample import resample


class MemoryAudioInput(AudioInput):
    def __init__(
        self, *, sample_rate: int = 16000, frame_duration: float = 0.02, record: bool = False
    ) -> None:
        self.sample_rate = sample_rate
        self.frame_duration = frame_duration
        self._samples = round(sample_rate * frame_duration)
        self._silence = AudioFrame(np.zeros(self._samples, dtype=np.int16), sample_rate)
        self._pending: collections.deque[AudioFrame] = collections.deque()
        self._ended = False
        self._drained = asyncio.Event()
        self._drained.set()
        self.record = record
        self.recorded: list[tuple[float, AudioFrame]] = []  # (loop time, frame) of speech pushed

    def push_audio(self, audio: AudioFrame) -> None:
        """Queue ``audio`` (any rate, mono) to be "spoken" into the microphone."""
        if self._ended:
            raise RuntimeError("the input was ended")
        if audio.num_channels != 1:
            audio = audio.to_mono()
        if audio.sample_rate != self.sample_rate:
            audio = resample(audio, self.sample_rate)
        n = self._samples
        data = audio.data
        for i in range(0, data.size, n):
            chunk = data[i : i + n]
            if chunk.size < n:
                chunk = np.concatenate([chunk, np.zeros(n - chunk.size, dtype=np.int16)])
            self._pending.append(AudioFrame(chunk, self.sample_rate))
        self._drained.clear()

    def push_silence(self, seconds: float) -> None:
        self.push_audio(AudioFrame.silence(seconds, self.sample_rate))

    async def wait_until_played(self) -> None:
        """Wait until everything pushed so far has been delivered to the session."""
        await self._drained.wait()

    def end_input(self) -> None:
        """End the input after the pending audio (like a WAV file ending)."""
        self._ended = True

    def __aiter__(self) -> AsyncIterator[AudioFrame]:
        return self._frames()

    async def _frames(self) -> AsyncIterator[AudioFrame]:
        loop = asyncio.get_running_loop()
        next_time = loop.time()
        while True:
            if self._pending:
                frame = self._pending.popleft()
                if self.record:
                    self.recorded.append((next_time, frame))
            elif self._ended:
                self._drained.set()
                return
            else:
                self._drained.set()
                frame = self._silence
            delay = next_time - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            next_time += self.frame_duration
            yield frame


@dataclass
class PlayedSegment:
    start: float  # loop time of the first frame
    frames: list[tuple[float, AudioFrame]] = field(default_factory=list)
    result: PlaybackFinished | None = None

    @property
    def audio(self) -> AudioFrame:
        return combine_frames([f for _, f in self.frames])

    @property
    def duration(self) -> float:
        return sum(f.duration for _, f in self.frames)


class MemoryAudioOutput(PacedAudioOutput):
    """Plays frames in real time on the loop clock and records them, with the time they were played."""

    def __init__(self, *, sample_rate: int | None = None) -> None:
        super().__init__(sample_rate=sample_rate)
        self.segments: list[PlayedSegment] = []
        self._segment_open = False
        self.segment_done = asyncio.Event()

    async def _write_frame(self, frame: AudioFrame) -> None:
        now = asyncio.get_running_loop().time()
        if not self._segment_open:
            self.segments.append(PlayedSegment(start=now))
            self._segment_open = True
        self.segments[-1].frames.append((now, frame))

    def _segment_ended(self, result: PlaybackFinished) -> None:
        if self._segment_open:
            self.segments[-1].result = result
        self._segment_open = False
        self.segment_done.set()

    @property
    def played(self) -> list[tuple[float, AudioFrame]]:
        return [pair for seg in self.segments for pair in seg.frames]

    def played_audio(self) -> AudioFrame | None:
        frames = [f for _, f in self.played]
        return combine_frames(frames) if frames else None


class MemoryTextOutput(TextOutput):
    def __init__(self) -> None:
        self.segments: list[str] = []
        self._current: list[str] = []
        self.events: list[tuple[float, str]] = []

    async def capture_text(self, text: str) -> None:
        self._current.append(text)
        self.events.append((asyncio.get_running_loop().time(), text))

    def flush(self) -> None:
        if self._current:
            self.segments.append("".join(self._current))
        self._current = []


class MemoryIO(SessionIO):
    """Microphone, speaker and transcription in memory, for tests and examples.

    ``io.push_audio(frame)`` speaks into the session; ``io.audio_output.segments`` holds what the agent
    said, each frame with its playout time; ``io.text_output.segments`` its words.
    """

    audio_input: MemoryAudioInput
    audio_output: MemoryAudioOutput
    text_output: MemoryTextOutput

    def __init__(
        self,
        *,
        input_sample_rate: int = 16000,
        output_sample_rate: int | None = None,
        frame_duration: float = 0.02,
        audio: bool = True,
        record_input: bool = False,
    ) -> None:
        super().__init__(
            audio_input=MemoryAudioInput(
                sample_rate=input_sample_rate, frame_duration=frame_duration, record=record_input
            )
            if audio
            else None,
            audio_output=MemoryAudioOutput(sample_rate=output_sample_rate) if audio else None,
            text_output=MemoryTextOutput(),
        )

    def push_audio(self, audio: AudioFrame) -> None:
        self.audio_input.push_audio(audio)

    def push_silence(self, seconds: float) -> None:
        self.audio_input.push_silence(seconds)

    def end_input(self) -> None:
        self.audio_input.end_input()
