"""Reading and writing 16-bit PCM WAV files."""

from __future__ import annotations

import os
import wave
from pathlib import Path
from typing import BinaryIO

import numpy as np

from .frame import AudioFrame


def read_wav(source: str | Path | BinaryIO) -> AudioFrame:
    """Read a 16-bit PCM WAV file (a path or a binary file object) into one frame; other sample
    widths are a clear error."""
    name = os.fspath(source) if isinstance(source, str | Path) else getattr(source, "name", "WAV data")
    try:
        with wave.open(name if isinstance(source, str | Path) else source, "rb") as w:
            width, channels, rate = w.getsampwidth(), w.getnchannels(), w.getframerate()
            data = w.readframes(w.getnframes())
    except (wave.Error, EOFError) as e:
        raise ValueError(f"{name}: not a readable WAV file ({e})") from e
    if width != 2:
        raise ValueError(f"{name}: only 16-bit PCM WAV is supported, this file has {width * 8}-bit samples")
    return AudioFrame(np.frombuffer(data, dtype="<i2").astype(np.int16), rate, channels)


def write_wav(target: str | Path | BinaryIO, frame: AudioFrame) -> None:
    """Write ``frame`` as a 16-bit PCM WAV file (to a path or a binary file object)."""
    with wave.open(os.fspath(target) if isinstance(target, str | Path) else target, "wb") as w:
        w.setnchannels(frame.num_channels)
        w.setsampwidth(2)
        w.setframerate(frame.sample_rate)
        w.writeframes(frame.to_bytes())
