"""openai.RealtimeSTT: a Realtime transcription session as a streaming STT (recorded messages, test server)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from livekitex_agent import Agent, AgentSession
from livekitex_agent.errors import ErrorCategory, ProviderError
from livekitex_agent.plugins.openai import RealtimeSTT
from livekitex_agent.plugins.openai.realtime.protocol import parse_server_event
from livekitex_agent.plugins.openai.realtime_stt import TranscriptAssembler, transcription_session
from livekitex_agent.providers import SpeechEvent, SpeechEventType
from livekitex_agent.testing import FakeLLM, FakeTTS, FakeVAD, MemoryIO
from livekitex_agent.testing.realtime_server import RealtimeTestServer

from ._realtime_helpers import frames

FIXTURES = Path(__file__).parents[2] / "fixtures" / "realtime"


def recorded(name: str) -> list[str]:
    return [json.dumps(m) for m in json.loads((FIXTURES / name).read_text())]


# -- pure parts ----------------------------------------------------------------------------------------
def test_a_recorded_transcription_session_gives_growing_interims_then_the_final() -> None:
    assembler = TranscriptAssembler("openai", language="en")
    out: list[tuple[str, str]] = []
    for raw in recorded("ga_transcription_session.json"):
        event = assembler.feed(parse_server_event(raw))
        if event is not None:
            out.append((event.type.value, event.text))
    assert out == [
        ("interim_transcript", "Book"),
        ("interim_transcript", "Book a table"),
        ("interim_transcript", "Book a table for two."),
        ("final_transcript", "Book a table for two."),
    ]  # the stray delta of another item is not ours
    assert assembler.done


def test_failed_transcription_and_server_errors_are_provider_errors() -> None:
    assembler = TranscriptAssembler("openai", language=None)
    assembler.feed(parse_server_event(json.dumps({"type": "input_audio_buffer.committed", "item_id": "i1"})))
    failed = {
        "type": "conversation.item.input_audio_transcription.failed",
        "item_id": "i1",
        "content_index": 0,
        "error": {
            "type": "transcription_error",
            "code": "audio_unintelligible",
            "message": "Could not transcribe.",
        },
    }
    with pytest.raises(ProviderError, match="audio_unintelligible") as info:
        assembler.feed(parse_server_event(json.dumps(failed)))
    assert not info.value.retryable
    benign = {
        "type": "error",
        "error": {
            "type": "invalid_request_error",
            "code": "input_audio_buffer_commit_empty",
            "message": "buffer too small",
        },
    }
    assert assembler.feed(parse_server_event(json.dumps(benign))) is None
    fatal = {
        "type": "error",
        "error": {"type": "invalid_request_error", "code": "invalid_api_key", "message": "no"},
    }
    with pytest.raises(ProviderError) as info:
        assembler.feed(parse_server_event(json.dumps(fatal)))
    assert info.value.category is ErrorCategory.AUTHENTICATION and not info.value.retryable


def test_session_update_is_a_transcription_session_with_manual_turns() -> None:
    assert transcription_session("gpt-4o-transcribe", "en-US", "Names: Ada") == {
        "type": "transcription",
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "transcription": {"model": "gpt-4o-transcribe", "language": "en", "prompt": "Names: Ada"},
                "turn_detection": None,
            }
        },
    }
    assert transcription_session("m", None, None)["audio"]["input"]["transcription"] == {"model": "m"}


def test_the_url_has_the_transcription_intent_and_the_key_stays_out_of_repr() -> None:
    stt = RealtimeSTT(api_key="sk-secret-123", base_url="https://api.openai.com/v1")
    assert stt.url == "wss://api.openai.com/v1/realtime?intent=transcription"
    assert "sk-secret" not in repr(stt)


# -- against the test server ---------------------------------------------------------------------------
async def read_all(stream: Any) -> list[SpeechEvent]:
    return [e async for e in stream]


async def test_a_segment_streams_to_a_transcription_session_and_comes_back_word_by_word() -> None:
    async with RealtimeTestServer(default_transcript=None) as server:
        server.queue_transcript("what is the weather")
        stt = RealtimeSTT(api_key=server.api_key, base_url=server.base_url, language="en-US")
        stream = stt.stream()
        reader = asyncio.create_task(read_all(stream))
        for frame in frames(600, loud=True, rate=16000):  # pushed before the socket is even open
            stream.push_frame(frame)
        stream.end_input()
        events = await asyncio.wait_for(reader, 10)
        await stream.aclose()
        await stt.aclose()

        assert [(e.type, e.text) for e in events] == [
            (SpeechEventType.INTERIM_TRANSCRIPT, "what"),
            (SpeechEventType.INTERIM_TRANSCRIPT, "what is"),
            (SpeechEventType.INTERIM_TRANSCRIPT, "what is the"),
            (SpeechEventType.INTERIM_TRANSCRIPT, "what is the weather"),
            (SpeechEventType.FINAL_TRANSCRIPT, "what is the weather"),
        ]
        (conn,) = server.connections
        assert conn.intent == "transcription" and conn.model == ""
        types = conn.client_types()
        assert types[0] == "session.update" and types[-1] == "input_audio_buffer.commit"
        assert set(types[1:-1]) == {"input_audio_buffer.append"}
        update = conn.client_events[0]["session"]
        assert update["type"] == "transcription" and update["audio"]["input"]["turn_detection"] is None
        assert conn.session["audio"]["input"]["transcription"]["language"] == "en"
        assert "response.created" not in conn.server_types()
        appended = sum(
            len(e["audio"]) * 3 // 4 for e in conn.client_events if e["type"] == "input_audio_buffer.append"
        )
        # 600 ms at 24 kHz PCM16, less what the 16 → 24 kHz resampler still holds (its filter delay)
        assert 0.575 * 48000 <= appended <= 0.6 * 48000


async def test_a_failed_transcription_breaks_the_stream_and_recognize_works_again() -> None:
    async with RealtimeTestServer(default_transcript=None) as server:
        server.queue_transcript(None, "hello there")
        stt = RealtimeSTT(api_key=server.api_key, base_url=server.base_url)
        stream = stt.stream()
        for frame in frames(300, loud=True, rate=24000):
            stream.push_frame(frame)
        stream.end_input()
        with pytest.raises(ProviderError, match="audio_unintelligible"):
            await asyncio.wait_for(read_all(stream), 10)
        await stream.aclose()
        short = frames(40, loud=True, rate=24000)  # padded to the 100 ms the server needs
        event = await asyncio.wait_for(stt.recognize(short), 10)
        assert event.text == "hello there" and event.audio_duration == pytest.approx(0.04)
        await stt.aclose()
        assert all(c.closed for c in server.connections)


async def test_the_test_server_keeps_transcription_sessions_to_their_own_shape() -> None:
    async with RealtimeTestServer() as server, aiohttp.ClientSession() as http:
        url = server.base_url.replace("http", "ws", 1) + "/realtime?intent=transcription"
        async with http.ws_connect(url, headers={"Authorization": f"Bearer {server.api_key}"}) as ws:
            created = json.loads((await ws.receive()).data)
            assert created["type"] == "session.created" and created["session"]["type"] == "transcription"
            for session, param in (
                ({"type": "realtime"}, "session.type"),
                ({"type": "transcription", "tools": []}, "session.tools"),
            ):
                await ws.send_str(json.dumps({"type": "session.update", "session": session}))
                error = json.loads((await ws.receive()).data)
                assert error["type"] == "error" and error["error"]["param"] == param
            await ws.send_str(json.dumps({"type": "response.create"}))
            assert json.loads((await ws.receive()).data)["type"] == "error"


async def test_a_spoken_turn_in_a_session_shows_interims_and_is_answered() -> None:
    async with RealtimeTestServer(default_transcript=None) as server:
        server.queue_transcript("book a table")
        stt = RealtimeSTT(api_key=server.api_key, base_url=server.base_url)
        io = MemoryIO()
        session = AgentSession(vad=FakeVAD(), stt=stt, llm=FakeLLM(["Booked."]), tts=FakeTTS())
        seen: list[tuple[str, bool]] = []
        session.on("user_input_transcribed", lambda e: seen.append((e.transcript, e.is_final)))
        await session.start(Agent("Be brief."), io=io)
        io.push_silence(0.2)
        for frame in frames(800, loud=True, rate=16000):
            io.push_audio(frame)
        io.push_silence(1.5)
        io.end_input()
        await asyncio.wait_for(session.wait_closed(), 20)
        await stt.aclose()
        assert seen == [("book", False), ("book a", False), ("book a table", False), ("book a table", True)]
        assert [m.content for m in session.history.messages()][1:] == ["book a table", "Booked."]
