"""Fallback adapters over real OpenAI HTTP providers talking to two OpenAITestServers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import numpy as np
import pytest

from livekitex_agent.chat import ChatContext
from livekitex_agent.errors import ConfigError, ErrorCategory, ProviderError
from livekitex_agent.media import AudioFrame
from livekitex_agent.plugins import openai
from livekitex_agent.providers import STT, TTS, GeneratorTTSStream, RetryPolicy, SpeechEvent, TTSStream
from livekitex_agent.providers.fallback import (
    AvailabilityChangedEvent,
    FallbackLLM,
    FallbackOptions,
    FallbackSTT,
    FallbackTTS,
)
from livekitex_agent.providers.stt import SpeechAlternative, SpeechEventType
from livekitex_agent.testing.openai_http import ChatReply, ErrorReply, OpenAITestServer, SpeechReply

KEY = "sk-test-fallback-0123456789"
ONCE = RetryPolicy(max_retries=0, timeout=5.0)  # the providers' own retries are off: the adapter decides
QUIET = FallbackOptions(attempt_timeout=5.0, recovery_interval=60.0)  # no probe fires during a test


@pytest.fixture
async def servers() -> AsyncIterator[tuple[OpenAITestServer, OpenAITestServer]]:
    async with OpenAITestServer() as primary, OpenAITestServer() as secondary:
        yield primary, secondary


def llms(servers: tuple[OpenAITestServer, OpenAITestServer]) -> list[openai.LLM]:
    return [openai.LLM(api_key=KEY, base_url=s.base_url, retry_policy=ONCE) for s in servers]


def events_of(adapter: FallbackLLM | FallbackSTT | FallbackTTS) -> list[AvailabilityChangedEvent]:
    seen: list[AvailabilityChangedEvent] = []
    adapter.on("availability_changed", seen.append)
    return seen


async def answer(llm: FallbackLLM, text: str = "Hi") -> str:
    ctx = ChatContext()
    ctx.add_message("user", text)
    async with llm.chat(chat_ctx=ctx) as stream:
        return "".join([c.content async for c in stream])


async def wait_until(predicate: object, what: str) -> None:
    for _ in range(1000):  # bounded: 10 s at most
        if predicate():  # type: ignore[operator]
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


async def test_first_llm_fails_second_answers(servers: tuple[OpenAITestServer, OpenAITestServer]) -> None:
    primary, secondary = servers
    adapter = FallbackLLM(llms(servers), QUIET)
    events = events_of(adapter)
    primary.queue_chat(ErrorReply.server_error())
    secondary.queue_chat("From the backup.")
    assert await answer(adapter) == "From the backup."
    assert [(e.provider, e.available) for e in events] == [(adapter.providers[0], False)]
    assert isinstance(events[0].error, ProviderError) and events[0].error.category is ErrorCategory.SERVER
    assert not adapter.is_available(adapter.providers[0])
    # while the primary is unavailable, requests go straight to the secondary
    assert await answer(adapter, "again") == "You said: again"
    assert len(primary.requests) == 1 and len(secondary.requests) == 2
    await adapter.aclose()


async def test_no_output_within_the_attempt_timeout_switches(
    servers: tuple[OpenAITestServer, OpenAITestServer],
) -> None:
    primary, _ = servers
    adapter = FallbackLLM(llms(servers), FallbackOptions(attempt_timeout=0.3, recovery_interval=60.0))
    primary.queue_chat(ChatReply(text="too late", delay=5.0))
    assert await answer(adapter, "quick") == "You said: quick"
    await adapter.aclose()


async def test_failure_after_streaming_started_does_not_switch(
    servers: tuple[OpenAITestServer, OpenAITestServer],
) -> None:
    primary, secondary = servers
    adapter = FallbackLLM(llms(servers), QUIET)
    events = events_of(adapter)
    primary.queue_chat(ChatReply(text="One two three", cut_after=2))
    received: list[str] = []
    ctx = ChatContext()
    ctx.add_message("user", "Count")
    with pytest.raises(ProviderError) as info:
        async with adapter.chat(chat_ctx=ctx) as stream:
            async for chunk in stream:
                received.append(chunk.content)
    assert received == ["One"]
    assert info.value.provider == "openai.LLM" and info.value.category is ErrorCategory.CONNECTION
    assert secondary.requests == []
    assert [(e.provider, e.available) for e in events] == [(adapter.providers[0], False)]
    await adapter.aclose()


async def test_retries_per_provider_before_switching(
    servers: tuple[OpenAITestServer, OpenAITestServer],
) -> None:
    primary, secondary = servers
    adapter = FallbackLLM(llms(servers), FallbackOptions(retries_per_provider=1, recovery_interval=60.0))
    primary.queue_chat(ErrorReply.server_error(), "Second try.")
    assert await answer(adapter) == "Second try."
    assert secondary.requests == [] and len(primary.requests) == 2
    # a non-retryable error is not retried on the same provider
    primary.queue_chat(ErrorReply.unauthorized(), "unused")
    assert await answer(adapter, "x") == "You said: x"
    assert len(primary.requests) == 3
    await adapter.aclose()


async def test_all_failing_raises_one_error_naming_each(
    servers: tuple[OpenAITestServer, OpenAITestServer],
) -> None:
    primary, secondary = servers
    adapter = FallbackLLM(llms(servers), QUIET)
    primary.queue_chat(ErrorReply.server_error())
    secondary.queue_chat(ErrorReply.unauthorized())
    with pytest.raises(ProviderError, match="all 2 providers failed") as info:
        await answer(adapter)
    assert "HTTP 500" in str(info.value) and "HTTP 401" in str(info.value)
    assert info.value.category is ErrorCategory.AUTHENTICATION and info.value.retryable
    assert KEY not in str(info.value)
    # every provider is unavailable now: they are all tried again, in order
    assert await answer(adapter, "back") == "You said: back"
    assert len(primary.requests) == 2
    await adapter.aclose()


async def test_recovery_probe_brings_a_provider_back(
    servers: tuple[OpenAITestServer, OpenAITestServer],
) -> None:
    primary, secondary = servers
    adapter = FallbackLLM(llms(servers), FallbackOptions(recovery_interval=0.02, probe_timeout=5.0))
    events = events_of(adapter)
    primary.queue_chat(ErrorReply.server_error(), ErrorReply.server_error(), ErrorReply.server_error())
    await answer(adapter)
    await wait_until(lambda: len(events) == 2, "the recovery event")
    assert [(e.provider, e.available) for e in events] == [
        (adapter.providers[0], False),
        (adapter.providers[0], True),
    ]
    assert len(primary.requests) == 4  # the failed request, two failed probes, the good probe
    assert primary.requests[-1].json["messages"] == [{"role": "user", "content": "ping"}]
    assert await answer(adapter, "primary again") == "You said: primary again"
    assert len(primary.requests) == 5 and len(secondary.requests) == 1
    await adapter.aclose()


async def test_recovery_probes_are_bounded(servers: tuple[OpenAITestServer, OpenAITestServer]) -> None:
    primary, _ = servers
    options = FallbackOptions(recovery_interval=0.01, max_recovery_probes=3)
    adapter = FallbackLLM(llms(servers), options)
    primary.queue_chat(*[ErrorReply.unauthorized()] * 10)
    await answer(adapter)
    await wait_until(lambda: len(primary.requests) == 4, "three probes")
    await wait_until(lambda: not adapter.recovering, "the probe task to end")
    assert len(primary.requests) == 4 and not adapter.is_available(adapter.providers[0])
    await adapter.aclose()


async def test_aclose_cancels_probes_and_closes_providers(
    servers: tuple[OpenAITestServer, OpenAITestServer],
) -> None:
    primary, _ = servers
    adapter = FallbackLLM(llms(servers), QUIET)
    primary.queue_chat(ErrorReply.server_error())
    await answer(adapter)
    assert adapter.recovering == [adapter.providers[0]]
    await adapter.aclose()
    assert adapter.recovering == []
    leftovers = [t for t in asyncio.all_tasks() if t.get_name().startswith("fallback-recovery")]
    assert leftovers == []


def test_needs_providers() -> None:
    with pytest.raises(ConfigError, match="at least one"):
        FallbackLLM([])
    with pytest.raises(ConfigError, match="attempt_timeout"):
        FallbackOptions(attempt_timeout=0)


# -- STT --------------------------------------------------------------------------------------------
class RecordingSTT(STT):
    """Accepts 8 kHz audio and reports what it received."""

    sample_rate = 8000

    def __init__(self) -> None:
        self.received: list[AudioFrame] = []

    async def recognize(self, frames: Sequence[AudioFrame], *, language: str | None = None) -> SpeechEvent:
        self.received.extend(frames)
        return SpeechEvent(SpeechEventType.FINAL_TRANSCRIPT, [SpeechAlternative(text="eight k")])


async def test_stt_switches_and_resamples_for_the_backup(
    servers: tuple[OpenAITestServer, OpenAITestServer],
) -> None:
    primary, _ = servers
    backup = RecordingSTT()
    adapter = FallbackSTT(
        [openai.STT(api_key=KEY, base_url=primary.base_url, retry_policy=ONCE), backup], QUIET
    )
    events = events_of(adapter)
    assert adapter.sample_rate == 16000
    primary.queue_transcription("from openai", ErrorReply.quota_exceeded())
    segment = [AudioFrame.silence(0.02, 16000) for _ in range(25)]  # 0.5 s
    assert (await adapter.recognize(segment)).text == "from openai"
    assert (await adapter.recognize(segment)).text == "eight k"
    assert [e.available for e in events] == [False]
    assert [(f.sample_rate, f.duration) for f in backup.received] == [(8000, pytest.approx(0.5, abs=0.002))]
    await adapter.aclose()


# -- TTS --------------------------------------------------------------------------------------------
class ToneTTS(TTS):
    """A 16 kHz synthesizer: 0.2 s of tone per request."""

    sample_rate = 16000

    def synthesize(self, text: str) -> TTSStream:
        async def frames() -> AsyncIterator[AudioFrame]:
            t = np.arange(3200) / 16000
            data = (0.2 * np.sin(2 * np.pi * 300 * t) * 32767).astype(np.int16)
            for i in range(0, 3200, 320):
                yield AudioFrame(data[i : i + 320], 16000)

        return GeneratorTTSStream(frames)


async def test_tts_switches_and_resamples_to_its_own_rate(
    servers: tuple[OpenAITestServer, OpenAITestServer],
) -> None:
    primary, _ = servers
    adapter = FallbackTTS(
        [openai.TTS(api_key=KEY, base_url=primary.base_url, retry_policy=ONCE), ToneTTS()], QUIET
    )
    primary.queue_speech(ErrorReply.server_error(503))
    frames = [f async for f in adapter.synthesize("Hello")]
    assert {f.sample_rate for f in frames} == {24000}
    assert sum(f.samples_per_channel for f in frames) == pytest.approx(4800, abs=48)
    await adapter.aclose()


async def test_tts_failure_after_first_frame_does_not_switch(
    servers: tuple[OpenAITestServer, OpenAITestServer],
) -> None:
    primary, _ = servers
    backup = ToneTTS()
    adapter = FallbackTTS(
        [openai.TTS(api_key=KEY, base_url=primary.base_url, retry_policy=ONCE), backup], QUIET
    )
    primary.queue_speech(SpeechReply(chunk_size=4800, cut_after=1))
    got: list[AudioFrame] = []
    with pytest.raises(ProviderError) as info:
        async for frame in adapter.synthesize("This will break"):
            got.append(frame)
    assert info.value.provider == "openai.TTS"
    assert (
        sum(f.samples_per_channel for f in got) == 2400
    )  # only the primary's 100 ms, nothing from the backup
    await adapter.aclose()
