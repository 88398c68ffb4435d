"""Console I/O: talk to the agent locally, with no server.

Two modes. :class:`ConsoleIO`: a WAV file plays the user's microphone and the agent's voice is
written to a WAV file, a timeline on which the agent's audio lands at the moment it was played,
with silence in between, so it lines up with the input file. :class:`DeviceConsoleIO`: the real
microphone and speakers (``rooms.microphone``/``rooms.speaker``), optionally recorded to a WAV file.
Both print the agent's words as it speaks them and the user's words as they are recognised.
"""

from __future__ import annotations

import asyncio
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np

from ..media.frame import AudioFrame
from ..media.io import AudioInput, AudioOutput, PacedAudioOutput, SessionIO, TextOutput
from ..media.mirror import MirroredAudioOutput
from ..media.wav import read_wav
from .microphone import MicrophoneInput
from .speaker import SpeakerOutput


class WavFileInput(AudioInput):
    """Plays a WAV file into the session in real time, ``frame_duration`` at a time.

    ``lead_in`` seconds of silence come first and ``trailing_silence`` after the file, so the last
    words are endpointed; then the input ends (which closes a session with ``close_on_input_end``).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        frame_duration: float = 0.02,
        lead_in: float = 0.0,
        trailing_silence: float = 2.0,
    ) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"input WAV file not found: {self.path}")
        self.audio = read_wav(self.path).to_mono()
        if self.audio.duration == 0:
            raise ValueError(f"input WAV file is empty: {self.path}")
        self.frame_duration = frame_duration
        self.lead_in = lead_in
        self.trailing_silence = trailing_silence
        self.started_at: float | None = None

    @property
    def sample_rate(self) -> int:
        return self.audio.sample_rate

    def __aiter__(self) -> AsyncIterator[AudioFrame]:
        return self._frames()

    async def _frames(self) -> AsyncIterator[AudioFrame]:
        loop = asyncio.get_running_loop()
        rate = self.audio.sample_rate
        n = max(1, round(rate * self.frame_duration))
        silence = AudioFrame(np.zeros(n, dtype=np.int16), rate)
        data = self.audio.data
        lead = round(self.lead_in * rate / n)
        trail = round(self.trailing_silence * rate / n)
        chunks = (data.size + n - 1) // n
        next_time = self.started_at = loop.time()
        for i in range(lead + chunks + trail):
            if lead <= i < lead + chunks:
                start = (i - lead) * n
                chunk = data[start : start + n]
                frame = (
                    AudioFrame(chunk, rate)
                    if chunk.size == n
                    else AudioFrame(np.concatenate([chunk, np.zeros(n - chunk.size, np.int16)]), rate)
                )
            else:
                frame = silence
            delay = next_time - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            next_time += self.frame_duration
            yield frame


class WavFileOutput(PacedAudioOutput):
    """Writes the agent's voice to a mono WAV file on the session's timeline."""

    def __init__(self, path: str | Path, *, sample_rate: int = 24000) -> None:
        super().__init__(sample_rate=sample_rate)
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._wav: wave.Wave_write | None = wave.open(str(self.path), "wb")  # noqa: SIM115 - closed in aclose
        self._wav.setnchannels(1)
        self._wav.setsampwidth(2)
        self._wav.setframerate(sample_rate)
        self._origin: float | None = None
        self._written_samples = 0

    def start_clock(self, t: float | None = None) -> None:
        """Mark time zero of the file (defaults to now); the session's input start is a good origin."""
        self._origin = asyncio.get_running_loop().time() if t is None else t

    async def _write_frame(self, frame: AudioFrame) -> None:
        if self._wav is None:
            return
        now = asyncio.get_running_loop().time()
        if self._origin is None:
            self._origin = now
        rate = self.sample_rate or frame.sample_rate
        target = round((now - self._origin) * rate)
        gap = target - self._written_samples
        if gap > 0:
            self._wav.writeframes(bytes(2 * gap))
            self._written_samples += gap
        self._wav.writeframes(frame.to_bytes())
        self._written_samples += frame.samples_per_channel

    async def aclose(self) -> None:
        await super().aclose()
        if self._wav is not None:
            self._wav.close()
            self._wav = None


