"""OpenAITestServer's own wire behaviour, checked with a plain HTTP client."""

from __future__ import annotations

import io
import json
import wave
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from livekitex_agent.testing.openai_http import ChatReply, OpenAITestServer, ToolCallReply

AUTH = {"Authorization": "Bearer test-key-123"}


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(headers=AUTH) as session:
        yield session


def chat_body(**extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "stream": True, **extra}


async def sse_chunks(resp: aiohttp.ClientResponse) -> list[str]:
    text = await resp.text()
    assert text.endswith("\n\n")
    events = text.split("\n\n")[:-1]
    assert all(e.startswith("data: ") for e in events)
    return [e[len("data: ") :] for e in events]


async def test_sse_stream_shape(server: OpenAITestServer, http: aiohttp.ClientSession) -> None:
    server.queue_chat(ChatReply(text="Hi there", usage=(5, 2)))
    body = chat_body(stream_options={"include_usage": True})
    async with http.post(f"{server.base_url}/chat/completions", json=body) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        assert resp.headers["Transfer-Encoding"] == "chunked"
        events = await sse_chunks(resp)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert {c["id"] for c in chunks} == {chunks[0]["id"]}
    assert all(c["object"] == "chat.completion.chunk" and c["model"] == "gpt-4o-mini" for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "", "refusal": None}
    assert [c["choices"][0]["delta"].get("content") for c in chunks[1:3]] == ["Hi", " there"]
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert all(c["usage"] is None for c in chunks[:-1])
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] == 7


async def test_no_usage_field_without_include_usage(
    server: OpenAITestServer, http: aiohttp.ClientSession
) -> None:
    async with http.post(f"{server.base_url}/chat/completions", json=chat_body()) as resp:
        chunks = [json.loads(e) for e in (await sse_chunks(resp))[:-1]]
    assert all("usage" not in c for c in chunks) and all(c["choices"] for c in chunks)


async def test_interleaved_parallel_tool_calls(server: OpenAITestServer, http: aiohttp.ClientSession) -> None:
    calls = [ToolCallReply("a", '{"x": 1}', call_id="c0"), ToolCallReply("b", '{"y": 2}', call_id="c1")]
    server.queue_chat(ChatReply(tool_calls=calls, interleave_tool_calls=True, argument_chunk_size=4))
    async with http.post(f"{server.base_url}/chat/completions", json=chat_body()) as resp:
        chunks = [json.loads(e) for e in (await sse_chunks(resp))[:-1]]
    deltas = [tc for c in chunks for tc in c["choices"][0]["delta"].get("tool_calls", ())]
    assert [d["index"] for d in deltas] == [0, 1, 0, 1]
    assert deltas[0]["id"] == "c0" and deltas[0]["function"]["name"] == "a" and "id" not in deltas[2]
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


async def test_non_streamed_completion(server: OpenAITestServer, http: aiohttp.ClientSession) -> None:
    server.queue_chat("Plain answer.")
    async with http.post(f"{server.base_url}/chat/completions", json=chat_body(stream=False)) as resp:
        data = await resp.json()
    assert data["object"] == "chat.completion"
    assert data["choices"][0]["message"]["content"] == "Plain answer."


@pytest.mark.parametrize(
    ("messages", "needle"),
    [
        ([{"role": "tool", "tool_call_id": "x", "content": "1"}], "must be a response to a preceding"),
        (
            [
                {"role": "user", "content": "hi"},
                {
                    "role": "assistant",
                    "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f"}}],
                },
                {"role": "user", "content": "again"},
            ],
            "must be followed by tool messages",
        ),
        ([{"role": "robot", "content": "x"}], "role"),
        ([], "messages"),
    ],
)
async def test_rejects_what_openai_rejects(
    server: OpenAITestServer, http: aiohttp.ClientSession, messages: list[dict[str, Any]], needle: str
) -> None:
    async with http.post(f"{server.base_url}/chat/completions", json=chat_body(messages=messages)) as resp:
        assert resp.status == 400
        error = (await resp.json())["error"]
    assert needle in error["message"] and error["type"] == "invalid_request_error"


async def test_authentication(server: OpenAITestServer) -> None:
    url = f"{server.base_url}/chat/completions"
    async with aiohttp.ClientSession() as anonymous, anonymous.post(url, json=chat_body()) as resp:
        assert resp.status == 401
    server.api_key = "the-right-key-0000"
    wrong_auth = {"Authorization": "Bearer sk-wrong-key-123456789"}
    async with aiohttp.ClientSession(headers=wrong_auth) as wrong, wrong.post(url, json=chat_body()) as resp:
        error = (await resp.json())["error"]
    assert resp.status == 401 and error["code"] == "invalid_api_key"
    assert "sk-wrong-key-123456789" not in error["message"] and error["message"].endswith("6789.")
    assert len(server.requests) == 2  # rejected requests are recorded too


async def test_transcription_formats_and_bad_files(
    server: OpenAITestServer, http: aiohttp.ClientSession
) -> None:
    server.queue_transcription("one", "two")
    wav = io.BytesIO()
    with wave.open(wav, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\0\0" * 1600)

    def form(data: bytes, filename: str, fmt: str) -> aiohttp.FormData:
        f = aiohttp.FormData()
        f.add_field("file", data, filename=filename)
        f.add_field("model", "whisper-1")
        f.add_field("response_format", fmt)
        return f

    url = f"{server.base_url}/audio/transcriptions"
    async with http.post(url, data=form(wav.getvalue(), "a.wav", "text")) as resp:
        assert await resp.text() == "one\n"
    async with http.post(url, data=form(wav.getvalue(), "a.wav", "verbose_json")) as resp:
        assert (await resp.json())["duration"] == pytest.approx(0.1)
    async with http.post(url, data=form(b"not audio", "a.wav", "json")) as resp:
        assert resp.status == 400
    async with http.post(url, data=form(b"%PDF", "a.pdf", "json")) as resp:
        assert resp.status == 400 and "Invalid file format" in (await resp.json())["error"]["message"]


async def test_speech_formats(server: OpenAITestServer, http: aiohttp.ClientSession) -> None:
    url = f"{server.base_url}/audio/speech"
    body = {"model": "gpt-4o-mini-tts", "voice": "alloy", "input": "Hello world", "response_format": "wav"}
    async with http.post(url, json=body) as resp:
        assert resp.headers["Transfer-Encoding"] == "chunked"
        data = await resp.read()
    with wave.open(io.BytesIO(data), "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (24000, 1, 2)
        assert w.getnframes() == (len(data) - 44) // 2 > 0
    async with http.post(url, json={**body, "response_format": "mp3"}) as resp:
        assert resp.status == 400
    async with http.post(url, json={**body, "input": ""}) as resp:
        assert resp.status == 400 and (await resp.json())["error"]["param"] == "input"
