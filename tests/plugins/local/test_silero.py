"""Silero specifics: one model per process shared by every stream, same results as a private model."""

from __future__ import annotations

import numpy as np
import psutil
import pytest

from livekitex_agent.errors import ConfigError
from livekitex_agent.media import AudioFrame
from livekitex_agent.plugins.local import SileroVAD, silero
from livekitex_agent.plugins.local._silero_onnx import SharedModelUnavailable
from livekitex_agent.providers import VADEvent, VADEventType, VADStream

from ._audio import chunks, espeak_clip

MB = 1024 * 1024


def _speech(rate: int) -> AudioFrame:
    first = espeak_clip("book a table for two at seven", rate)
    second = espeak_clip("cancel my reservation please", rate)
    gap = np.zeros(rate, dtype=np.int16)
    return AudioFrame(np.concatenate([first.data, gap, second.data, gap]), rate)


def _events(stream: VADStream, audio: AudioFrame) -> list[VADEvent]:
    events: list[VADEvent] = []
    for frame in chunks(audio, 0.02):
        events.extend(stream.push_frame(frame))
    events.extend(stream.flush())
    stream.close()
    return events


def _probabilities(events: list[VADEvent]) -> list[tuple[VADEventType, float, float]]:
    return [(e.type, round(e.timestamp, 6), e.probability) for e in events]


def _no_shared_model(*_args: object) -> None:
    raise SharedModelUnavailable("test: no C API")


@pytest.mark.parametrize("rate", [16000, 8000])
def test_the_shared_model_gives_what_a_private_model_gives(
    rate: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    audio = _speech(rate)
    shared = _events(SileroVAD(sample_rate=rate, skip_silence_after=None).stream(), audio)
    monkeypatch.setattr(silero, "shared_model", _no_shared_model)
    private_vad = SileroVAD(sample_rate=rate, skip_silence_after=None)
    private = _events(private_vad.stream(), audio)
    assert private_vad._per_stream, "the fallback was not used"
    assert _probabilities(shared) == _probabilities(private)
    assert [e.type for e in shared].count(VADEventType.END_OF_SPEECH) == 2


class _CountingState:
    """A stream's model state that counts the windows run through the model."""

    def __init__(self, inner: silero._State) -> None:
        self.inner = inner
        self.window = inner.window
        self.runs = 0

    def process(self) -> float:
        self.runs += 1
        return self.inner.process()

    def skip(self) -> None:
        self.inner.skip()

    def close(self) -> None:
        self.inner.close()


def _counted(vad: SileroVAD) -> tuple[VADStream, _CountingState]:
    stream = vad.stream()
    assert isinstance(stream, silero._SileroStream) and stream._state is not None
    counting = stream._state = _CountingState(stream._state)
    return stream, counting


@pytest.mark.parametrize("shared", [True, False])
def test_long_silence_skips_the_model_and_speech_after_it_is_found_alike(
    shared: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A caller silent for 3 s between two phrases: after 0.5 s of it the model no longer runs, and
    the speech segments found are those found when every window runs the model, within one window
    (the model's state from 0.5 s into the silence may find the next speech one window earlier)."""
    if not shared:
        monkeypatch.setattr(silero, "shared_model", _no_shared_model)
    first = espeak_clip("book a table for two at seven", 16000)
    second = espeak_clip("cancel my reservation please", 16000)
    gap = np.zeros(3 * 16000, dtype=np.int16)
    audio = AudioFrame(np.concatenate([first.data, gap, second.data, gap[:16000]]), 16000)
    windows = audio.samples_per_channel // 512
    skipping, runs = _counted(SileroVAD())
    every, all_runs = _counted(SileroVAD(skip_silence_after=None))
    skipped_events, every_events = _events(skipping, audio), _events(every, audio)
    assert all_runs.runs == windows
    # the 3 s gap skips ~2.5 s of windows (78), the last second ~0.5 s (15)
    assert runs.runs <= windows - 85, f"{runs.runs} of {windows} windows ran the model"

    def segments(events: list[VADEvent]) -> list[tuple[VADEventType, float]]:
        kinds = (VADEventType.START_OF_SPEECH, VADEventType.END_OF_SPEECH)
        return [(e.type, e.timestamp) for e in events if e.type in kinds]

    found, expected = segments(skipped_events), segments(every_events)
    assert [k for k, _ in found] == [k for k, _ in expected] and len(found) == 4
    for (_, a), (_, b) in zip(found, expected, strict=True):
        assert abs(a - b) <= 0.032 + 1e-9, (found, expected)


def test_skip_silence_after_is_checked() -> None:
    with pytest.raises(ConfigError, match="-1"):
        SileroVAD(skip_silence_after=-1)


def test_streams_of_many_vads_cost_no_model_each() -> None:
    """Twenty sessions, each with its own SileroVAD, in one process: the model is loaded once."""
    SileroVAD().prewarm()
    proc = psutil.Process()
    audio = _speech(16000)
    before = proc.memory_full_info().uss
    streams = [SileroVAD().stream() for _ in range(20)]
    for stream in streams:  # every stream runs the model (buffers touched, outputs written)
        for frame in chunks(audio, 0.02)[:50]:
            stream.push_frame(frame)
    grown = (proc.memory_full_info().uss - before) / MB
    for stream in streams:
        stream.close()
    # a private model per stream costs ~9 MB each (180 MB here)
    assert grown < 10.0, f"20 streams grew the process by {grown:.1f} MB"


def test_the_fallback_pools_private_models(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(silero, "shared_model", _no_shared_model)
    vad = SileroVAD(max_idle_models=1)
    vad.prewarm(3)
    assert len(vad._idle) == 1  # bounded by max_idle_models
    a, b = vad.stream(), vad.stream()
    assert not vad._idle
    a.close()
    b.close()
    assert len(vad._idle) == 1


def test_a_missing_model_file_is_a_clear_error(tmp_path: pytest.TempPathFactory) -> None:
    missing = f"{tmp_path}/nope.onnx"
    with pytest.raises(RuntimeError, match="nope.onnx"):
        SileroVAD(model_path=missing).stream()


def test_a_broken_model_file_is_a_clear_error(tmp_path: pytest.TempPathFactory) -> None:
    broken = f"{tmp_path}/broken.onnx"
    with open(broken, "wb") as f:
        f.write(b"not an onnx model")
    with pytest.raises(RuntimeError, match="broken.onnx"):
        SileroVAD(model_path=broken).prewarm()
