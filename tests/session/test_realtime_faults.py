"""Every user turn is answered exactly once, whatever the realtime connection does (issue #9).

Each test is one fault a user would notice (silence, or the same answer twice), against
RealtimeTestServer through the real OpenAI client, with short stall bounds so each takes ~1-3 s.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from _helpers import Recorder
from _realtime_helpers import WeatherAgent, model, pipeline, say

from livekitex_agent.events import RealtimeConnectionState
from livekitex_agent.providers.base import RetryPolicy
from livekitex_agent.session import AgentSession, RealtimeStallTimeouts
from livekitex_agent.testing import FakeLLM, FakeSTT, MemoryIO
from livekitex_agent.testing.realtime_server import (
    RealtimeTestServer,
    ScriptedFunctionCall,
    ScriptedMessage,
    ScriptedResponse,
)

pytestmark = pytest.mark.usefixtures("close_sessions")

SHORT = RealtimeStallTimeouts(response_created=0.4, first_output=0.4, output_gap=0.4)
ANSWER = "The first part of the answer goes on for a while before it ends."


def assistant_texts(session: AgentSession) -> list[str]:
    return [m.content for m in session.history.messages() if m.role == "assistant"]


async def spoken_turn(server: RealtimeTestServer, **kw: object) -> tuple[AgentSession, Recorder, MemoryIO]:
    """A session on the realtime model (a pipeline of fakes behind it) and the user's first spoken turn."""
    io = MemoryIO()
    realtime_kw = {k: kw.pop(k) for k in list(kw) if k.startswith("realtime_")}
    session = AgentSession(realtime=model(server), **realtime_kw, **pipeline(**kw))  # type: ignore[arg-type]
    rec = Recorder(session)
    await session.start(WeatherAgent(), io=io)
    await say(io)
    return session, rec, io


def response_creates(server: RealtimeTestServer, index: int) -> list[dict[str, object]]:
    return [e for e in server.connections[index].client_events if e["type"] == "response.create"]


async def test_drop_mid_answer_then_reconnect_answers_the_turn_once(server: RealtimeTestServer) -> None:
    server.queue_transcript("tell me a story")
    server.queue_response(ANSWER, "and this is how it ends.")
    server.fail_next_response(after_audio_deltas=3, action="drop")
    llm = FakeLLM(["the pipeline must not answer"])
    session, rec, _ = await spoken_turn(server, llm=llm)
    await rec.wait_until(lambda: any(t.endswith("how it ends.") for t in assistant_texts(session)), timeout=10)
    await session.wait_for_idle()

    assert session.engine == "realtime" and not llm.requests
    # the same model was asked again, on the new connection, to continue from what was heard
    assert len(server.connections) == 2
    (again,) = response_creates(server, 1)
    instructions = again["response"]["instructions"]  # type: ignore[index]
    assert "Continue that answer" in instructions and "The first part" in instructions
    replayed = [e["item"] for e in server.connections[1].client_events if e["type"] == "conversation.item.create"]
    assert any(i.get("role") == "user" and i["content"][0].get("text") == "tell me a story" for i in replayed)
    # one assistant message for the turn: the heard part, then the rest
    (answer,) = assistant_texts(session)
    head = answer.removesuffix("and this is how it ends.").strip()
    assert head and ANSWER.startswith(head) and not answer.startswith(ANSWER)
    added = [e.item for e in rec.of("conversation_item_added") if getattr(e.item, "role", "") == "assistant"]
    assert len(added) == 1 and added[0].content == answer
    # a recovered reconnect is not an error: it is a connection state
    assert rec.of("error") == []
    states = [e.state for e in rec.of("realtime_connection_changed")]
    assert states[0] is RealtimeConnectionState.LOST and states[-1] is RealtimeConnectionState.RESTORED
    restored = rec.of("realtime_connection_changed")[-1]
    assert restored.outage_seconds is not None and 0 < restored.outage_seconds < 1.0


