from __future__ import annotations

import numpy as np
import pytest

from livekitex_agent.media import AudioFrame, Resampler, combine_frames, read_wav, resample, write_wav


def tone(seconds: float, rate: int, freq: float = 440.0) -> AudioFrame:
    t = np.arange(round(seconds * rate)) / rate
    return AudioFrame.from_float(0.5 * np.sin(2 * np.pi * freq * t), rate)


def test_frame_basics_and_errors() -> None:
    f = AudioFrame.from_bytes(b"\x01\x00\x02\x00", 16000)
    assert f.samples_per_channel == 2 and f.data.tolist() == [1, 2]
    assert f.to_bytes() == b"\x01\x00\x02\x00"
    with pytest.raises(ValueError, match="even number of bytes"):
        AudioFrame.from_bytes(b"\x01", 16000)
    with pytest.raises(ValueError, match="sample_rate"):
        AudioFrame(np.zeros(4, np.int16), 0)
    with pytest.raises(TypeError, match="int16"):
        AudioFrame(np.zeros(4, np.float32), 16000)  # type: ignore[arg-type]
    stereo = AudioFrame(np.array([100, 300, -100, -300], np.int16), 8000, 2)
    assert stereo.to_mono().data.tolist() == [200, -200]
    assert AudioFrame.silence(0.5, 16000).rms_dbfs() == float("-inf")
    assert -10 < tone(0.1, 16000).rms_dbfs() < -8  # 0.5 amplitude sine ≈ -9 dBFS
    with pytest.raises(ValueError, match="cannot combine"):
        combine_frames([tone(0.1, 16000), tone(0.1, 8000)])


def test_streaming_resampler_matches_one_shot_and_keeps_duration() -> None:
    src = tone(1.0, 48000)
    r = Resampler(16000)
    out = []
    for i in range(0, src.samples_per_channel, 480):  # 10 ms frames
        o = r.push(AudioFrame(src.data[i : i + 480], 48000))
        if o is not None:
            out.append(o)
    tail = r.flush()
    if tail is not None:
        out.append(tail)
    streamed = combine_frames(out)
    assert streamed.sample_rate == 16000
    assert abs(streamed.samples_per_channel - 16000) <= 2
    whole = resample(src, 16000)
    n = min(whole.samples_per_channel, streamed.samples_per_channel)
    diff = np.abs(whole.data[:n].astype(int) - streamed.data[:n].astype(int))
    assert np.median(diff) <= 2
    same = tone(0.1, 16000)
    assert Resampler(16000).push(same) is same  # no work when the rate already matches


def test_wav_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    f = tone(0.25, 24000)
    write_wav(tmp_path / "a.wav", f)
    back = read_wav(tmp_path / "a.wav")
    assert back.sample_rate == 24000 and np.array_equal(back.data, f.data)
    (tmp_path / "bad.wav").write_bytes(b"not a wav")
    with pytest.raises(ValueError, match="bad.wav"):
        read_wav(tmp_path / "bad.wav")
