"""The pipeline's providers dying mid-answer: the answer is finished, and nothing the user heard comes twice.

Against ``OpenAITestServer`` (a chat stream or a speech body cut off mid-way: the real client's
retryable error) and against fallback adapters over fakes (a provider that fails for good).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import numpy as np
import pytest

from livekitex_agent import Agent
from livekitex_agent.errors import ProviderError
from livekitex_agent.media import AudioFrame
from livekitex_agent.plugins import openai
from livekitex_agent.providers import (
    FallbackLLM,
    FallbackOptions,
    FallbackTTS,
    GeneratorTTSStream,
    RetryPolicy,
    TTSStream,
)
from livekitex_agent.providers.resume import CONTINUE_NOTE
from livekitex_agent.session import AgentSession
from livekitex_agent.testing import FakeLLM, FakeLLMResponse, FakeSTT, FakeTTS, FakeVAD, LLMRequest, MemoryIO
from livekitex_agent.testing.openai_http import ChatReply, OpenAITestServer, SpeechReply

KEY = "sk-test-pipeline-faults-0123456789"
FAST = RetryPolicy(max_retries=2, base_delay=0.001, max_delay=0.01, jitter=0.0, timeout=5.0)
QUIET = FallbackOptions(recovery_interval=60.0)
ANSWER = "It is sunny in Paris today. A light breeze blows from the west."


@pytest.fixture
async def server() -> AsyncIterator[OpenAITestServer]:
    async with OpenAITestServer() as s:
        yield s


@pytest.fixture
async def llm(server: OpenAITestServer) -> AsyncIterator[openai.LLM]:
    model = openai.LLM(api_key=KEY, base_url=server.base_url, retry_policy=FAST)
    yield model
    await model.aclose()


@pytest.fixture
async def tts(server: OpenAITestServer) -> AsyncIterator[openai.TTS]:
    model = openai.TTS(api_key=KEY, base_url=server.base_url, retry_policy=FAST)
    yield model
    await model.aclose()


async def ask(io: MemoryIO, **providers: object) -> AgentSession:
    """A pipeline session asked one question by text; returns it once the answer was played."""
    kw: dict[str, object] = {"vad": FakeVAD(), "stt": FakeSTT(), **providers}
    session = AgentSession(**kw)  # type: ignore[arg-type]
    await session.start(Agent("You tell the weather."), io=io)
    await session.run(user_input="what is the weather in paris", timeout=20)
    return session




def answers(session: AgentSession) -> list[str]:
    return [m.content for m in session.history.messages() if m.role == "assistant"]


def played_seconds(io: MemoryIO) -> float:
    return sum(f.duration for _, f in io.audio_output.played)


def restarts_from_the_top(request: LLMRequest) -> str:
    """A model that ignores what it already said and answers again from the start."""
    return ANSWER


# -- the LLM ------------------------------------------------------------------------------------
async def test_a_chat_stream_cut_mid_answer_is_finished_without_repeating_the_heard_sentence(
    server: OpenAITestServer, llm: openai.LLM
) -> None:
    # the first sentence (and the "A" after it) streamed, then the connection drops; the retried
    # request answers from the top, as a model that does not take the hint does
    server.queue_chat(ChatReply(text=ANSWER, cut_after=8), ChatReply(text=ANSWER))
    tts = FakeTTS(seconds_per_char=0.005)
    io = MemoryIO()
    session = await ask(io, llm=llm, tts=tts)
    assert answers(session) == [ANSWER]
    assert tts.requests == ["It is sunny in Paris today.", "A light breeze blows from the west."]
    assert played_seconds(io) == pytest.approx(sum(tts.duration_for(s) for s in tts.requests), abs=0.03)
    # the retry told the model what it had said, and to go on from there
    retry = server.requests_to("chat")[1].json["messages"]
    assert retry[-2] == {"role": "assistant", "content": "It is sunny in Paris today. A"}
    assert retry[-1]["content"] == CONTINUE_NOTE
    await session.aclose()


async def test_a_chat_stream_cut_mid_sentence_is_continued_by_a_model_that_goes_on(
    server: OpenAITestServer, llm: openai.LLM
) -> None:
    rest = "in Paris today. A light breeze blows from the west."
    server.queue_chat(ChatReply(text=ANSWER, cut_after=4), ChatReply(text=rest))
    tts = FakeTTS(seconds_per_char=0.005)
    io = MemoryIO()
    session = await ask(io, llm=llm, tts=tts)
    assert answers(session) == [ANSWER]
    assert tts.requests == ["It is sunny in Paris today.", "A light breeze blows from the west."]
    await session.aclose()


async def test_an_llm_that_dies_mid_answer_falls_back_and_the_next_one_does_not_repeat_it() -> None:
    primary = FakeLLM([FakeLLMResponse(ANSWER, fail_after_chunks=8)])  # a non-retryable failure
    secondary = FakeLLM([restarts_from_the_top])
    tts = FakeTTS(seconds_per_char=0.005)
    io = MemoryIO()
    session = await ask(io, llm=FallbackLLM([primary, secondary], QUIET), tts=tts)
    assert answers(session) == [ANSWER]
    assert tts.requests == ["It is sunny in Paris today.", "A light breeze blows from the west."]
    said = secondary.requests[0].chat_ctx.messages()[-2]
    assert (said.role, said.content, said.interrupted) == ("assistant", "It is sunny in Paris today. A light", True)
    await session.aclose()


async def test_a_fatal_failure_mid_answer_is_reported_not_resumed_and_the_cut_answer_marked() -> None:
    fatal = FakeLLM([FakeLLMResponse(ANSWER, fail_after_chunks=3)])  # one LLM, nothing to fall back to
    io = MemoryIO()
    errors: list[object] = []
    session = AgentSession(vad=FakeVAD(), stt=FakeSTT(), llm=fatal, tts=FakeTTS(seconds_per_char=0.005))
    session.on("error", errors.append)
    await session.start(Agent("You tell the weather."), io=io)
    await session.run(user_input="what is the weather in paris", timeout=20)
    assert len(fatal.requests) == 1 and len(errors) == 1  # a non-retryable error is not resumed
    (cut,) = [m for m in session.history.messages() if m.role == "assistant"]
    assert (cut.content, cut.interrupted) == ("It is sunny", True)
    await session.aclose()


# -- the TTS ------------------------------------------------------------------------------------
async def test_a_speech_stream_cut_mid_sentence_resumes_where_the_audio_stopped(
    server: OpenAITestServer, tts: openai.TTS
) -> None:
    text = "It is sunny in Paris today."
    pcm = AudioFrame.from_float(0.3 * np.sin(np.arange(24000) / 24000 * 2 * np.pi * 3.0), 24000)  # 1 s, varying
    server.queue_speech(
        SpeechReply(audio=pcm, chunk_size=2400, cut_after=4), SpeechReply(audio=pcm, chunk_size=2400)
    )
    io = MemoryIO(output_sample_rate=24000)
    session = await ask(io, llm=FakeLLM([text]), tts=tts)
    assert len(server.requests_to("speech")) == 2
    heard = io.audio_output.played_audio()
    assert heard is not None and heard.duration == pytest.approx(1.0, abs=0.011)
    # the audio is the sentence once: resumed exactly where the cut stopped it, nothing repeated
    assert np.abs(heard.data[:24000].astype(int) - pcm.data[: heard.data[:24000].size]).max() <= 1
    assert answers(session) == [text]
    await session.aclose()


class DiesMidSentence(FakeTTS):
    """A voice that stops after ``frames`` frames of each sentence, for good (not retryable)."""

    def __init__(self, frames: int) -> None:
        super().__init__(seconds_per_char=0.01, frame_duration=0.05)
        self.frames = frames

    def synthesize(self, text: str) -> TTSStream:
        inner = super().synthesize

        async def run() -> AsyncIterator[AudioFrame]:
            async with inner(text) as stream:
                n = 0
                async for frame in stream:
                    if n == self.frames:
                        raise ProviderError("voice crashed", provider="DiesMidSentence", retryable=False)
                    n += 1
                    yield frame

        return GeneratorTTSStream(run)


async def test_a_voice_that_dies_mid_sentence_falls_back_without_repeating_the_heard_part() -> None:
    text = "It is sunny in Paris today."
    backup = FakeTTS(seconds_per_char=0.01, frame_duration=0.05)
    io = MemoryIO(output_sample_rate=24000)
    session = await ask(io, llm=FakeLLM([text]), tts=FallbackTTS([DiesMidSentence(frames=3), backup], QUIET))
    assert backup.requests == [text]
    assert played_seconds(io) == pytest.approx(backup.duration_for(text), abs=0.011)  # once, not 0.15 s more
    assert answers(session) == [text]
    await session.aclose()
