from __future__ import annotations

import numpy as np

from livekitex_agent.media import AudioFrame
from livekitex_agent.providers import VADEventType, VADOptions
from livekitex_agent.testing import FakeVAD


def _speech_then_silence(rate: int = 16000) -> AudioFrame:
    t = np.arange(rate) / rate
    loud = 0.3 * np.sin(2 * np.pi * 300 * t)
    signal = np.concatenate([np.zeros(rate // 2), loud, np.zeros(rate)])
    return AudioFrame.from_float(signal, rate)


def test_energy_vad_segments_with_padding_and_events() -> None:
    vad = FakeVAD(min_silence_duration=0.3, prefix_padding_duration=0.1)
    stream = vad.stream()
    audio = _speech_then_silence()
    events = []
    for i in range(0, audio.samples_per_channel, 320):  # 20 ms frames
        events.extend(stream.push_frame(AudioFrame(audio.data[i : i + 320], 16000)))
    kinds = [e.type for e in events if e.type is not VADEventType.INFERENCE]
    assert kinds == [VADEventType.START_OF_SPEECH, VADEventType.END_OF_SPEECH]
    start = next(e for e in events if e.type is VADEventType.START_OF_SPEECH)
    end = next(e for e in events if e.type is VADEventType.END_OF_SPEECH)
    assert abs(start.timestamp - 0.5) <= 0.01
    assert abs(end.timestamp - 1.5) <= 0.01
    assert abs(end.silence_duration - 0.3) <= 0.011
    seg = sum(f.duration for f in end.frames)
    assert 1.0 + 0.1 <= seg <= 1.0 + 0.1 + 0.2 + 0.02  # speech + prefix padding + at most 0.2 s of tail


def test_no_segment_for_silence_and_flush_closes_open_speech() -> None:
    stream = FakeVAD().stream()
    assert list(stream.push_frame(AudioFrame.silence(2.0, 16000))) == []
    t = np.arange(8000) / 16000
    stream.push_frame(AudioFrame.from_float(0.3 * np.sin(2 * np.pi * 300 * t), 16000))
    closed = list(stream.flush())
    assert len(closed) == 1 and closed[0].type is VADEventType.END_OF_SPEECH


def test_options_validate() -> None:
    import pytest

    with pytest.raises(ValueError, match="min_silence_duration"):
        VADOptions(min_silence_duration=-1)
