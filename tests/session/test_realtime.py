"""The realtime engine against RealtimeTestServer: turns, tools, barge-in, and the fallback to the pipeline.

These run on the real event loop (the client does socket I/O) with audio paced in real time, so
each test takes a few seconds; every wait is bounded.
"""

from __future__ import annotations

import asyncio

import pytest
from _helpers import Recorder
from _realtime_helpers import WeatherAgent, model, pipeline, say

from livekitex_agent.chat import ChatMessage
from livekitex_agent.session import AgentSession
from livekitex_agent.testing import FakeLLM, FakeSTT, MemoryIO
from livekitex_agent.testing.realtime_server import RealtimeTestServer, ScriptedFunctionCall

pytestmark = pytest.mark.usefixtures("close_sessions")


async def test_realtime_spoken_turn(server: RealtimeTestServer) -> None:
    server.queue_transcript("hello there")
    server.queue_response("Hi! How can I help?")
    io = MemoryIO()
    session = AgentSession(realtime=model(server), **pipeline())  # type: ignore[arg-type]
    rec = Recorder(session)
    await session.start(WeatherAgent(), io=io)
    assert session.engine == "realtime"
    await say(io)
    await rec.wait_for("conversation_item_added:assistant", timeout=10)
    await rec.wait_for("agent_state_changed:listening", timeout=10, count=2)
    names = rec.names()
    assert names[0] == "engine_changed" and rec.of("engine_changed")[0].new_engine == "realtime"
    for a, b in [
        ("user_state_changed:speaking", "user_state_changed:listening"),
        ("user_state_changed:listening", "agent_state_changed:speaking"),
        ("agent_state_changed:speaking", "conversation_item_added:assistant"),
    ]:
        assert names.index(a) < names.index(b), names
    assert "hello there" in [e.transcript for e in rec.of("user_input_transcribed")]
    contents = [(m.role, m.content) for m in session.history.messages()]
    assert contents == [
        ("system", "You tell the weather."),
        ("user", "hello there"),
        ("assistant", "Hi! How can I help?"),
    ]
    (seg,) = io.audio_output.segments
    assert seg.duration == pytest.approx(len("Hi! How can I help?") * 0.015, abs=0.03)
    assert seg.result is not None and not seg.result.interrupted
    await session.aclose()


async def test_realtime_function_call_round_trip(server: RealtimeTestServer) -> None:
    server.queue_transcript("weather in paris?")
    server.queue_response(ScriptedFunctionCall("get_weather", {"city": "Paris"}), "It is sunny in Paris.")
    io = MemoryIO()
    agent = WeatherAgent()
    session = AgentSession(realtime=model(server), **pipeline())  # type: ignore[arg-type]
    rec = Recorder(session)
    await session.start(agent, io=io)
    await say(io)
    await rec.wait_for("function_tools_executed", timeout=10)
    await rec.wait_for("conversation_item_added:assistant", timeout=10)
    assert agent.asked == ["Paris"]
    kinds = [type(i).__name__ for i in session.history.items]
    assert kinds[-3:] == ["FunctionCall", "FunctionCallOutput", "ChatMessage"]
    assert session.history.items[-1].content == "It is sunny in Paris."  # type: ignore[union-attr]
    conn = server.connections[-1]
    outputs = [
        e["item"]
        for e in conn.client_events
        if e["type"] == "conversation.item.create" and e["item"]["type"] == "function_call_output"
    ]
    assert outputs and outputs[0]["output"] == "Sunny in Paris."
    await session.aclose()


async def test_realtime_barge_in_truncates_to_what_was_played(server: RealtimeTestServer) -> None:
    long = " ".join(["This is a long answer that goes on."] * 6)
    server.queue_transcript("tell me something", "stop")
    server.queue_response(long, "Okay.")
    io = MemoryIO()
    session = AgentSession(realtime=model(server), **pipeline())  # type: ignore[arg-type]
    rec = Recorder(session)
    await session.start(WeatherAgent(), io=io)
    await say(io)
    await rec.wait_for("agent_state_changed:speaking", timeout=10)
    await asyncio.sleep(1.0)
    await say(io, 0.6, 1.0)
    await server.wait_for_client_event("conversation.item.truncate", timeout=10)
    truncate = next(
        e for e in server.connections[-1].client_events if e["type"] == "conversation.item.truncate"
    )
    seg = io.audio_output.segments[0]
    assert seg.result is not None and seg.result.interrupted
    played_ms = seg.result.position * 1000
    assert abs(truncate["audio_end_ms"] - played_ms) <= 25  # what the user heard, to a frame
    await rec.wait_for("agent_state_changed:listening", timeout=10, count=2)
    msg = session.history.get(truncate["item_id"])
    assert isinstance(msg, ChatMessage) and msg.interrupted
    assert long.startswith(msg.content) and 0 < len(msg.content) < len(long)
    await session.aclose()


