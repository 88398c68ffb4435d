from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pytest

from livekitex_agent.errors import ConfigError
from livekitex_agent.media import AudioFrame
from livekitex_agent.plugins.local import SileroVAD, WebRTCVAD
from livekitex_agent.providers import VAD, VADEvent, VADEventType, VADStream

from ._audio import chunks, espeak_clip, voiced_bounds, white_noise

VADFactory = Callable[[int], VAD]
FACTORIES: dict[str, VADFactory] = {
    "silero": lambda rate: SileroVAD(sample_rate=rate),
    "webrtc": lambda rate: WebRTCVAD(sample_rate=rate),
}


def _run(stream: VADStream, audio: AudioFrame, piece: float = 0.02) -> list[VADEvent]:
    events: list[VADEvent] = []
    for frame in chunks(audio, piece):
        events.extend(stream.push_frame(frame))
    events.extend(stream.flush())
    return events


def _segments(events: Sequence[VADEvent]) -> list[tuple[float, float]]:
    """(start, end) per segment; asserts that starts and ends alternate."""
    out: list[tuple[float, float]] = []
    start: float | None = None
    for e in events:
        if e.type is VADEventType.START_OF_SPEECH:
            assert start is None, "two starts in a row"
            start = e.timestamp
        elif e.type is VADEventType.END_OF_SPEECH:
            assert start is not None, "end without start"
            out.append((start, e.timestamp))
            start = None
    assert start is None
    return out


def _two_utterances(rate: int) -> tuple[AudioFrame, list[tuple[float, float]]]:
    """'speech, 1 s silence, speech, silence', and the voiced bounds of both utterances."""
    first = espeak_clip("book a table for two at seven", rate)
    second = espeak_clip("cancel my reservation please", rate)
    gap = np.zeros(rate, dtype=np.int16)
    audio = AudioFrame(np.concatenate([first.data, gap, second.data, gap]), rate)
    a0, a1 = voiced_bounds(first)
    b0, b1 = voiced_bounds(second)
    offset = first.duration + 1.0
    return audio, [(a0, a1), (b0 + offset, b1 + offset)]


@pytest.mark.parametrize("rate", [16000, 8000])
@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_two_utterances_give_two_segments_at_the_right_times(name: str, rate: int) -> None:
    audio, truth = _two_utterances(rate)
    vad = FACTORIES[name](rate)
    events = _run(vad.stream(), audio)
    segments = _segments(events)
    assert len(segments) == 2, segments
    for (start, end), (true_start, true_end) in zip(segments, truth, strict=True):
        assert abs(start - true_start) <= 0.1, (segments, truth)
        assert abs(end - true_end) <= 0.1, (segments, truth)
    # the segment audio covers the utterance (plus prefix padding and a short tail)
    ends = [e for e in events if e.type is VADEventType.END_OF_SPEECH]
    for event, (true_start, true_end) in zip(ends, truth, strict=True):
        seg_duration = sum(f.duration for f in event.frames)
        assert true_end - true_start <= seg_duration <= true_end - true_start + 0.5 + 0.2 + 0.15
        assert all(f.sample_rate == rate for f in event.frames)


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_silence_and_low_noise_give_no_segment(name: str) -> None:
    vad = FACTORIES[name](16000)
    assert _run(vad.stream(), AudioFrame.silence(3.0, 16000)) == []
    for dbfs in (-60.0, -50.0):
        events = _run(vad.stream(), white_noise(3.0, 16000, dbfs))
        assert _segments(events) == [], f"noise at {dbfs} dBFS was taken for speech"


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_streams_are_independent(name: str) -> None:
    vad = FACTORIES[name](16000)
    audio, _ = _two_utterances(16000)
    other = espeak_clip("the quick brown fox jumps over the lazy dog", 16000)
    reference = [(e.type, e.timestamp, e.probability) for e in _run(vad.stream(), audio)]

    a, b = vad.stream(), vad.stream()
    got: list[VADEvent] = []
    other_events: list[VADEvent] = []
    other_frames = chunks(other)
    for i, frame in enumerate(chunks(audio)):
        got.extend(a.push_frame(frame))
        other_events.extend(b.push_frame(other_frames[i % len(other_frames)]))
    got.extend(a.flush())
    assert [(e.type, e.timestamp, e.probability) for e in got] == reference
    assert _segments(other_events + list(b.flush()))  # b really was fed speech meanwhile

    # a closed stream gives its model back; the next stream starts from a clean state
    a.close()
    b.close()
    again = [(e.type, e.timestamp, e.probability) for e in _run(vad.stream(), audio)]
    assert again == reference


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_frame_size_does_not_change_the_result(name: str) -> None:
    vad = FACTORIES[name](16000)
    audio, _ = _two_utterances(16000)
    small = _segments(_run(vad.stream(), audio, 0.01))
    large = _segments(_run(vad.stream(), audio, 0.25))
    assert small == large and len(small) == 2


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_wrong_rate_and_closed_stream_are_clear_errors(name: str) -> None:
    stream = FACTORIES[name](16000).stream()
    with pytest.raises(ValueError, match="16000 Hz.*48000 Hz"):
        stream.push_frame(AudioFrame.silence(0.02, 48000))
    stream.close()
    with pytest.raises(RuntimeError, match="closed"):
        stream.push_frame(AudioFrame.silence(0.02, 16000))


def test_silero_reports_probabilities_while_speaking() -> None:
    audio, _ = _two_utterances(16000)
    events = _run(SileroVAD().stream(), audio)
    inference = [e for e in events if e.type is VADEventType.INFERENCE]
    assert inference, "no INFERENCE events while speaking"
    assert max(e.probability for e in inference) > 0.9
    assert all(0.0 <= e.probability <= 1.0 for e in inference)


def test_options_are_validated_with_the_bad_value() -> None:
    with pytest.raises(ConfigError, match="44100"):
        SileroVAD(sample_rate=44100)
    with pytest.raises(ConfigError, match="1.5"):
        SileroVAD(activation_threshold=1.5)
    with pytest.raises(ConfigError, match="min_silence_duration"):
        SileroVAD(min_silence_duration=-1)
    with pytest.raises(ConfigError, match="aggressiveness.*5"):
        WebRTCVAD(aggressiveness=5)
    with pytest.raises(ConfigError, match="0.025"):
        WebRTCVAD(window_duration=0.025)
    with pytest.raises(ConfigError, match="22050"):
        WebRTCVAD(sample_rate=22050)


def test_silero_options_reach_the_segmenter() -> None:
    audio, _ = _two_utterances(16000)
    # a long minimum silence merges the two utterances (1 s apart) into one segment
    merged = _segments(_run(SileroVAD(min_silence_duration=1.6).stream(), audio))
    assert len(merged) == 1
