"""openai.STT against OpenAITestServer: multipart upload, WAV content, errors and retries."""

from __future__ import annotations

from collections.abc import AsyncIterator

import numpy as np
import pytest

from livekitex_agent.errors import ConfigError, ErrorCategory, ProviderError
from livekitex_agent.media import AudioFrame
from livekitex_agent.plugins import openai
from livekitex_agent.providers import RetryPolicy, SpeechEventType
from livekitex_agent.testing.openai_http import ErrorReply, OpenAITestServer, RawReply

KEY = "sk-test-stt-secret-0123456789"
FAST = RetryPolicy(max_retries=2, base_delay=0.001, max_delay=2.0, jitter=0.0, timeout=5.0)


@pytest.fixture
async def stt(server: OpenAITestServer) -> AsyncIterator[openai.STT]:
    model = openai.STT(api_key=KEY, base_url=server.base_url, retry_policy=FAST)
    yield model
    await model.aclose()


def tone(duration: float, rate: int = 16000, freq: float = 440.0) -> AudioFrame:
    t = np.arange(round(duration * rate)) / rate
    return AudioFrame.from_float(0.3 * np.sin(2 * np.pi * freq * t), rate)


def frames_of(clip: AudioFrame, size: float = 0.02) -> list[AudioFrame]:
    step = round(size * clip.sample_rate)
    return [AudioFrame(clip.data[i : i + step], clip.sample_rate) for i in range(0, clip.data.size, step)]


async def test_uploads_the_segment_as_a_16k_mono_wav(server: OpenAITestServer, stt: openai.STT) -> None:
    server.queue_transcription("What is the weather in Paris?")
    clip = tone(0.75)
    event = await stt.recognize(frames_of(clip))

    assert event.type is SpeechEventType.FINAL_TRANSCRIPT
    assert event.text == "What is the weather in Paris?"
    assert event.audio_duration == pytest.approx(0.75)
    (req,) = server.requests_to("transcription")
    assert req.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert req.headers["Authorization"] == f"Bearer {KEY}"
    assert req.form == {"model": "gpt-4o-mini-transcribe", "response_format": "json"}
    upload = req.files["file"]
    assert upload.filename.endswith(".wav") and upload.content_type == "audio/wav"
    wav = upload.wav()
    assert (wav.sample_rate, wav.num_channels, wav.samples_per_channel) == (16000, 1, 12000)
    assert np.array_equal(wav.data, clip.data)


async def test_other_rates_are_resampled_to_16k_mono(server: OpenAITestServer, stt: openai.STT) -> None:
    stereo48k = AudioFrame(np.repeat(tone(0.5, rate=48000).data, 2), 48000, 2)
    await stt.recognize([stereo48k])
    wav = server.requests_to("transcription")[0].files["file"].wav()
    assert (wav.sample_rate, wav.num_channels) == (16000, 1)
    assert wav.duration == pytest.approx(0.5, abs=0.002)
    assert wav.rms_dbfs() > -20  # the tone survived, it is not silence


async def test_language_and_prompt_options(server: OpenAITestServer) -> None:
    model = openai.STT(
        api_key=KEY, base_url=server.base_url, model="whisper-1", language="fr", prompt="Paris"
    )
    event = await model.recognize([tone(0.2)])
    event_de = await model.recognize([tone(0.2)], language="de")
    await model.aclose()
    first, second = server.requests_to("transcription")
    assert first.form == {
        "model": "whisper-1",
        "response_format": "json",
        "language": "fr",
        "prompt": "Paris",
    }
    assert second.form["language"] == "de"
    assert (event.language, event_de.language) == ("fr", "de")
    assert event.text == server.default_transcript


async def test_no_audio_means_no_request(server: OpenAITestServer, stt: openai.STT) -> None:
    event = await stt.recognize([])
    assert event.text == "" and event.type is SpeechEventType.FINAL_TRANSCRIPT
    assert server.requests == []


async def test_server_error_then_success_is_retried(server: OpenAITestServer, stt: openai.STT) -> None:
    server.queue_transcription(ErrorReply.server_error(502), ErrorReply.rate_limited(0.0), "hello")
    event = await stt.recognize([tone(0.3)])
    assert event.text == "hello"
    assert len(server.requests_to("transcription")) == 3


async def test_unauthorized_is_not_retried(server: OpenAITestServer, stt: openai.STT) -> None:
    server.queue_transcription(ErrorReply.unauthorized(), "never")
    with pytest.raises(ProviderError) as info:
        await stt.recognize([tone(0.3)])
    assert info.value.category is ErrorCategory.AUTHENTICATION and not info.value.retryable
    assert len(server.requests_to("transcription")) == 1


async def test_malformed_json_is_a_clear_bad_response(server: OpenAITestServer, stt: openai.STT) -> None:
    server.queue_transcription(RawReply.malformed_json())
    with pytest.raises(ProviderError, match="not JSON") as info:
        await stt.recognize([tone(0.3)])
    assert info.value.category is ErrorCategory.BAD_RESPONSE
    assert KEY not in str(info.value)


async def test_json_without_text_is_a_bad_response(server: OpenAITestServer, stt: openai.STT) -> None:
    server.queue_transcription(RawReply('{"transcript": "hi"}'))
    with pytest.raises(ProviderError, match="'text'") as info:
        await stt.recognize([tone(0.3)])
    assert info.value.category is ErrorCategory.BAD_RESPONSE


async def test_missing_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        openai.STT()
