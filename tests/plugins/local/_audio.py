"""Real speech for the local-provider tests: espeak-ng run directly (independent of EspeakTTS)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import subprocess
from collections.abc import AsyncIterator

import numpy as np

from livekitex_agent.media import AudioFrame, resample


@functools.lru_cache(maxsize=64)
def espeak_clip(text: str, sample_rate: int = 16000, voice: str = "en-us", rate: int = 175) -> AudioFrame:
    """``text`` spoken by espeak-ng, resampled to ``sample_rate`` (digital silence around the words)."""
    wav = subprocess.run(
        ["espeak-ng", "--stdout", "-v", voice, "-s", str(rate), text],
        check=True,
        capture_output=True,
        timeout=30,
    ).stdout
    assert wav[:4] == b"RIFF" and wav[36:40] == b"data", "unexpected espeak-ng output"
    source_rate = int.from_bytes(wav[24:28], "little")
    frame = AudioFrame(np.frombuffer(wav[44:], dtype="<i2").astype(np.int16), source_rate)
    return resample(frame, sample_rate)


def voiced_bounds(frame: AudioFrame, threshold: int = 100) -> tuple[float, float]:
    """Seconds of the first and last sample louder than ``threshold`` (the truth for VAD tests)."""
    loud = np.flatnonzero(np.abs(frame.data.astype(np.int32)) > threshold)
    assert loud.size, "clip is silent"
    return loud[0] / frame.sample_rate, (loud[-1] + 1) / frame.sample_rate


def white_noise(duration: float, sample_rate: int, dbfs: float, seed: int = 7) -> AudioFrame:
    """Gaussian noise whose RMS is ``dbfs``."""
    rms = 32768.0 * 10.0 ** (dbfs / 20.0)
    samples = np.random.default_rng(seed).normal(0.0, rms, round(duration * sample_rate))
    return AudioFrame(np.clip(samples, -32768, 32767).astype(np.int16), sample_rate)


def chunks(frame: AudioFrame, duration: float = 0.02) -> list[AudioFrame]:
    """``frame`` cut into pieces of ``duration`` (the last may be shorter)."""
    n = max(1, round(duration * frame.sample_rate))
    return [
        AudioFrame(frame.data[i : i + n], frame.sample_rate) for i in range(0, frame.samples_per_channel, n)
    ]


class LoopTicks:
    """How many 5 ms sleeps the event loop managed (it keeps ticking unless something blocks it)."""

    count = 0


@contextlib.asynccontextmanager
async def loop_ticks() -> AsyncIterator[LoopTicks]:
    ticks = LoopTicks()

    async def tick() -> None:
        while True:
            await asyncio.sleep(0.005)
            ticks.count += 1

    task = asyncio.create_task(tick())
    try:
        yield ticks
    finally:
        task.cancel()
