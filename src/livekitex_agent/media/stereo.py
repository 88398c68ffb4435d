"""Two timed mono tracks as one stereo recording on one timeline (e.g. user left, agent right)."""

from __future__ import annotations

import numpy as np

from .frame import AudioFrame
from .resample import resample

TimedFrames = list[tuple[float, AudioFrame]]  # (loop time the frame starts, frame)

JOIN_TOLERANCE = 0.06  # a frame this close after the previous one continues it (timer jitter)


def place_frames(frames: TimedFrames, origin: float, sample_rate: int) -> np.ndarray:
    """Lay timed mono frames on a timeline starting at loop time ``origin``.

    Each frame starts where the previous one ended unless its time stamp is later by more than
    :data:`JOIN_TOLERANCE` (then silence fills the gap): contiguous audio stays contiguous
    whatever the jitter of the clock that stamped it. Frames must have ``sample_rate``.
    """
    placed: list[tuple[int, np.ndarray]] = []
    cursor = 0
    tolerance = round(JOIN_TOLERANCE * sample_rate)
    for t, frame in sorted(frames, key=lambda pair: pair[0]):
        if frame.sample_rate != sample_rate:
            raise ValueError(f"frame at {frame.sample_rate} Hz on a {sample_rate} Hz timeline")
        data = frame.to_mono().data
        start = max(0, round((t - origin) * sample_rate))
        pos = cursor if start - cursor <= tolerance else start
        placed.append((pos, data))
        cursor = pos + data.size
    out = np.zeros(cursor, dtype=np.int16)
    for pos, data in placed:
        out[pos : pos + data.size] = data
    return out


def _channel(frames: TimedFrames, origin: float, sample_rate: int) -> np.ndarray:
    if not frames:
        return np.zeros(0, dtype=np.int16)
    native = frames[0][1].sample_rate
    # the rare frame at another rate (an input that changed) is brought to the first frame's rate
    frames = [(t, f if f.sample_rate == native else resample(f.to_mono(), native)) for t, f in frames]
    track = place_frames(frames, origin, native)  # resampled once, as a whole
    if native == sample_rate or track.size == 0:
        return track
    return resample(AudioFrame(track, native), sample_rate).data


def stereo_track(left: TimedFrames, right: TimedFrames, *, origin: float, sample_rate: int = 24000) -> AudioFrame:
    """Both tracks as a 2-channel frame from loop time ``origin``, equally long (the shorter padded)."""
    lch = _channel(left, origin, sample_rate)
    rch = _channel(right, origin, sample_rate)
    n = max(lch.size, rch.size)
    stereo = np.zeros((n, 2), dtype=np.int16)
    stereo[: lch.size, 0] = lch
    stereo[: rch.size, 1] = rch
    return AudioFrame(stereo.reshape(-1), sample_rate, 2)
