"""openai.TTS against OpenAITestServer: request body, streamed PCM framing, errors and retries."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np
import pytest

from livekitex_agent.errors import ConfigError, ErrorCategory, ProviderError
from livekitex_agent.media import AudioFrame
from livekitex_agent.plugins import openai
from livekitex_agent.providers import RetryPolicy
from livekitex_agent.testing.openai_http import ErrorReply, OpenAITestServer, RawReply, SpeechReply

KEY = "sk-test-tts-secret-0123456789"
FAST = RetryPolicy(max_retries=2, base_delay=0.001, max_delay=2.0, jitter=0.0, timeout=5.0)


@pytest.fixture
async def tts(server: OpenAITestServer) -> AsyncIterator[openai.TTS]:
    model = openai.TTS(api_key=KEY, base_url=server.base_url, retry_policy=FAST)
    yield model
    await model.aclose()


def ramp_pcm(seconds: float) -> bytes:
    """Distinct sample values, so any lost or shifted byte shows."""
    n = round(seconds * 24000)
    return (np.arange(n, dtype=np.int64) % 30000 - 15000).astype("<i2").tobytes()


async def test_request_body(server: OpenAITestServer) -> None:
    model = openai.TTS(
        api_key=KEY, base_url=server.base_url, voice="coral", speed=1.25, instructions="Speak warmly."
    )
    async with model.synthesize("Hello there.") as stream:
        frames = [f async for f in stream]
    await model.aclose()
    assert frames
    (req,) = server.requests_to("speech")
    assert req.json == {
        "model": "gpt-4o-mini-tts",
        "input": "Hello there.",
        "voice": "coral",
        "response_format": "pcm",
        "speed": 1.25,
        "instructions": "Speak warmly.",
    }
    assert req.headers["Authorization"] == f"Bearer {KEY}"


async def test_frames_rebuild_the_audio_exactly_across_odd_chunks(
    server: OpenAITestServer, tts: openai.TTS
) -> None:
    pcm = ramp_pcm(0.5)
    server.queue_speech(SpeechReply(audio=pcm, chunk_size=1001))  # odd: samples split across chunks
    frames = [f async for f in tts.synthesize("Some text.")]
    assert all(f.sample_rate == 24000 and f.num_channels == 1 for f in frames)
    assert all(f.samples_per_channel == 480 for f in frames[:-1])  # 20 ms frames
    assert b"".join(f.to_bytes() for f in frames) == pcm


async def test_first_frame_arrives_before_the_server_finishes(
    server: OpenAITestServer, tts: openai.TTS
) -> None:
    gate = asyncio.Event()
    pcm = ramp_pcm(1.0)
    server.queue_speech(SpeechReply(audio=pcm, chunk_size=4800, gate=gate, gate_after=1))
    stream = tts.synthesize("A long answer.")
    it = aiter(stream)
    first = await asyncio.wait_for(anext(it), timeout=5.0)
    assert first.to_bytes() == pcm[:960]
    assert server.responses_completed == 0  # the tail is still held back by the server
    gate.set()
    rest = [f async for f in it]
    assert server.responses_completed == 1
    assert first.to_bytes() + b"".join(f.to_bytes() for f in rest) == pcm


async def test_rate_limit_then_success(server: OpenAITestServer, tts: openai.TTS) -> None:
    server.queue_speech(ErrorReply.rate_limited(retry_after=0.0), SpeechReply(audio=ramp_pcm(0.1)))
    frames = [f async for f in tts.synthesize("Hi")]
    assert sum(f.samples_per_channel for f in frames) == 2400
    assert len(server.requests_to("speech")) == 2


async def test_cut_after_audio_started_raises_without_retry(
    server: OpenAITestServer, tts: openai.TTS
) -> None:
    server.queue_speech(SpeechReply(audio=ramp_pcm(1.0), chunk_size=4800, cut_after=1), SpeechReply())
    got: list[AudioFrame] = []
    with pytest.raises(ProviderError) as info:
        async with tts.synthesize("Cut me off") as stream:
            async for frame in stream:
                got.append(frame)
    assert sum(f.samples_per_channel for f in got) == 2400  # the 100 ms that arrived were played
    assert info.value.category is ErrorCategory.CONNECTION
    assert len(server.requests_to("speech")) == 1 and server.pending("speech") == 1


async def test_cut_before_any_audio_is_retried(server: OpenAITestServer, tts: openai.TTS) -> None:
    # 1 byte arrives, then the connection drops: no frame was produced yet, so retrying is safe
    server.queue_speech(
        SpeechReply(audio=ramp_pcm(0.1), chunk_size=1, cut_after=1), SpeechReply(audio=ramp_pcm(0.1))
    )
    frames = [f async for f in tts.synthesize("Retry me")]
    assert sum(f.samples_per_channel for f in frames) == 2400
    assert len(server.requests_to("speech")) == 2


async def test_json_instead_of_audio_is_a_bad_response(server: OpenAITestServer, tts: openai.TTS) -> None:
    server.queue_speech(RawReply('{"status": "queued"}'))
    with pytest.raises(ProviderError, match="expected PCM audio") as info:
        [f async for f in tts.synthesize("Hi")]
    assert info.value.category is ErrorCategory.BAD_RESPONSE


async def test_unauthorized_is_not_retried(server: OpenAITestServer, tts: openai.TTS) -> None:
    server.queue_speech(ErrorReply.unauthorized())
    with pytest.raises(ProviderError) as info:
        [f async for f in tts.synthesize("Hi")]
    assert info.value.category is ErrorCategory.AUTHENTICATION
    assert len(server.requests_to("speech")) == 1


async def test_blank_text_sends_nothing(server: OpenAITestServer, tts: openai.TTS) -> None:
    assert [f async for f in tts.synthesize("   ")] == []
    assert server.requests == []


async def test_closing_early_stops_the_download(server: OpenAITestServer, tts: openai.TTS) -> None:
    gate = asyncio.Event()
    server.queue_speech(SpeechReply(audio=ramp_pcm(1.0), gate=gate))
    stream = tts.synthesize("Interrupted")
    it = aiter(stream)
    await anext(it)
    await stream.aclose()  # the user barged in
    for _ in range(500):  # the server notices the hang-up (bounded wait, no timing assumption)
        if server.responses_aborted:
            break
        await asyncio.sleep(0.01)
    gate.set()
    assert (server.responses_aborted, server.responses_completed) == (1, 0)


def test_bad_options_are_clear_errors() -> None:
    with pytest.raises(ConfigError, match="speed.*9"):
        openai.TTS(api_key=KEY, speed=9)
    with pytest.raises(ConfigError, match="voice"):
        openai.TTS(api_key=KEY, voice="")


async def test_missing_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        openai.TTS()
