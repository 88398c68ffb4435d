"""Reading and writing 16-bit PCM WAV files."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from .frame import AudioFrame


def read_wav(path: str | Path) -> AudioFrame:
    """Read a 16-bit PCM WAV file into one frame; other sample widths are a clear error."""
    try:
        with wave.open(str(path), "rb") as w:
            width, channels, rate = w.getsampwidth(), w.getnchannels(), w.getframerate()
            data = w.readframes(w.getnframes())
    except (wave.Error, EOFError) as e:
        raise ValueError(f"{path}: not a readable WAV file ({e})") from e
    if width != 2:
        raise ValueError(f"{path}: only 16-bit PCM WAV is supported, this file has {width * 8}-bit samples")
    return AudioFrame(np.frombuffer(data, dtype="<i2").astype(np.int16), rate, channels)


def write_wav(path: str | Path, frame: AudioFrame) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(frame.num_channels)
        w.setsampwidth(2)
        w.setframerate(frame.sample_rate)
        w.writeframes(frame.to_bytes())
