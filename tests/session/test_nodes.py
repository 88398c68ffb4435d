"""The agent's nodes: each worked example overrides one stage and the rest of the pipeline is untouched."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from typing import Any

import pytest
from _helpers import Recorder, speak_parts
from _realtime_helpers import model, pipeline, say

from livekitex_agent import Agent, ChatContext, FunctionTool, RunContext, function_tool
from livekitex_agent.errors import NodeError, ProviderError
from livekitex_agent.media import AudioFrame
from livekitex_agent.providers import (
    ChatChunk,
    GeneratorLLMStream,
    GeneratorTTSStream,
    SpeechEvent,
    SpeechEventType,
    TTSStream,
)
from livekitex_agent.session import AgentSession
from livekitex_agent.testing import (
    FakeLLM,
    FakeLLMResponse,
    FakeSTT,
    FakeToolCall,
    FakeTTS,
    FakeTurnDetector,
    FakeVAD,
    LLMRequest,
    MemoryIO,
    virtual_time,
)
from livekitex_agent.testing.realtime_server import RealtimeTestServer

FACTS = {"opening hours": "We open at 9 and close at 17.", "parking": "Parking is free after 18."}


class RagAgent(Agent):
    """Retrieval-augmented: the facts about the user's last words go into the LLM's request only."""

    def __init__(self) -> None:
        super().__init__(instructions="Answer from the facts given.")
        self.retrievals: list[str] = []

    @function_tool
    async def book(self, ctx: RunContext, time: str) -> str:
        """Book a visit."""
        return f"booked at {time}"

    async def llm_node(self, chat_ctx: ChatContext, tools: Sequence[FunctionTool]) -> AsyncIterator[ChatChunk | str]:
        question = (chat_ctx.last_message("user") or chat_ctx.messages()[-1]).content
        found = [fact for topic, fact in FACTS.items() if topic in question]
        self.retrievals.append(question)
        if found:
            chat_ctx.add_message("system", "Facts: " + " ".join(found))  # a copy: the history keeps its own
        async for chunk in super().llm_node(chat_ctx, tools):
            yield chunk


def _system(request: LLMRequest) -> list[str]:
    return [m.content for m in request.chat_ctx.messages() if m.role == "system"]


@virtual_time
async def test_rag_context_reaches_every_llm_step_but_not_the_history() -> None:
    llm = FakeLLM([
        FakeLLMResponse("Let me book that.", tool_calls=[FakeToolCall("book", {"time": "9"})]),
        "Booked for 9, we open at 9.",
    ])
    session = AgentSession(vad=FakeVAD(), stt=FakeSTT([]), llm=llm, tts=FakeTTS())
    agent = RagAgent()
    await session.start(agent, io=MemoryIO())
    result = await session.run(user_input="what are your opening hours? book me in")
    assert result.reply == "Booked for 9, we open at 9."
    assert len(llm.requests) == 2 and len(agent.retrievals) == 2  # the tool round went through the node too
    for request in llm.requests:
        assert "Facts: We open at 9 and close at 17." in _system(request)
    assert llm.requests[0].tools == ["book"]
    assert not any("Facts:" in m.content for m in session.history.messages())
    await session.aclose()


class Canned(Agent):
    """An llm_node that answers without any LLM, yielding plain text."""

    async def llm_node(self, chat_ctx: ChatContext, tools: Sequence[FunctionTool]) -> AsyncIterator[ChatChunk | str]:
        yield "We are "
        yield "open. "
        yield ChatChunk(content="Come by!")


@virtual_time
async def test_an_llm_node_may_yield_plain_text_and_needs_no_llm() -> None:
    io, tts = MemoryIO(), FakeTTS()
    session = AgentSession(vad=FakeVAD(), stt=FakeSTT([]), tts=tts)
    await session.start(Canned("Be kind."), io=io)
    result = await session.run(user_input="are you open?")
    assert result.reply == "We are open. Come by!"
    assert tts.requests == ["We are open.", "Come by!"]  # sentences, as the LLM's text would be split
    assert "".join(io.text_output.segments) == "We are open. Come by!"
    await session.aclose()


class Pronouncing(Agent):
    """Fixes how the TTS says a word; what is written stays as the LLM wrote it."""

    async def tts_node(self, text: AsyncIterable[str]) -> AsyncIterator[AudioFrame]:
        async def fixed() -> AsyncIterator[str]:
            async for sentence in text:
                yield re.sub(r"\bnginx\b", "engine x", sentence)

        async for frame in super().tts_node(fixed()):
            yield frame


REPLY = "Restart **nginx** first. Then check nginx logs."


@virtual_time
async def test_pronunciation_fix_in_tts_node_reaches_the_tts_only() -> None:
    io, tts = MemoryIO(), FakeTTS()
    session = AgentSession(vad=FakeVAD(), stt=FakeSTT([]), llm=FakeLLM([REPLY]), tts=tts)
    rec = Recorder(session)
    await session.start(Pronouncing("Help with servers."), io=io)
    await session.run(user_input="the site is down")
    # one sentence per item, after the text transforms (markdown is gone), then the fix
    assert tts.requests == ["Restart engine x first.", "Then check engine x logs."]
    assert session.history.messages()[-1].content == REPLY
    assert "".join(io.text_output.segments) == REPLY
    (segment,) = io.audio_output.segments
    assert segment.duration == pytest.approx(sum(tts.duration_for(t) for t in tts.requests), abs=1e-6)
    usage = [e.metrics for e in rec.of("metrics_collected") if getattr(e.metrics, "kind", None) == "tts"]
    assert [u.characters for u in usage] == [len("Restart nginx first."), len("Then check nginx logs.")]
    # say() is spoken through the node too
    await session.say("nginx is back.").wait_for_playout()
    assert tts.requests[-1] == "engine x is back."
    assert io.text_output.segments[-1] == "nginx is back."
    await session.aclose()


class _DiesMidSentence(FakeTTS):
    """Its first synthesis breaks after 0.2 s of audio with a retryable error."""

    def __init__(self) -> None:
        super().__init__(seconds_per_char=0.02)
        self.broke = False

    def synthesize(self, text: str) -> TTSStream:
        if self.broke:
            return super().synthesize(text)
        self.broke = True

        async def run() -> AsyncIterator[AudioFrame]:
            self.requests.append(text)
            for _ in range(2):
                yield self._frame
            raise ProviderError("socket closed", provider="flaky", retryable=True)

        return GeneratorTTSStream(run)


@virtual_time
async def test_a_tts_node_override_keeps_the_mid_stream_resume() -> None:
    io, tts = MemoryIO(), _DiesMidSentence()
    session = AgentSession(vad=FakeVAD(), stt=FakeSTT([]), llm=FakeLLM(["nginx is up again."]), tts=tts)
    rec = Recorder(session)
    await session.start(Pronouncing("Help."), io=io)
    await session.run(user_input="status?")
    assert tts.requests == ["engine x is up again."] * 2  # resumed once, with the fixed text
    (segment,) = io.audio_output.segments
    # the audio already made is not said twice
    assert segment.duration == pytest.approx(tts.duration_for("engine x is up again."), abs=1e-6)
    assert not rec.of("error")
    await session.aclose()


class Discreet(Agent):
    """Hides bracketed stage notes from the transcript; the voice still says them."""

    async def transcription_node(self, text: AsyncIterable[str]) -> AsyncIterator[str]:
        async for part in super().transcription_node(text):
            yield re.sub(r"\s*\[[^\]]*\]", "", part)


@virtual_time
async def test_words_hidden_by_transcription_node_are_not_shown_but_spoken_and_remembered() -> None:
    io, tts = MemoryIO(), FakeTTS()
    reply = "Your code is [internal: ticket 42] ready. Goodbye [smiles]."
    session = AgentSession(vad=FakeVAD(), stt=FakeSTT([]), llm=FakeLLM([reply]), tts=tts)
    await session.start(Discreet("Help."), io=io)
    await session.run(user_input="is it ready?")
    shown = "".join(io.text_output.segments)
    assert shown == "Your code is ready. Goodbye."
    assert "[internal: ticket 42]" in tts.requests[0]  # audio still speaks the words
    assert session.history.messages()[-1].content == reply  # the agent remembers what it said
    await session.aclose()


class Filtering(Agent):
    """Drops a hallucinated final and spells a domain word the way the business writes it."""

    async def stt_node(self, audio: AsyncIterable[AudioFrame]) -> AsyncIterator[SpeechEvent]:
        async for event in super().stt_node(audio):
            if event.type is SpeechEventType.FINAL_TRANSCRIPT:
                if event.text.strip().lower().rstrip(".!") == "thank you for watching":
                    continue
                for alt in event.alternatives:
                    alt.text = alt.text.replace("cooper netties", "Kubernetes")
            yield event


@pytest.mark.parametrize("streaming", [False, True])
@virtual_time
async def test_stt_node_post_filter_drops_a_hallucination_and_maps_a_domain_word(streaming: bool) -> None:
    stt = FakeSTT(["thank you for watching", "deploy cooper netties today"], streaming=streaming)
    llm = FakeLLM(default="Deploying.")
    session = AgentSession(vad=FakeVAD(), stt=stt, llm=llm, tts=FakeTTS(), user_away_timeout=None)
    rec = Recorder(session)
    io = MemoryIO()
    await session.start(Filtering("Deploy things."), io=io)
    await speak_parts(session, io, [(0.8, 3.0), (1.2, 3.0)])
    finals = [e.transcript for e in rec.of("user_input_transcribed") if e.is_final]
    assert finals == ["deploy Kubernetes today"]
    assert [m.content for m in session.history.messages() if m.role == "user"] == ["deploy Kubernetes today"]
    assert [r.last_user_message for r in llm.requests] == ["deploy Kubernetes today"]
    if streaming:  # the default node streamed: the interims came through it
        assert [e for e in rec.of("user_input_transcribed") if not e.is_final]


@virtual_time
async def test_through_stt_node_a_broken_stream_still_falls_back_to_recognizing_the_segment() -> None:
    broken = ProviderError("stream reset", provider="FakeSTT", retryable=False)
    stt = FakeSTT([broken, "deploy cooper netties today"], streaming=True)
    session = AgentSession(vad=FakeVAD(), stt=stt, llm=FakeLLM(default="Ok."), tts=FakeTTS(), user_away_timeout=None)
    rec = Recorder(session)
    io = MemoryIO()
    await session.start(Filtering("Deploy things."), io=io)
    await speak_parts(session, io, [(1.2, 3.0)])
    assert [e.transcript for e in rec.of("user_input_transcribed") if e.is_final] == ["deploy Kubernetes today"]
    assert [(e.source, e.error) for e in rec.of("error")] == [("stt", broken)]


class DeafOnce(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="Listen.")
        self.segments = 0

    async def stt_node(self, audio: AsyncIterable[AudioFrame]) -> AsyncIterator[SpeechEvent]:
        self.segments += 1
        async for event in super().stt_node(audio):
            if self.segments == 1:
                raise KeyError("vocabulary")
            yield event


@virtual_time
async def test_a_failing_stt_node_loses_that_segment_only() -> None:
    llm = FakeLLM(default="Ok.")
    session = AgentSession(vad=FakeVAD(), stt=FakeSTT(["first words", "second words"]), llm=llm, tts=FakeTTS(),
                           user_away_timeout=None)
    rec = Recorder(session)
    io = MemoryIO()
    await session.start(DeafOnce(), io=io)
    await speak_parts(session, io, [(1.0, 3.0), (1.0, 3.0)])
    (error,) = rec.of("error")
    assert error.source == "stt_node" and "DeafOnce.stt_node failed: KeyError" in str(error.error)
    assert [r.last_user_message for r in llm.requests] == ["second words"]


class _ResetMidAnswer(FakeLLM):
    """The first answer breaks after two words with a retryable error; later requests answer whole."""

    def chat(self, *, chat_ctx: ChatContext, tools: Sequence[FunctionTool] = (), tool_choice: str = "auto",
             temperature: float | None = None) -> Any:
        if self.requests:
            return super().chat(chat_ctx=chat_ctx, tools=tools, tool_choice=tool_choice)  # type: ignore[arg-type]
        self.requests.append(LLMRequest(chat_ctx.copy(), [t.name for t in tools], "auto"))

        async def run() -> AsyncIterator[ChatChunk]:
            yield ChatChunk(content="We open ")
            yield ChatChunk(content="at ")
            raise ProviderError("connection reset", provider="FakeLLM", retryable=True)

        return GeneratorLLMStream(run)


@virtual_time
async def test_an_llm_node_override_keeps_the_mid_stream_resume() -> None:
    llm = _ResetMidAnswer(default="We open at 9 and close at 17.")
    session = AgentSession(vad=FakeVAD(), stt=FakeSTT([]), llm=llm, tts=FakeTTS())
    rec = Recorder(session)
    await session.start(RagAgent(), io=MemoryIO())
    result = await session.run(user_input="what are your opening hours?")
    assert result.reply == "We open at 9 and close at 17."  # continued once, nothing said twice
    assert len(llm.requests) == 2
    assert all("Facts: We open at 9 and close at 17." in _system(r) for r in llm.requests)
    assert not rec.of("error")
    await session.aclose()


class Broken(Agent):
    def __init__(self, node: str) -> None:
        super().__init__(instructions="Help.")
        self.node = node
        self.calls = 0

    def _fail_once(self) -> None:
        self.calls += 1
        if self.calls == 1:
            raise ValueError("index not loaded")

    async def llm_node(self, chat_ctx: ChatContext, tools: Sequence[FunctionTool]) -> AsyncIterator[ChatChunk | str]:
        if self.node == "llm_node":
            self._fail_once()
        async for chunk in super().llm_node(chat_ctx, tools):
            yield chunk

    async def tts_node(self, text: AsyncIterable[str]) -> AsyncIterator[AudioFrame]:
        async for frame in super().tts_node(text):
            if self.node == "tts_node":
                self._fail_once()
            yield frame

    async def transcription_node(self, text: AsyncIterable[str]) -> AsyncIterator[str]:
        async for part in super().transcription_node(text):
            if self.node == "transcription_node":
                self._fail_once()
            yield part


@pytest.mark.parametrize("node", ["llm_node", "tts_node", "transcription_node"])
@virtual_time
async def test_a_failing_node_is_reported_once_by_name_and_the_next_turn_works(node: str) -> None:
    io, tts = MemoryIO(), FakeTTS()
    llm = FakeLLM(default=lambda r: "First answer." if r.last_user_message == "one" else "Second answer.")
    session = AgentSession(vad=FakeVAD(), stt=FakeSTT([]), llm=llm, tts=tts)
    rec = Recorder(session)
    await session.start(Broken(node), io=io)
    await session.run(user_input="one")
    (error,) = rec.of("error")
    assert error.source == node and error.recoverable
    assert isinstance(error.error, NodeError) and error.error.node == node
    assert f"Broken.{node} failed: ValueError: index not loaded" in str(error.error)
    await session.run(user_input="two")
    assert len(rec.of("error")) == 1
    assert session.history.messages()[-1].content == "Second answer."
    assert io.text_output.segments[-1].strip() == "Second answer."
    if node == "transcription_node":  # the first reply was still spoken, just not shown
        assert tts.requests == ["First answer.", "Second answer."]
    await session.aclose()


class Wrong(Agent):
    async def llm_node(self, chat_ctx: ChatContext, tools: Sequence[FunctionTool]) -> AsyncIterator[ChatChunk | str]:
        yield 42  # type: ignore[misc]


@virtual_time
async def test_a_node_yielding_the_wrong_type_is_named_in_the_error() -> None:
    session = AgentSession(vad=FakeVAD(), stt=FakeSTT([]), llm=FakeLLM(default="unused"), tts=FakeTTS())
    rec = Recorder(session)
    await session.start(Wrong("x"), io=MemoryIO())
    await session.run(user_input="hi")
    (error,) = rec.of("error")
    assert "Wrong.llm_node yielded int (42), expected ChatChunk or str" in str(error.error)
    await session.aclose()


class PreemptiveBoth(RagAgent, Pronouncing):
    pass


@virtual_time
async def test_a_preemptive_reply_goes_through_the_llm_and_tts_nodes_once() -> None:
    asked: list[float] = []

    def answer(request: LLMRequest) -> FakeLLMResponse:
        asked.append(asyncio.get_running_loop().time())
        return FakeLLMResponse("Parking: nginx says free after 18.", ttft=0.3)

    llm = FakeLLM(default=answer)
    tts = FakeTTS(seconds_per_char=0.01)
    session = AgentSession(
        vad=FakeVAD(), stt=FakeSTT(["where is parking"], streaming=True, seconds_per_word=0.15), llm=llm,
        tts=tts, user_away_timeout=None, turn_detection=FakeTurnDetector(0.9, delay=0.4), preemptive_generation=True,
    )
    rec = Recorder(session)
    io = MemoryIO()
    agent = PreemptiveBoth()
    await session.start(agent, io=io)
    await speak_parts(session, io, [(1.0, 0.0)])
    assert len(llm.requests) == 1  # the prepared request, with the retrieved facts, is the reply's
    assert asked[0] < rec.time_of("conversation_item_added:user")  # asked before the turn was over
    assert "Facts: Parking is free after 18." in _system(llm.requests[0])
    assert tts.requests == ["Parking: engine x says free after 18."]  # made early, through the node, once
    said = [e.item.content for e in rec.of("conversation_item_added") if getattr(e.item, "role", "") == "assistant"]
    assert said == ["Parking: nginx says free after 18."]
    assert len(io.audio_output.segments) == 1


@virtual_time
async def test_a_plain_agent_keeps_no_node_layer() -> None:
    from livekitex_agent.nodes import node_overridden

    assert not any(
        node_overridden(Agent("x"), n)  # type: ignore[arg-type]
        for n in ("stt_node", "llm_node", "tts_node", "transcription_node", "realtime_audio_output_node")
    )
    assert node_overridden(Pronouncing("x"), "tts_node") and not node_overridden(Pronouncing("x"), "llm_node")
    with pytest.raises(RuntimeError, match="not running in a session"):
        await anext(Agent("x").llm_node(ChatContext(), []))
    await asyncio.sleep(0)


class Padded(Agent):
    """Realtime output: a short silence after each message's audio, and stage notes hidden."""

    async def realtime_audio_output_node(self, audio: AsyncIterable[AudioFrame]) -> AsyncIterator[AudioFrame]:
        rate = 24000
        async for frame in super().realtime_audio_output_node(audio):
            rate = frame.sample_rate
            yield frame
        yield AudioFrame.silence(0.25, rate)

    async def transcription_node(self, text: AsyncIterable[str]) -> AsyncIterator[str]:
        async for part in super().transcription_node(text):
            yield part.replace("[warmly] ", "")


@pytest.mark.usefixtures("close_sessions")
async def test_realtime_output_nodes_shape_the_audio_played_and_the_text_shown(server: RealtimeTestServer) -> None:
    server.queue_transcript("hello there")
    reply = "Hi! [warmly] How can I help?"
    server.queue_response(reply)
    io = MemoryIO()
    session = AgentSession(realtime=model(server), **pipeline())  # type: ignore[arg-type]
    rec = Recorder(session)
    await session.start(Padded("Be warm."), io=io)
    assert session.engine == "realtime"
    await say(io)
    await rec.wait_for("conversation_item_added:assistant", timeout=10)
    await rec.wait_for("agent_state_changed:listening", timeout=10, count=2)
    (seg,) = io.audio_output.segments
    assert seg.duration == pytest.approx(len(reply) * 0.015 + 0.25, abs=0.03)
    assert "".join(io.text_output.segments) == "Hi! How can I help?"
    assert session.history.messages()[-1].content == reply
    assert not rec.of("error")
    await session.aclose()
