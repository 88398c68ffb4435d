"""How a session asks for a room's audio: at the rates that need no second resampling."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from livekitex_agent import Agent
from livekitex_agent.media.io import SessionIO
from livekitex_agent.session import AgentSession, room_io
from livekitex_agent.testing import FakeLLM, FakeSTT, FakeTTS, FakeVAD, virtual_time


@pytest.fixture
def room_options() -> Iterator[list[dict[str, Any]]]:
    """The options each room I/O was made with (a stand-in factory instead of LiveKit's)."""
    seen: list[dict[str, Any]] = []
    saved = room_io._factory

    def factory(room: Any, **options: Any) -> SessionIO:
        seen.append(options)
        return SessionIO()

    room_io.register_room_io_factory(factory)
    yield seen
    room_io._factory = saved


@virtual_time
async def test_a_pipeline_gets_the_room_audio_at_the_vad_rate_and_plays_at_the_tts_rate(
    room_options: list[dict[str, Any]],
) -> None:
    vad, tts = FakeVAD(), FakeTTS(sample_rate=16000)
    vad.sample_rate = 8000
    session = AgentSession(vad=vad, stt=FakeSTT(["hi"]), llm=FakeLLM(["Hello."]), tts=tts)
    await session.start(Agent("x"), room=object())
    await session.aclose()
    assert room_options == [{"input_sample_rate": 8000, "output_sample_rate": 16000}]


@virtual_time
async def test_rates_given_to_start_win_and_a_tts_rate_webrtc_cannot_take_is_left_alone(
    room_options: list[dict[str, Any]],
) -> None:
    session = AgentSession(
        vad=FakeVAD(), stt=FakeSTT(["hi"]), llm=FakeLLM(["Hello."]), tts=FakeTTS(sample_rate=22050)
    )
    await session.start(Agent("x"), room=object(), input_sample_rate=48000)
    await session.aclose()
    assert room_options == [{"input_sample_rate": 48000}]