async def test_drop_before_the_transcript_still_gets_the_question_answered(server: RealtimeTestServer) -> None:
    server.transcription_after_response = True  # the transcript would come after the answer: it never does
    server.queue_transcript("what is the capital of France?")
    server.queue_response(ANSWER, "Paris.")
    server.fail_next_response(after_audio_deltas=1, action="drop")
    session, rec, _ = await spoken_turn(server)
    await rec.wait_until(lambda: any(t.endswith("Paris.") for t in assistant_texts(session)), timeout=10)
    # the new server session heard the user's turn: as its audio, in its place in the conversation
    creates = [e["item"] for e in server.connections[1].client_events if e["type"] == "conversation.item.create"]
    users = [i for i in creates if i.get("role") == "user"]
    assert len(users) == 1 and users[0]["content"][0]["type"] == "input_audio"
    assert [i["role"] for i in creates if i["type"] == "message"][:2] == ["user", "assistant"]
    assert len(assistant_texts(session)) == 1


async def test_model_that_stops_mid_answer_is_reconnected_and_the_answer_continues(
    server: RealtimeTestServer,
) -> None:
    server.queue_transcript("tell me a story")
    server.queue_response(ANSWER, "and that is all.")
    server.fail_next_response(after_audio_deltas=2, action="stall")
    session, rec, _ = await spoken_turn(server, realtime_stall_timeouts=SHORT)
    await rec.wait_until(lambda: any(t.endswith("that is all.") for t in assistant_texts(session)), timeout=10)
    assert len(server.connections) == 2 and session.engine == "realtime"
    lost = rec.of("realtime_connection_changed")[0]
    assert lost.state is RealtimeConnectionState.LOST and "no output for 0.4s" in (lost.reason or "")
    assert len(assistant_texts(session)) == 1


async def test_server_that_never_answers_is_reconnected_then_the_pipeline_answers(
    server: RealtimeTestServer,
) -> None:
    server.never_answer = True
    llm = FakeLLM(["Answered by the pipeline."])
    session = AgentSession(realtime=model(server), realtime_stall_timeouts=SHORT, llm=llm)
    rec = Recorder(session)
    await session.start(WeatherAgent())
    loop = asyncio.get_running_loop()
    started = loop.time()
    result = await session.run(user_input="are you there?", timeout=10)
    assert result.reply == "Answered by the pipeline."
    assert loop.time() - started < 3.0  # two stall bounds and a reconnect, not a 10 s reply timeout
    assert len(server.connections) == 2  # one reconnect, then the fallback
    assert [len(response_creates(server, i)) for i in (0, 1)] == [1, 1]  # asked once on each connection
    assert [e.new_engine for e in rec.of("engine_changed")] == ["realtime", "pipeline"]
    assert len(llm.requests) == 1 and assistant_texts(session) == ["Answered by the pipeline."]


async def test_turn_asked_while_reconnecting_waits_and_is_answered_after_the_reconnect(
    server: RealtimeTestServer,
) -> None:
    slow = RetryPolicy(max_retries=3, base_delay=0.4, max_delay=0.4, timeout=None)
    llm = FakeLLM(["the pipeline must not answer"])
    session = AgentSession(realtime=model(server, retry_policy=slow), llm=llm)
    rec = Recorder(session)
    await session.start(WeatherAgent())
    server.queue_response("Answered after the reconnect.")
    await server.drop_connection()
    await rec.wait_until(lambda: bool(rec.of("realtime_connection_changed")), timeout=5)
    result = await session.run(user_input="hello?", timeout=10)
    assert result.reply == "Answered after the reconnect."
    assert session.engine == "realtime" and not llm.requests and rec.of("error") == []


async def test_turn_asked_while_reconnecting_is_answered_by_the_pipeline_once_the_grace_is_over(
    server: RealtimeTestServer,
) -> None:
    slow = RetryPolicy(max_retries=5, base_delay=0.4, max_delay=0.4, timeout=None)
    llm = FakeLLM(["From the pipeline."])
    session = AgentSession(realtime=model(server, retry_policy=slow), realtime_reconnect_grace=0.5, llm=llm)
    rec = Recorder(session)
    await session.start(WeatherAgent())
    server.refuse_connections(100)
    await server.drop_connection()
    await rec.wait_until(lambda: bool(rec.of("realtime_connection_changed")), timeout=5)
    result = await session.run(user_input="hello?", timeout=10)
    assert result.reply == "From the pipeline."
    assert len(llm.requests) == 1 and assistant_texts(session) == ["From the pipeline."]
    change = rec.of("engine_changed")[-1]
    assert change.new_engine == "pipeline" and change.switch_seconds is not None and change.switch_seconds < 0.5
    errors = rec.of("error")
    assert len(errors) == 1 and errors[0].recovered and errors[0].recoverable


