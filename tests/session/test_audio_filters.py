"""Input filters run before the VAD: what they do to the frames is what the VAD and STT hear."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import numpy as np
from _helpers import Recorder, utterance

from livekitex_agent import Agent
from livekitex_agent.media import AudioFrame
from livekitex_agent.providers.stt import SpeechEvent
from livekitex_agent.session import AgentSession
from livekitex_agent.testing import FakeLLM, FakeSTT, FakeTTS, FakeVAD, MemoryIO, virtual_time


class Gain:
    """Amplifies the input (a stand-in for an automatic gain control)."""

    def __init__(self, factor: float) -> None:
        self.factor, self.frames, self.closed = factor, 0, False

    def process(self, frame: AudioFrame) -> AudioFrame | None:
        self.frames += 1
        data = np.clip(frame.data.astype(np.float32) * self.factor, -32768, 32767).astype(np.int16)
        return AudioFrame(data, frame.sample_rate)

    def flush(self) -> AudioFrame | None:
        return None

    def close(self) -> None:
        self.closed = True


class LevelSTT(FakeSTT):
    """Also records how loud each segment it was given is."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.levels: list[float] = []

    async def recognize(self, frames: Sequence[AudioFrame], *, language: str | None = None) -> SpeechEvent:
        self.levels.append(max(f.rms_dbfs() for f in frames))
        return await super().recognize(frames, language=language)


async def _quiet_turn(filters: list[Gain]) -> tuple[AgentSession, LevelSTT, Recorder]:
    io, stt = MemoryIO(), LevelSTT(["hello there"])
    session = AgentSession(
        vad=FakeVAD(threshold_dbfs=-45.0), stt=stt, llm=FakeLLM(["Hi!"]), tts=FakeTTS(),
        audio_filters=filters,
    )
    rec = Recorder(session)
    await session.start(Agent("hi"), io=io)
    quiet = utterance(1.0)  # a 300 Hz tone at -13 dBFS ...
    io.push_silence(0.3)
    io.push_audio(AudioFrame((quiet.data // 100).astype(np.int16), quiet.sample_rate))  # ... made -53 dBFS
    io.push_silence(2.0)
    io.end_input()
    await asyncio.wait_for(session.wait_closed(), 60)
    return session, stt, rec


@virtual_time
async def test_without_a_filter_a_quiet_user_is_not_heard() -> None:
    _, stt, rec = await _quiet_turn([])
    assert stt.calls == [] and rec.of("user_input_transcribed") == []


@virtual_time
async def test_a_filter_changes_what_the_vad_and_stt_hear_and_the_session_closes_it() -> None:
    gain = Gain(30.0)  # +29.5 dB: the quiet tone is now at about -23 dBFS
    session, stt, rec = await _quiet_turn([gain])
    assert gain.frames > 100  # every 20 ms frame went through it
    assert [e.transcript for e in rec.of("user_input_transcribed")] == ["hello there"]
    (level,) = stt.levels
    assert -26.0 < level < -20.0  # the STT got the filtered audio, not the original
    assert session.history.messages()[-1].content == "Hi!"
    assert gain.closed  # owned by the session


@virtual_time
async def test_a_filter_that_fails_on_frames_is_reported_and_ends_a_deaf_session() -> None:
    class Broken(Gain):
        def process(self, frame: AudioFrame) -> AudioFrame | None:
            raise ValueError("bad block")

    broken = Broken(1.0)
    session, stt, rec = await _quiet_turn([broken])
    (first, *_rest) = rec.of("error")
    assert "bad block" in str(first.error) and first.recoverable
    assert rec.of("close")[0].reason.value == "error"  # 50 unusable frames in a row: deaf, says so
    assert broken.closed
