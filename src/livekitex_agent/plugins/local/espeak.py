"""Offline text to speech with the ``espeak-ng`` binary, streamed from an async subprocess."""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass

import numpy as np

from ...errors import ConfigError, ErrorCategory, ProviderError
from ...media.frame import AudioFrame, combine_frames
from ...media.resample import Resampler
from ...providers.tts import TTS, GeneratorTTSStream, TTSStream

logger = logging.getLogger("livekitex_agent.plugins.local")

INSTALL_HINT = "apt-get install espeak-ng"
_VOICE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_+\-/.]*$")
_READ_SECONDS = 0.04  # read ~40 ms of espeak output at a time: frames go out as soon as they exist
_MAX_HEADER = 4096


@dataclass(frozen=True)
class WavHeader:
    sample_rate: int
    num_channels: int
    size: int  # bytes before the first sample


def parse_wav_header(data: bytes | bytearray) -> WavHeader | None:
    """Parse the RIFF header of a streamed WAV; ``None`` if more bytes are needed.

    espeak-ng writes placeholder sizes when its output is a pipe, so sizes are ignored:
    the samples run from the ``data`` chunk to the end of the stream. Only 16-bit PCM is accepted.
    """
    if len(data) < 12:
        return None
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError(f"not a WAV stream (starts with {bytes(data[:12])!r})")
    pos = 12
    rate = channels = 0
    while True:
        if len(data) < pos + 8:
            return None
        chunk_id, chunk_size = data[pos : pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        if chunk_id == b"data":
            if not rate:
                raise ValueError("WAV stream has a data chunk before its fmt chunk")
            return WavHeader(rate, channels, pos + 8)
        if chunk_id == b"fmt ":
            if len(data) < pos + 8 + 16:
                return None
            fmt, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", data, pos + 8)
            if fmt != 1 or bits != 16:
                raise ValueError(f"unsupported WAV format {fmt} with {bits} bits (want PCM16)")
        pos += 8 + chunk_size + (chunk_size & 1)


class EspeakTTS(TTS):
    """Speech synthesis with espeak-ng (formant synthesis: robotic but instant and fully offline).

    Each ``synthesize`` runs one ``espeak-ng --stdout`` process; audio (22.05 kHz from espeak) is
    resampled once to ``sample_rate`` and yielded in ~40 ms frames as it is read. Closing the
    stream (or cancelling its reader) kills the process and reaps it.

    Measured cost: ~7 ms of CPU per second of audio (espeak-ng process plus reading and resampling,
    ``bench/local_providers.py``); the first frame arrives a few ms after the process starts. Limits: one robotic voice per language, no
    streaming text input (synthesize sentence by sentence), numbers/abbreviations read by
    espeak's own rules; needs the Debian/Ubuntu package (``apt-get install espeak-ng``).

    - ``voice``: an espeak-ng voice name (``en-us``, ``en-gb``, ``fr``, ...).
    - ``rate``: speaking rate in words per minute (80-500).
    - ``pitch``: base pitch, 0-99.
    - ``sample_rate``: the rate (Hz) of the frames it yields.
    - ``binary``: the espeak-ng executable (a name looked up on ``PATH``, or a path).
    """

    def __init__(
        self,
        *,
        voice: str = "en-us",
        rate: int = 175,
        pitch: int = 50,
        sample_rate: int = 24000,
        binary: str = "espeak-ng",
    ) -> None:
        if not _VOICE_RE.match(voice):
            raise ConfigError(f"EspeakTTS voice must be an espeak-ng voice name like 'en-us', got {voice!r}")
        if not 80 <= rate <= 500:
            raise ConfigError(f"EspeakTTS rate must be 80-500 words per minute, got {rate!r}")
        if not 0 <= pitch <= 99:
            raise ConfigError(f"EspeakTTS pitch must be 0-99, got {pitch!r}")
        if not 8000 <= sample_rate <= 48000:
            raise ConfigError(
                f"EspeakTTS sample_rate must be 8000-48000 Hz (16000 or 24000 usual), got {sample_rate!r}"
            )
        path = shutil.which(binary)
        if path is None:
            raise ProviderError(
                f"the espeak-ng binary was not found (looked for {binary!r}); install it with `{INSTALL_HINT}`",
                provider="local.EspeakTTS",
                retryable=False,
                category=ErrorCategory.BAD_REQUEST,
            )
        self.voice = voice
        self.rate = rate
        self.pitch = pitch
        self.sample_rate = sample_rate
        self._binary = path

    def synthesize(self, text: str) -> TTSStream:
        return GeneratorTTSStream(lambda: self._run(text))

    def _error(self, message: str, *, retryable: bool = False) -> ProviderError:
        return ProviderError(message, provider=self.label, retryable=retryable, category=ErrorCategory.SERVER)

    async def _run(self, text: str) -> AsyncIterator[AudioFrame]:
        if not text.strip():
            return
        args = ["--stdout", "--stdin", "-v", self.voice, "-s", str(self.rate), "-p", str(self.pitch)]
        try:
            proc = await asyncio.create_subprocess_exec(
                self._binary,
                *args,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except FileNotFoundError as e:
            raise ProviderError(
                f"the espeak-ng binary disappeared ({self._binary}); install it with `{INSTALL_HINT}`",
                provider=self.label,
                retryable=False,
                category=ErrorCategory.BAD_REQUEST,
            ) from e
        try:
            assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
            proc.stdin.write(text.encode("utf-8"))
            await proc.stdin.drain()
            proc.stdin.close()
            async for frame in self._read_audio(proc.stdout):
                yield frame
            err = await proc.stderr.read()
            code = await proc.wait()
            if code != 0:
                detail = err.decode("utf-8", "replace").strip()[:200]
                raise self._error(f"espeak-ng exited with {code} (voice {self.voice!r}): {detail}")
        except (BrokenPipeError, ConnectionResetError) as e:
            raise self._error(f"espeak-ng closed its pipe early: {e}") from e
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()

    async def _read_audio(self, stdout: asyncio.StreamReader) -> AsyncIterator[AudioFrame]:
        buf = bytearray()
        header: WavHeader | None = None
        while header is None:
            chunk = await stdout.read(_MAX_HEADER)
            if not chunk:
                if buf:
                    raise self._error(f"espeak-ng output ended inside the WAV header ({len(buf)} bytes)")
                return  # nothing spoken (e.g. only punctuation); the exit code is checked by the caller
            buf += chunk
            try:
                header = parse_wav_header(buf)
            except ValueError as e:
                raise self._error(f"espeak-ng produced unexpected output: {e}") from e
            if header is None and len(buf) > _MAX_HEADER:
                raise self._error("espeak-ng output has no WAV data chunk")
        assert header is not None
        resampler = Resampler(self.sample_rate)
        frame_bytes = 2 * header.num_channels
        read_size = frame_bytes * max(1, round(header.sample_rate * _READ_SECONDS))
        pending = bytearray(buf[header.size :])
        while True:
            while len(pending) >= frame_bytes:
                usable = min(read_size, len(pending) - len(pending) % frame_bytes)
                data = np.frombuffer(bytes(pending[:usable]), dtype="<i2").astype(np.int16, copy=False)
                del pending[:usable]
                out = resampler.push(AudioFrame(data, header.sample_rate, header.num_channels))
                if out is not None and out.samples_per_channel:
                    yield out
            chunk = await stdout.read(read_size)
            if not chunk:
                break
            pending += chunk
        tail = resampler.flush()
        if tail is not None and tail.samples_per_channel:
            yield tail


async def synthesize_to_frame(
    text: str,
    *,
    voice: str = "en-us",
    rate: int = 175,
    pitch: int = 50,
    sample_rate: int = 24000,
) -> AudioFrame:
    """Synthesize ``text`` to one clip (empty text gives an empty frame). For tests and demos."""
    tts = EspeakTTS(voice=voice, rate=rate, pitch=pitch, sample_rate=sample_rate)
    frames: list[AudioFrame] = []
    async with tts.synthesize(text) as stream:
        async for frame in stream:
            frames.append(frame)
    if not frames:
        return AudioFrame(np.zeros(0, dtype=np.int16), sample_rate)
    return combine_frames(frames)
