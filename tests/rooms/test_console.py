from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from livekitex_agent import Agent
from livekitex_agent.media import AudioFrame, read_wav, write_wav
from livekitex_agent.rooms.console import ConsoleIO, WavFileInput
from livekitex_agent.session import AgentSession
from livekitex_agent.testing import FakeLLM, FakeSTT, FakeTTS, FakeVAD, virtual_time


def write_utterance_wav(path: Path) -> None:
    rate = 16000
    t = np.arange(rate) / rate
    speech = 0.3 * np.sin(2 * np.pi * 300 * t)
    signal = np.concatenate([np.zeros(rate // 2), speech, np.zeros(rate // 2)])
    write_wav(path, AudioFrame.from_float(signal, rate))


@virtual_time
async def test_console_reads_a_wav_and_writes_the_reply_on_the_same_timeline(tmp_path: Path) -> None:
    write_utterance_wav(tmp_path / "in.wav")
    tts = FakeTTS()
    session = AgentSession(
        vad=FakeVAD(), stt=FakeSTT(["hello"]), llm=FakeLLM(["Hi there, how are you?"]), tts=tts
    )
    io = ConsoleIO(tmp_path / "in.wav", tmp_path / "out.wav", trailing_silence=4.0)
    await session.start(Agent("Be brief."), io=io)
    await asyncio.wait_for(session.wait_closed(), 60)

    out = read_wav(tmp_path / "out.wav")
    assert out.sample_rate == 24000
    loud = np.flatnonzero(np.abs(out.data) > 1000) / out.sample_rate
    # user speech 0.5–1.5 s, endpointing 0.5 s: the agent starts at 2.0 s and speaks for the TTS duration
    assert loud[0] == pytest.approx(2.0, abs=0.03)
    assert loud[-1] - loud[0] == pytest.approx(tts.duration_for("Hi there, how are you?"), abs=0.03)


def test_bad_input_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="missing.wav"):
        WavFileInput(tmp_path / "missing.wav")
    write_wav(tmp_path / "empty.wav", AudioFrame(np.zeros(0, np.int16), 16000))
    with pytest.raises(ValueError, match="empty"):
        WavFileInput(tmp_path / "empty.wav")