async def test_fatal_error_on_response_create_is_answered_once_by_the_pipeline(server: RealtimeTestServer) -> None:
    server.fail_on("response.create", "insufficient_quota")
    llm = FakeLLM(["Only once."])
    session = AgentSession(realtime=model(server), llm=llm)
    rec = Recorder(session)
    await session.start(WeatherAgent())
    result = await session.run(user_input="hi", timeout=10)
    await session.wait_for_idle()
    await asyncio.sleep(0.2)  # a second answer would have been queued by now
    assert result.reply == "Only once."
    assert len(llm.requests) == 1 and assistant_texts(session) == ["Only once."]
    assert rec.of("engine_changed")[-1].new_engine == "pipeline"
    assert len(server.connections) == 1
    (error,) = rec.of("error")  # the model's own error, recovered by the pipeline
    assert error.error.code == "insufficient_quota" and error.recovered


async def test_answers_from_a_server_that_does_not_echo_metadata_are_not_delayed(server: RealtimeTestServer) -> None:
    server.echo_metadata = False
    server.queue_response(ScriptedFunctionCall("get_weather", {"city": "Oslo"}), "It is sunny in Oslo.")
    agent = WeatherAgent()
    session = AgentSession(realtime=model(server))
    await session.start(agent)
    loop = asyncio.get_running_loop()
    started = loop.time()
    result = await session.run(user_input="weather in Oslo?", timeout=10)
    assert result.reply == "It is sunny in Oslo." and agent.asked == ["Oslo"]
    assert loop.time() - started < 2.0  # the tool-call answer did not wait for the 10 s reply timeout


async def test_failed_response_is_asked_again_and_continues_from_what_was_heard(server: RealtimeTestServer) -> None:
    server.queue_response(ScriptedResponse([ScriptedMessage("Let me think.")], status="failed"), "The answer is 42.")
    session = AgentSession(realtime=model(server), llm=FakeLLM(["the pipeline must not answer"]))
    await session.start(WeatherAgent(), io=MemoryIO())
    await session.run(user_input="what is the answer?", timeout=10)
    await session.wait_for_idle()
    assert assistant_texts(session) == ["Let me think. The answer is 42."]
    assert len(response_creates(server, 0)) == 2 and session.engine == "realtime"


async def test_model_failing_before_the_transcript_lets_the_pipeline_stt_hear_the_question_once(
    server: RealtimeTestServer,
) -> None:
    server.transcription_after_response = True  # the model's transcript never arrives
    server.queue_response(ANSWER)
    server.fail_next_response(after_audio_deltas=2, action="close", close_code=1011)
    stt, llm = FakeSTT(["what time is it?"]), FakeLLM(["It is noon."])
    session, rec, _ = await spoken_turn(server, realtime_reconnect_grace=0.3, stt=stt, llm=llm)
    server.refuse_connections(100)  # once the model drops (mid-answer, a second from now), it stays away
    await rec.wait_until(lambda: any(t.endswith("It is noon.") for t in assistant_texts(session)), timeout=10)
    await session.wait_for_idle()
    assert len(stt.calls) == 1 and len(llm.requests) == 1  # transcribed once, answered once
    assert llm.requests[0].last_user_message == "what time is it?"
    (user,) = [m for m in session.history.messages() if m.role == "user"]
    (answer,) = assistant_texts(session)  # in order: the question, then the one answer continued
    assert user.content == "what time is it?" and session.history.messages()[-1].content == answer
    head = answer.removesuffix("It is noon.").strip()
    assert head and ANSWER.startswith(head)
    assert "what time is it?" in [e.transcript for e in rec.of("user_input_transcribed")]