class PrintTextOutput(TextOutput):
    """Prints the agent's words to the terminal as they are spoken."""

    def __init__(self, prefix: str = "agent: ") -> None:
        self._prefix = prefix
        self._open = False

    async def capture_text(self, text: str) -> None:
        if not self._open:
            print(self._prefix, end="", flush=True)
            self._open = True
        print(text, end="", flush=True)

    def flush(self) -> None:
        if self._open:
            print(flush=True)
        self._open = False

    def print_line(self, line: str) -> None:
        """Print ``line`` on a line of its own (ending the agent's line if it is still open)."""
        self.flush()
        print(line, flush=True)


def print_user_words(session: Any, text_output: TextOutput | None, prefix: str = "you: ") -> None:
    """Print each final transcript of the user's speech (what the agent understood)."""

    def on_transcribed(event: Any) -> None:
        words = event.transcript.strip()
        if not event.is_final or not words:
            return
        if isinstance(text_output, PrintTextOutput):
            text_output.print_line(prefix + words)
        else:
            print(prefix + words, flush=True)

    session.on("user_input_transcribed", on_transcribed)


class ConsoleIO(SessionIO):
    """WAV file in, WAV file out, words printed: ``python -m livekitex_agent console --input in.wav``."""

    audio_input: WavFileInput
    audio_output: WavFileOutput

    def __init__(
        self,
        input_wav: str | Path,
        output_wav: str | Path,
        *,
        output_sample_rate: int = 24000,
        trailing_silence: float = 2.0,
        text_output: TextOutput | None = None,
    ) -> None:
        super().__init__(
            audio_input=WavFileInput(input_wav, trailing_silence=trailing_silence),
            audio_output=WavFileOutput(output_wav, sample_rate=output_sample_rate),
            text_output=text_output if text_output is not None else PrintTextOutput(),
        )

    async def start(self, session: object) -> None:
        self.audio_output.start_clock()
        print_user_words(session, self.text_output)


class DeviceConsoleIO(SessionIO):
    """Microphone in, speakers out, words printed: ``python agent.py console``.

    ``input_device``/``output_device``: an index, a name part or None (the defaults).
    ``echo_guard`` (on by default) mutes the microphone while the agent's voice comes out of the
    speakers and for ``echo_tail`` seconds after, so the agent does not hear itself and answer or
    interrupt itself; the price is that the user cannot interrupt it by voice. Turn it off with
    headphones. ``record_wav`` also writes the agent's voice to a WAV file on the session timeline.
    """

    audio_input: MicrophoneInput
    audio_output: AudioOutput

    def __init__(
        self,
        *,
        input_device: str | int | None = None,
        output_device: str | int | None = None,
        sample_rate: int | None = None,
        echo_guard: bool = True,
        echo_tail: float = 0.3,
        record_wav: str | Path | None = None,
        text_output: TextOutput | None = None,
    ) -> None:
        mic = MicrophoneInput(
            input_device,
            sample_rate=sample_rate,
            mute=(lambda: self.speaker.echo_active(echo_tail)) if echo_guard else None,
        )
        self.speaker = speaker = SpeakerOutput(output_device, sample_rate=sample_rate)
        self.recorder = (
            WavFileOutput(record_wav, sample_rate=self.speaker.sample_rate) if record_wav is not None else None
        )
        super().__init__(
            audio_input=mic,
            audio_output=self.speaker if self.recorder is None else MirroredAudioOutput(speaker, self.recorder),
            text_output=text_output if text_output is not None else PrintTextOutput(),
        )
        self.echo_guard = echo_guard

    async def start(self, session: object) -> None:
        self.speaker.open()
        if self.recorder is not None:
            self.recorder.start_clock()
        print_user_words(session, self.text_output)
