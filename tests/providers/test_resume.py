"""Resuming a provider stream that died mid-answer: the words already said are not said again."""

from __future__ import annotations

import pytest

from livekitex_agent.chat import ChatContext
from livekitex_agent.errors import ProviderError
from livekitex_agent.providers import RetryPolicy
from livekitex_agent.providers.resume import CONTINUE_NOTE, RepeatFilter, resumable_chat, resumable_synthesis
from livekitex_agent.testing import FakeLLM, FakeLLMResponse, FakeTTS

FAST = RetryPolicy(max_retries=2, base_delay=0.0, max_delay=0.0, jitter=0.0)
TEXT = "Hello there, how are you today?"  # 0.31 s at 0.01 s a character


def run_filter(said: str, chunks: list[str]) -> str:
    f = RepeatFilter(said)
    return said + "".join(f.push(c) for c in chunks) + f.flush()


@pytest.mark.parametrize(
    ("said", "chunks", "heard"),
    [
        ("It is sunny", ["It ", "is ", "sunny ", "in ", "Paris."], "It is sunny in Paris."),  # restarted
        ("It is sunny", ["in ", "Paris."], "It is sunny in Paris."),  # continued
        ("It is sunny ", ["in Paris."], "It is sunny in Paris."),
        ("It is sunny", [", and warm."], "It is sunny, and warm."),
        ("It is SUNNY!", ["it is sunny! Warm", " too."], "It is SUNNY! Warm too."),  # case, punctuation
        ("It is sunny", ["It was", " sunny."], "It is sunny It was sunny."),  # a new wording passes
        ("It is sunny", ["It is"], "It is sunny"),  # the new answer ended inside the repetition
        ("", ["Hello ", "there."], "Hello there."),
    ],
)
def test_a_resumed_answer_drops_only_what_repeats_the_words_already_said(
    said: str, chunks: list[str], heard: str
) -> None:
    assert run_filter(said, chunks) == heard


def ctx() -> ChatContext:
    c = ChatContext()
    c.add_message("user", "weather?")
    return c


class Flaky(FakeLLM):
    """Scripted replies; a reply with ``fail_after_chunks`` fails with a retryable error."""

    retry_policy = FAST

    async def _run(self, request):  # type: ignore[no-untyped-def]
        try:
            async for chunk in super()._run(request):
                yield chunk
        except ProviderError as e:
            raise ProviderError(e.message, provider="Flaky", retryable=True) from e


async def test_a_retryable_failure_after_text_asks_again_with_the_partial_answer() -> None:
    llm = Flaky([FakeLLMResponse("One two three four.", fail_after_chunks=2), "One two three four."])
    async with resumable_chat(llm, chat_ctx=ctx()) as stream:
        text = "".join([c.content async for c in stream])
    assert text == "One two three four."
    retry = [(m.role, m.content) for m in llm.requests[1].chat_ctx.messages()]
    assert retry[-2:] == [("assistant", "One two"), ("system", CONTINUE_NOTE)]


async def test_a_failure_before_any_text_or_past_the_retries_propagates() -> None:
    llm = Flaky([FakeLLMResponse("One two.", fail_after_chunks=0)])
    with pytest.raises(ProviderError):
        async with resumable_chat(llm, chat_ctx=ctx()) as stream:
            _ = [c async for c in stream]
    assert len(llm.requests) == 1  # before any text: the caller's retry (open_stream) decides
    always = Flaky([FakeLLMResponse("One two three.", fail_after_chunks=1)] * 3)
    with pytest.raises(ProviderError):
        async with resumable_chat(always, chat_ctx=ctx()) as stream:
            _ = [c async for c in stream]
    assert len(always.requests) == 3  # the first request and two resumptions


class FlakyTTS(FakeTTS):
    retry_policy = FAST

    def __init__(self, fail_after_frames: list[int]) -> None:
        super().__init__(seconds_per_char=0.01, frame_duration=0.03)
        self.fail_after = fail_after_frames

    async def _run(self, text):  # type: ignore[no-untyped-def]
        limit = self.fail_after.pop(0) if self.fail_after else None
        n = 0
        async for frame in super()._run(text):
            if n == limit:
                raise ProviderError("cut", provider="FlakyTTS", retryable=True)
            n += 1
            yield frame


async def test_a_resumed_synthesis_skips_the_audio_already_produced() -> None:
    tts = FlakyTTS([3, 5])  # cut after 0.09 s, then again after 0.15 s of the retry
    async with resumable_synthesis(tts, TEXT) as stream:
        frames = [f async for f in stream]
    assert len(tts.requests) == 3
    total = sum(f.duration for f in frames)
    assert total == pytest.approx(tts.duration_for(TEXT), abs=1e-6)


class Tracked(FakeLLM):
    """Records when its streams are closed."""

    def __init__(self, *replies: str) -> None:
        super().__init__(list(replies))
        self.closed = 0

    def chat(self, **kwargs):  # type: ignore[no-untyped-def]
        stream = super().chat(**kwargs)
        inner_close = stream.aclose

        async def aclose() -> None:
            self.closed += 1
            await inner_close()

        stream.aclose = aclose  # type: ignore[method-assign]
        return stream


async def test_the_provider_stream_stays_open_until_the_reader_closes_it() -> None:
    llm = Tracked("One two.")
    stream = resumable_chat(llm, chat_ctx=ctx())
    assert "".join([c.content async for c in stream]) == "One two."
    assert llm.closed == 0  # exhausted, not closed: like reading the provider's own stream
    await stream.aclose()
    assert llm.closed == 1