async def test_barge_in_during_the_continuation_leaves_one_answer_cut_where_the_user_spoke(
    server: RealtimeTestServer,
) -> None:
    rest = " ".join(["and then it goes on and on for quite a while longer."] * 4)
    server.queue_transcript("tell me a story", "stop")
    server.queue_response(ANSWER, rest, "Okay.")
    server.fail_next_response(after_audio_deltas=3, action="drop")
    session, rec, io = await spoken_turn(server)
    await server.wait_for_server_event("response.output_audio.delta", count=3, index=1, timeout=10)
    await say(io, 0.6, 1.0)  # the user speaks over the continuation
    await rec.wait_until(lambda: "Okay." in assistant_texts(session), timeout=10)
    cut, okay = [m for m in session.history.messages() if m.role == "assistant"]
    assert okay.content == "Okay." and cut.interrupted
    head = ANSWER.split()[0]
    assert cut.content.startswith(head) and "and then" in cut.content and not cut.content.endswith(rest)
    assert server.connections[1].truncations  # the server's copy was cut too


async def test_spoken_turn_the_server_never_answers_is_answered_by_the_pipeline_once(
    server: RealtimeTestServer,
) -> None:
    server.never_answer = True
    server.queue_transcript("is anybody there?")
    llm = FakeLLM(["Yes, the pipeline is."])
    session, rec, _ = await spoken_turn(server, realtime_stall_timeouts=SHORT, llm=llm)
    await rec.wait_until(lambda: assistant_texts(session) == ["Yes, the pipeline is."], timeout=10)
    await session.wait_for_idle()
    assert len(server.connections) == 2 and response_creates(server, 1)  # reconnected and asked again
    assert len(llm.requests) == 1 and llm.requests[0].last_user_message == "is anybody there?"
    assert rec.of("engine_changed")[-1].new_engine == "pipeline"


async def test_stalled_model_that_cannot_come_back_is_replaced_within_the_grace_of_going_quiet(
    server: RealtimeTestServer,
) -> None:
    server.queue_transcript("tell me a story")
    server.queue_response(ANSWER)
    server.fail_next_response(after_audio_deltas=2, action="stall")
    slow = RetryPolicy(max_retries=10, base_delay=0.2, max_delay=0.2, timeout=None)
    stall = RealtimeStallTimeouts(response_created=1.0, first_output=1.0, output_gap=1.0)
    io = MemoryIO()
    session = AgentSession(
        realtime=model(server, retry_policy=slow), realtime_stall_timeouts=stall, realtime_reconnect_grace=1.2,
        **pipeline(llm=FakeLLM(["the rest, from the pipeline."])),  # type: ignore[arg-type]
    )
    rec = Recorder(session)
    await session.start(WeatherAgent(), io=io)
    await say(io)
    await rec.wait_for("agent_state_changed:speaking", timeout=10)
    server.refuse_connections(100)  # the stalled model will not come back
    await rec.wait_until(lambda: session.engine == "pipeline", timeout=10)
    # the grace counts from when the model went quiet, not from when the stall was noticed (1 s later)
    assert rec.time_of("engine_changed", 1) - rec.time_of("agent_state_changed:speaking") < 1.2 + 0.4
    await rec.wait_until(lambda: any(t.endswith("from the pipeline.") for t in assistant_texts(session)), timeout=10)
    assert len(assistant_texts(session)) == 1


async def test_model_going_deaf_as_the_user_speaks_is_reconnected_and_hears_the_question_again(
    server: RealtimeTestServer,
) -> None:
    # the stalled connection still runs the turn (silently): every connection answers the same
    server.default_transcript, server.default_reply = "anyone there?", "Yes, I am here."
    session, rec, _ = await spoken_turn(server, realtime_stall_timeouts=SHORT)
    await server.wait_for_server_event("input_audio_buffer.speech_started", timeout=10)
    server.stall_connection()  # from now on the model sends nothing: no end of turn, no answer
    await rec.wait_until(lambda: assistant_texts(session) == ["Yes, I am here."], timeout=10)
    assert len(server.connections) == 2 and session.engine == "realtime"
    # the new connection heard the user's words again (their audio), and answered them
    assert server.connections[1].seq_of("input_audio_buffer.committed") < server.connections[1].seq_of(
        "response.created"
    )
    assert [m.content for m in session.history.messages() if m.role == "user"] == ["anyone there?"]


