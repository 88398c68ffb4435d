"""RNNoise as an input filter: noise goes, speech stays, and the VAD stops starting on noise."""

from __future__ import annotations

import asyncio
import importlib.util

import pytest

from livekitex_agent import Agent
from livekitex_agent.events import UserState
from livekitex_agent.media import AudioFrame, combine_frames
from livekitex_agent.plugins.local import RNNoiseFilter, rnnoise
from livekitex_agent.session import AgentSession
from livekitex_agent.testing import FakeLLM, FakeSTT, FakeTTS, FakeVAD, MemoryIO, virtual_time

from ._audio import espeak_clip, white_noise


def _run(filt: RNNoiseFilter, audio: AudioFrame, frame_ms: int = 20) -> AudioFrame:
    n = audio.sample_rate * frame_ms // 1000
    outs = [o for i in range(0, audio.data.size, n) if (o := filt.process(AudioFrame(audio.data[i : i + n], audio.sample_rate)))]
    if (rest := filt.flush()) is not None:
        outs.append(rest)
    return combine_frames(outs)


@pytest.mark.parametrize("rate", [48000, 16000])
def test_noise_only_input_is_attenuated(rate: int) -> None:
    noise = white_noise(2.0, rate, dbfs=-30.0)
    filt = RNNoiseFilter()
    try:
        out = _run(filt, noise)
    finally:
        filt.close()
    assert out.sample_rate == 48000  # a known rate: RNNoise's own
    assert abs(out.duration - 2.0) < 0.02  # nothing lost, nothing invented
    assert out.slice(0.5).rms_dbfs() < -30.0 - 20.0  # at least 20 dB quieter once it has adapted


def test_speech_comes_through() -> None:
    speech = espeak_clip("book a table for two at seven", 48000)
    filt = RNNoiseFilter()
    try:
        out = _run(filt, speech)
    finally:
        filt.close()
    assert abs(out.duration - speech.duration) < 0.02
    assert out.rms_dbfs() > speech.rms_dbfs() - 6.0  # the voice keeps most of its energy


@virtual_time
async def test_in_a_session_the_vad_no_longer_starts_on_steady_noise() -> None:
    async def user_states(filters: list[RNNoiseFilter]) -> list[UserState]:
        io = MemoryIO(input_sample_rate=48000)
        session = AgentSession(
            vad=FakeVAD(threshold_dbfs=-40.0), stt=FakeSTT(), llm=FakeLLM(), tts=FakeTTS(), audio_filters=filters
        )
        states: list[UserState] = []
        session.on("user_state_changed", lambda e: states.append(e.new_state))
        await session.start(Agent("hi"), io=io)
        io.push_audio(white_noise(2.0, 48000, dbfs=-30.0))  # a fan, louder than the VAD's threshold
        io.end_input()
        await asyncio.wait_for(session.wait_closed(), 60)
        return states

    assert UserState.SPEAKING in await user_states([])
    filt = RNNoiseFilter()
    assert UserState.SPEAKING not in await user_states([filt])
    with pytest.raises(RuntimeError, match="closed"):  # the session closed it
        filt.process(AudioFrame.silence(0.01, 48000))


def test_missing_package_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rnnoise, "_library", None)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(ImportError, match=r"pip install 'livekitex-agent\[noise\]'"):
        RNNoiseFilter()