async def test_fallback_mid_conversation_keeps_history_and_answers_the_turn_said_during_the_outage(
    server: RealtimeTestServer,
) -> None:
    server.queue_transcript("hello there")
    server.queue_response("Hi! How can I help?")
    llm = FakeLLM(["Tomorrow will be rainy."])
    stt = FakeSTT(["and tomorrow?"])
    io = MemoryIO()
    session = AgentSession(
        realtime=model(server),
        realtime_reconnect_grace=0.5,
        **pipeline(llm=llm, stt=stt),  # type: ignore[arg-type]
    )
    rec = Recorder(session)
    await session.start(WeatherAgent(), io=io)
    await say(io)
    await rec.wait_for("conversation_item_added:assistant", timeout=10)
    await rec.wait_for("agent_state_changed:listening", timeout=10, count=2)

    server.refuse_connections(100)
    await server.drop_connection()
    await say(io, 0.8, 2.0)  # the user speaks while the model is gone
    await rec.wait_until(lambda: len(rec.of("engine_changed")) >= 2, timeout=10)
    change = rec.of("engine_changed")[1]
    assert (change.old_engine, change.new_engine) == ("realtime", "pipeline")
    assert change.switch_seconds is not None and change.switch_seconds < 1.0

    await rec.wait_until(
        lambda: len([m for m in session.history.messages() if m.role == "assistant"]) >= 2, timeout=10
    )
    # the pipeline's LLM saw the whole conversation, realtime turn included
    seen = [(m.role, m.content) for m in llm.requests[0].chat_ctx.messages()]
    assert seen == [
        ("system", "You tell the weather."),
        ("user", "hello there"),
        ("assistant", "Hi! How can I help?"),
        ("user", "and tomorrow?"),
    ]
    assert session.history.messages()[-1].content == "Tomorrow will be rainy."
    await rec.wait_for("agent_state_changed:listening", timeout=10, count=2)
    assert len(io.audio_output.segments) == 2
    await session.aclose()


async def test_fatal_error_falls_back_at_once_without_retrying(server: RealtimeTestServer) -> None:
    io = MemoryIO()
    session = AgentSession(realtime=model(server), realtime_reconnect_grace=None, **pipeline())  # type: ignore[arg-type]
    rec = Recorder(session)
    await session.start(WeatherAgent(), io=io)
    await server.send_error(
        "insufficient_quota", "You exceeded your current quota", error_type="insufficient_quota"
    )
    await rec.wait_until(lambda: session.engine == "pipeline", timeout=5)
    assert rec.of("engine_changed")[-1].new_engine == "pipeline"
    assert len(server.connections) == 1  # no reconnect after a fatal error
    await session.aclose()


async def test_model_failing_mid_answer_makes_the_pipeline_continue_what_was_heard_once(
    server: RealtimeTestServer,
) -> None:
    server.queue_transcript("what's the weather?")
    server.queue_response("Let me look that up for you, one moment please.")
    server.fail_next_response(after_audio_deltas=2, action="close", close_code=1011)
    llm = FakeLLM(["It is sunny."])
    io = MemoryIO()
    session = AgentSession(
        realtime=model(server),
        realtime_reconnect_grace=0.3,
        **pipeline(llm=llm),  # type: ignore[arg-type]
    )
    rec = Recorder(session)
    await session.start(WeatherAgent(), io=io)
    server.refuse_connections(100)  # once the model drops, it stays away
    await say(io)
    await rec.wait_until(lambda: bool(llm.requests) and session.current_speech is None, timeout=10)
    await session.wait_for_idle()
    assert rec.of("engine_changed")[-1].new_engine == "pipeline"
    assert len(llm.requests) == 1  # answered once
    request = llm.requests[0]
    assert request.last_user_message == "what's the weather?"
    seen = [m.content for m in request.chat_ctx.messages() if m.role == "system"]
    assert any("Continue that answer" in text and "Let me" in text for text in seen)
    # one assistant message for the turn: what was heard, then the pipeline's continuation
    answers = [m for m in session.history.messages() if m.role == "assistant"]
    assert len(answers) == 1
    head = answers[0].content.removesuffix("It is sunny.").strip()
    assert head and "Let me look that up".startswith(head) and answers[0].content.endswith("It is sunny.")
    errors = rec.of("error")
    assert errors and all(e.recovered for e in errors)
    await session.aclose()


async def test_connect_failure_at_start_uses_the_pipeline(server: RealtimeTestServer) -> None:
    server.refuse_connections(100)
    session = AgentSession(
        realtime=model(server), realtime_connect_timeout=2.0, llm=FakeLLM(["pipeline here"])
    )
    rec = Recorder(session)
    await session.start(WeatherAgent())
    assert session.engine == "pipeline"
    change = rec.of("engine_changed")[0]
    assert (
        change.old_engine is None
        and change.new_engine == "pipeline"
        and "realtime unavailable" in change.reason
    )
    result = await session.run(user_input="hi", timeout=5)
    assert result.reply == "pipeline here"
    await session.aclose()


async def test_recovery_switches_back_to_realtime_between_turns(server: RealtimeTestServer) -> None:
    server.refuse_connections(3)  # start fails (3 attempts), then the model is back
    session = AgentSession(
        realtime=model(server),
        fallback_recovery=True,
        realtime_recovery_interval=(0.2, 0.4),
        llm=FakeLLM(["from the pipeline"]),
    )
    rec = Recorder(session)
    await session.start(WeatherAgent())
    assert session.engine == "pipeline"
    first = await session.run(user_input="one", timeout=5)
    assert first.reply == "from the pipeline"
    await rec.wait_until(lambda: session.engine == "realtime", timeout=10)
    back = rec.of("engine_changed")[-1]
    assert (back.old_engine, back.new_engine, back.reason) == ("pipeline", "realtime", "recovered")
    server.queue_response("from the realtime model")
    second = await session.run(user_input="two", timeout=10)
    assert second.reply == "from the realtime model"
    # the realtime model got the history the pipeline built
    creates = [
        e["item"] for e in server.connections[-1].client_events if e["type"] == "conversation.item.create"
    ]
    texts = [c["content"][0].get("text") for c in creates if c["type"] == "message"]
    assert "one" in texts and "from the pipeline" in texts
    await session.aclose()
