"""Provider failures, session limits and clean shutdown."""

from __future__ import annotations

import asyncio
import tracemalloc

import pytest
from _helpers import Recorder, utterance

from livekitex_agent import Agent
from livekitex_agent.errors import ConfigError, ErrorCategory, ProviderError
from livekitex_agent.events import AgentState, CloseReason, UserState
from livekitex_agent.session import AgentSession
from livekitex_agent.testing import FakeLLM, FakeSTT, FakeTTS, FakeVAD, MemoryIO, virtual_time


def err(retryable: bool, msg: str = "boom") -> ProviderError:
    return ProviderError(msg, provider="fake", retryable=retryable, category=ErrorCategory.SERVER)


@virtual_time
async def test_retryable_llm_error_is_retried_and_a_fatal_one_fails_only_that_turn() -> None:
    llm = FakeLLM([err(True), "second try worked", err(False, "bad request"), "next turn is fine"])
    session = AgentSession(llm=llm)
    rec = Recorder(session)
    await session.start(Agent("hi"))
    r1 = await session.run(user_input="one")
    assert r1.reply == "second try worked" and len(llm.requests) == 2
    r2 = await session.run(user_input="two")
    assert r2.reply == ""
    (error,) = r2.of_type("error")
    assert error.recoverable and error.source == "pipeline" and "bad request" in str(error.error)
    assert session.agent_state is AgentState.LISTENING
    r3 = await session.run(user_input="three")
    assert r3.reply == "next turn is fine"
    assert not session.closed and "close" not in rec.names()
    await session.aclose()


@virtual_time
async def test_tts_and_stt_failures_are_retried_or_reported_and_the_session_survives() -> None:
    io = MemoryIO()
    tts = FakeTTS(fail=[err(True)])
    stt = FakeSTT([err(False, "stt down"), "second utterance"])
    session = AgentSession(vad=FakeVAD(), stt=stt, llm=FakeLLM(["Answer."]), tts=tts)
    rec = Recorder(session)
    await session.start(Agent("hi"), io=io)
    io.push_audio(utterance(1.0))
    io.push_silence(2.0)
    io.push_audio(utterance(1.0))
    io.push_silence(4.0)
    io.end_input()
    await asyncio.wait_for(session.wait_closed(), 120)
    errors = rec.of("error")
    assert [e.source for e in errors] == ["stt"] and "stt down" in str(errors[0].error)
    assert [m.content for m in session.history.messages()][1:] == ["second utterance", "Answer."]
    assert len(tts.requests) == 2  # the first synthesis failed and was retried
    assert io.audio_output.segments[0].duration == pytest.approx(tts.duration_for("Answer."))


@virtual_time
async def test_user_away_then_idle_timeout_closes_the_session() -> None:
    session = AgentSession(llm=FakeLLM(["ok"]), user_away_timeout=5.0, idle_timeout=20.0)
    rec = Recorder(session)
    await session.start(Agent("hi"))
    await asyncio.sleep(4.9)
    assert session.user_state is UserState.LISTENING
    await asyncio.sleep(0.2)
    assert session.user_state is UserState.AWAY
    await session.run(user_input="I'm back")  # activity re-arms both timers
    t = asyncio.get_running_loop().time()
    await asyncio.wait_for(session.wait_closed(), 120)
    assert rec.of("close")[0].reason is CloseReason.IDLE_TIMEOUT
    assert asyncio.get_running_loop().time() - t == pytest.approx(20.0)


@virtual_time
async def test_max_session_duration() -> None:
    session = AgentSession(llm=FakeLLM(default="ok"), max_session_duration=30.0, user_away_timeout=None)
    rec = Recorder(session)
    await session.start(Agent("hi"))
    for _ in range(5):
        await session.run(user_input="still here")
        await asyncio.sleep(5)
    await asyncio.wait_for(session.wait_closed(), 120)
    assert rec.of("close")[0].reason is CloseReason.MAX_DURATION
    assert asyncio.get_running_loop().time() == pytest.approx(30.0)


@virtual_time
async def test_aclose_mid_speech_leaves_no_task_behind() -> None:
    before = set(asyncio.all_tasks())
    io = MemoryIO()
    session = AgentSession(vad=FakeVAD(), stt=FakeSTT(["talk"]), llm=FakeLLM(["word " * 200]), tts=FakeTTS())
    rec = Recorder(session)
    await session.start(Agent("hi"), io=io)
    io.push_audio(utterance(1.0))
    await rec.wait_for("agent_state_changed:speaking")
    await asyncio.sleep(1.0)
    await session.aclose()
    await asyncio.sleep(0)
    leaked = {t for t in asyncio.all_tasks() - before if t is not asyncio.current_task()}
    assert leaked == set(), [t.get_name() for t in leaked]
    assert rec.of("close")[0].reason is CloseReason.USER_REQUESTED
    assert session.agent_state is AgentState.CLOSED
    assert session.history.messages()[-1].interrupted
    with pytest.raises(RuntimeError, match="not running"):
        session.say("too late")


def test_bad_options_name_the_value() -> None:
    with pytest.raises(ConfigError, match="min_endpointing_delay=-1 must be >= 0"):
        AgentSession(min_endpointing_delay=-1)
    with pytest.raises(ConfigError, match="unknown AgentSession option"):
        AgentSession(min_endpointing=0.2)
    with pytest.raises(ConfigError, match="max_endpointing_delay"):
        AgentSession(min_endpointing_delay=3, max_endpointing_delay=1)


@virtual_time
async def test_audio_input_without_vad_or_stt_is_a_clear_error() -> None:
    session = AgentSession(llm=FakeLLM())
    with pytest.raises(ConfigError, match="vad and stt"):
        await session.start(Agent("hi"), io=MemoryIO())
    await session.aclose()


@virtual_time
async def test_ten_thousand_turns_run_in_bounded_memory() -> None:
    session = AgentSession(llm=FakeLLM(default="Sure, noted.", keep_requests=10), user_away_timeout=None)
    await session.start(Agent("Remember everything."))
    tracemalloc.start()
    for i in range(1000):
        await session.run(user_input=f"note number {i}")
    first, _ = tracemalloc.get_traced_memory()
    for i in range(9000):
        await session.run(user_input=f"note number {i}")
    second, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(session.history) <= session.options.max_history_items  # type: ignore[operator]
    assert session.history.items[0].id == "instructions"
    assert second - first < 500_000, f"grew {second - first} bytes over 9000 turns"
    await session.aclose()