async def test_model_going_deaf_twice_lets_the_pipeline_stt_hear_the_question(server: RealtimeTestServer) -> None:
    stt, llm = FakeSTT(["anyone there?"]), FakeLLM(["The pipeline is here."])
    session, rec, _ = await spoken_turn(server, realtime_stall_timeouts=SHORT, stt=stt, llm=llm)
    await server.wait_for_server_event("input_audio_buffer.speech_started", timeout=10)
    server.stall_connection()

    async def stall_the_next_one() -> None:  # deaf from its start: it never hears the words again
        await server.wait_for_server_event("session.created", index=1, timeout=10)
        server.stall_connection(1)

    staller = asyncio.create_task(stall_the_next_one())
    await rec.wait_until(lambda: assistant_texts(session) == ["The pipeline is here."], timeout=10)
    await staller
    assert session.engine == "pipeline" and len(llm.requests) == 1
    assert llm.requests[0].last_user_message == "anyone there?" and len(stt.calls) == 1


async def test_drop_twice_in_a_row_continues_from_everything_heard_once(server: RealtimeTestServer) -> None:
    second = "and a second part that also goes on for a while,"
    server.queue_transcript("tell me a story")
    server.queue_response(ANSWER, second, "and the end.")
    server.fail_next_response(after_audio_deltas=3, action="drop")
    session, rec, _ = await spoken_turn(server)
    await server.wait_for_connections(2, timeout=10)
    server.fail_next_response(after_audio_deltas=3, action="drop")  # the continuation is cut as well
    await rec.wait_until(lambda: any(t.endswith("the end.") for t in assistant_texts(session)), timeout=10)
    assert len(server.connections) == 3
    (answer,) = assistant_texts(session)
    (last_ask,) = response_creates(server, 2)
    heard = last_ask["response"]["instructions"]  # type: ignore[index]
    assert "The first part" in heard and "and a second" in heard  # both cut parts, in order
    words = answer.removesuffix("and the end.").split()
    assert words[:3] == ["The", "first", "part"] and words.count("first") == 1 and words.count("second") == 1


async def test_question_asked_during_an_announcement_is_answered_when_the_model_fails_on_reconnect(
    server: RealtimeTestServer,
) -> None:
    # the model never answers the question (a stall), and its reconnection's session.update gets a fatal error;
    # the speech asked for after the reconnect is still queued behind the announcement when the model fails
    server.never_answer = True
    server.queue_transcript("is anybody there?")
    llm = FakeLLM(["Yes, the pipeline is."])
    session = AgentSession(realtime=model(server), realtime_stall_timeouts=SHORT, **pipeline(llm=llm))  # type: ignore[arg-type]
    rec = Recorder(session)
    io = MemoryIO()
    await session.start(WeatherAgent(), io=io)
    switched = asyncio.Event()
    session.on("engine_changed", lambda e: switched.set() if e.new_engine == "pipeline" else None)

    async def announcement() -> AsyncIterator[str]:
        yield "Please hold on."
        await switched.wait()  # the announcement lasts until the model has failed
        yield " Thank you."

    session.say(announcement(), allow_interruptions=False)
    await say(io)
    await server.wait_for_server_event("input_audio_buffer.committed", timeout=10)
    server.fail_on("session.update", "insufficient_quota")
    await rec.wait_until(lambda: "Yes, the pipeline is." in assistant_texts(session), timeout=10)
    await session.wait_for_idle()
    assert len(server.connections) == 2 and session.engine == "pipeline"
    assert len(llm.requests) == 1 and llm.requests[0].last_user_message == "is anybody there?"
    assert assistant_texts(session) == ["Please hold on. Thank you.", "Yes, the pipeline is."]
