"""A full spoken turn through the pipeline: audio in → transcript → reply audio out."""

from __future__ import annotations

import asyncio

from _helpers import Recorder, utterance

from livekitex_agent import Agent
from livekitex_agent.events import CloseReason
from livekitex_agent.metrics import TurnMetrics
from livekitex_agent.session import AgentSession
from livekitex_agent.testing import FakeLLM, FakeSTT, FakeTTS, FakeVAD, MemoryIO, virtual_time

REPLY = "Hello! The weather is fine. Anything else?"


@virtual_time
async def test_spoken_turn_end_to_end_with_event_order_and_metrics() -> None:
    io = MemoryIO()
    tts = FakeTTS(seconds_per_char=0.05)
    stt = FakeSTT(["how is the weather"])
    llm = FakeLLM([REPLY])
    session = AgentSession(vad=FakeVAD(), stt=stt, llm=llm, tts=tts, min_endpointing_delay=0.5)
    rec = Recorder(session)
    await session.start(Agent("You are a weather bot."), io=io)

    io.push_silence(0.5)
    io.push_audio(utterance(1.2))
    io.push_silence(6.0)
    io.end_input()
    await asyncio.wait_for(session.wait_closed(), 120)

    assert rec.names() == [
        "engine_changed",
        "agent_state_changed:listening",
        "user_state_changed:speaking",
        "user_state_changed:listening",
        "user_input_transcribed",
        "conversation_item_added:user",
        "speech_created",
        "agent_state_changed:thinking",
        "agent_state_changed:speaking",
        "conversation_item_added:assistant",
        "metrics_collected:turn_metrics",
        "agent_state_changed:listening",
        "agent_state_changed:closed",
        "close",
    ]
    assert rec.of("user_input_transcribed")[0].transcript == "how is the weather"
    assert rec.of("close")[0].reason is CloseReason.INPUT_ENDED
    assert [m.content for m in session.history.messages()] == [
        "You are a weather bot.",
        "how is the weather",
        REPLY,
    ]
    # the LLM saw the instructions and the user's words
    assert [m.content for m in llm.requests[0].chat_ctx.messages()] == [
        "You are a weather bot.",
        "how is the weather",
    ]
    # STT got the VAD segment: the 1.2 s utterance plus padding, not the silence around it
    assert 1.2 <= stt.calls[0].audio_duration <= 1.2 + 0.1 + 0.2 + 0.02

    # the agent's voice: all of it, once, starting min_endpointing_delay after the user stopped
    (segment,) = io.audio_output.segments
    assert tts.requests == ["Hello! The weather is fine.", "Anything else?"]
    assert abs(segment.duration - sum(tts.duration_for(t) for t in tts.requests)) < 1e-6
    speech_end = 0.5 + 1.2
    assert abs(segment.start - (speech_end + 0.5)) <= 0.03
    assert io.text_output.segments == [REPLY]

    (turn,) = [m for m in (e.metrics for e in rec.of("metrics_collected")) if isinstance(m, TurnMetrics)]
    assert abs(turn.end_of_utterance_delay - 0.5) <= 0.03  # type: ignore[operator]
    assert abs(turn.e2e_latency - 0.5) <= 0.03  # type: ignore[operator]
    assert turn.llm_ttft == 0 and turn.tts_ttfb == 0 and turn.framework_delay == 0
    assert not turn.interrupted


@virtual_time
async def test_provider_latency_shows_in_metrics_and_first_sentence_plays_before_llm_finishes() -> None:
    from livekitex_agent.testing import FakeLLMResponse

    io = MemoryIO()
    llm = FakeLLM([FakeLLMResponse(text="First sentence here. " + "word " * 40, ttft=0.3, chunk_delay=0.1)])
    tts = FakeTTS(ttfb=0.2)
    stt = FakeSTT(["tell me a story"], delay=0.15)
    session = AgentSession(vad=FakeVAD(), stt=stt, llm=llm, tts=tts)
    rec = Recorder(session)
    await session.start(Agent("Tell stories."), io=io)
    io.push_audio(utterance(1.0))
    io.push_silence(12.0)
    io.end_input()
    await asyncio.wait_for(session.wait_closed(), 120)

    (turn,) = [m for m in (e.metrics for e in rec.of("metrics_collected")) if isinstance(m, TurnMetrics)]
    assert abs(turn.llm_ttft - 0.3) < 1e-6  # type: ignore[operator]
    assert abs(turn.tts_ttfb - 0.2) < 1e-6  # type: ignore[operator]
    # STT (0.15 s) finishes inside the endpointing wait, so it does not delay the turn
    assert abs(turn.end_of_utterance_delay - 0.5) <= 0.03  # type: ignore[operator]
    # e2e = endpointing 0.5 + ttft 0.3 + writing the first sentence (2 more chunks at 0.1 s) + tts 0.2
    assert abs(turn.e2e_latency - (0.5 + 0.3 + 0.2 + 0.2)) <= 0.03  # type: ignore[operator]
    assert turn.framework_delay is not None and turn.framework_delay <= 0.03
    # the first audio came out while the LLM was still writing (41 more chunks at 0.1 s)
    first_audio = io.audio_output.segments[0].start
    llm_done = rec.time_of("conversation_item_added:assistant")
    assert first_audio < llm_done - 3.0
    assert tts.requests[0] == "First sentence here."
    await asyncio.sleep(0)


@virtual_time
async def test_turn_ends_when_vad_silence_is_longer_than_the_endpointing_delay() -> None:
    # the VAD reports the end of speech only after 0.8 s of silence, past min_endpointing_delay:
    # the turn must end as soon as the transcript is in
    io = MemoryIO()
    session = AgentSession(
        vad=FakeVAD(min_silence_duration=0.8),
        stt=FakeSTT(["one", "two"]),
        llm=FakeLLM(["A.", "B."]),
        tts=FakeTTS(),
        min_endpointing_delay=0.5,
    )
    rec = Recorder(session)
    await session.start(Agent("x"), io=io)
    for _ in range(2):
        io.push_audio(utterance(1.0))
        io.push_silence(3.0)
    io.end_input()
    await asyncio.wait_for(session.wait_closed(), 60)
    turns = [m for m in (e.metrics for e in rec.of("metrics_collected")) if isinstance(m, TurnMetrics)]
    assert len(turns) == 2
    assert all(abs(t.end_of_utterance_delay - 0.8) <= 0.03 for t in turns)  # type: ignore[operator]


class _SlowLookupAgent(Agent):
    """Looks something up (1 s) when the user's turn ends, before the reply is generated."""

    async def on_user_turn_completed(self, turn_ctx: object, new_message: object) -> None:
        await asyncio.sleep(1.0)


@virtual_time
async def test_input_ending_right_after_a_turn_still_gets_the_reply_after_a_slow_turn_hook() -> None:
    io = MemoryIO()
    session = AgentSession(
        vad=FakeVAD(), stt=FakeSTT(["what time is it"]), llm=FakeLLM(["Noon."]), tts=FakeTTS(),
        min_endpointing_delay=0.5,
    )  # fmt: skip
    rec = Recorder(session)
    await session.start(_SlowLookupAgent("x"), io=io)
    io.push_audio(utterance(1.0))
    io.push_silence(0.6)
    io.end_input()  # while the turn's hook is still looking up
    await asyncio.wait_for(session.wait_closed(), 60)
    assert rec.of("close")[0].reason is CloseReason.INPUT_ENDED
    assert [m.content for m in session.history.messages()][-2:] == ["what time is it", "Noon."]
    assert len(io.audio_output.segments) == 1  # the reply was played before the session closed
