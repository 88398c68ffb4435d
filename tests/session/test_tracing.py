"""OpenTelemetry traces: one span per spoken turn with its stages as children, parented and timed
as the turn's ``metrics_collected`` says, job and room on the resource (the SDK's in-memory exporter)."""

from __future__ import annotations

import asyncio
import sys

import pytest
from _helpers import Recorder, utterance
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from livekitex_agent import Agent, RunContext, function_tool
from livekitex_agent.hooks import set_job_attributes
from livekitex_agent.metrics import TurnMetrics
from livekitex_agent.session import AgentSession, TracingOptions
from livekitex_agent.testing import (
    FakeLLM,
    FakeLLMResponse,
    FakeSTT,
    FakeToolCall,
    FakeTTS,
    FakeVAD,
    MemoryIO,
    virtual_time,
)

ANSWER = "It is sunny in Paris today."


class Weather(Agent):
    def __init__(self) -> None:
        super().__init__("You tell the weather.")

    @function_tool
    async def get_weather(self, ctx: RunContext, city: str) -> str:
        """The weather in a city."""
        await asyncio.sleep(0.4)
        return f"Sunny in {city}."


T0 = 1_700_000_000 * 10**9  # spans are epoch nanoseconds: subtract this before floats lose precision


def _s(ns: int | None) -> float:
    assert ns is not None
    return (ns - T0) / 1e9


def start(span: ReadableSpan) -> float:
    return _s(span.start_time)


def end(span: ReadableSpan) -> float:
    return _s(span.end_time)


@virtual_time
async def test_each_spoken_turn_is_a_trace_timed_like_its_metrics() -> None:
    exporter = InMemorySpanExporter()
    token = set_job_attributes({"livekit.job.id": "AJ_test", "livekit.room.name": "room-7"})
    try:
        io = MemoryIO()
        session = AgentSession(
            vad=FakeVAD(),
            stt=FakeSTT(["what is the weather in paris", "thank you"], delay=0.3),
            llm=FakeLLM([
                FakeLLMResponse(tool_calls=[FakeToolCall("get_weather", {"city": "Paris"})], ttft=0.2),
                FakeLLMResponse(text=ANSWER, ttft=0.1),
                FakeLLMResponse(text="Goodbye.", ttft=0.05),
            ]),
            tts=FakeTTS(ttfb=0.15),
            tracing=TracingOptions(span_processors=[SimpleSpanProcessor(exporter)]),
        )
        rec = Recorder(session)
        await session.start(Weather(), io=io)
        io.push_audio(utterance(1.0))
        io.push_silence(8.0)
        await rec.wait_for("conversation_item_added:assistant")
        await asyncio.sleep(1.0)
        io.push_audio(utterance(0.6))
        io.push_silence(5.0)
        await rec.wait_for("conversation_item_added:assistant", count=2)
        await rec.wait_until(lambda: len([e for e in rec.of("metrics_collected") if isinstance(e.metrics, TurnMetrics)]) == 2)
        await session.aclose()
    finally:
        set_job_attributes(None)
        del token
    metrics = [e.metrics for e in rec.of("metrics_collected") if isinstance(e.metrics, TurnMetrics)]
    spans = exporter.get_finished_spans()
    turns = [s for s in spans if s.name == "turn"]
    assert len(turns) == 2

    def children(parent: ReadableSpan) -> dict[str, list[ReadableSpan]]:
        out: dict[str, list[ReadableSpan]] = {}
        for s in spans:
            if s.parent is not None and parent.context is not None and s.parent.span_id == parent.context.span_id:
                out.setdefault(s.name, []).append(s)
        return out

    # turn 1: every stage present, parented, and timed as the metrics say
    turn, m = turns[0], metrics[0]
    kids = children(turn)
    assert sorted(kids) == ["end_of_turn", "llm", "playout", "stt", "tts"]
    (eot,), (stt,), (llm,), (tts,), (playout,) = (kids[k] for k in ("end_of_turn", "stt", "llm", "tts", "playout"))
    assert m.end_of_utterance_delay is not None and m.transcription_delay is not None
    assert m.e2e_latency is not None and m.llm_ttft is not None and m.tts_ttfb is not None
    assert end(eot) - start(eot) == pytest.approx(m.end_of_utterance_delay, abs=1e-6)
    assert end(stt) - start(stt) == pytest.approx(m.transcription_delay, abs=1e-6) == pytest.approx(0.3, abs=1e-6)
    assert start(playout) - start(eot) == pytest.approx(m.e2e_latency, abs=1e-6)  # end of speech -> first audio
    assert start(playout) - start(tts) == pytest.approx(m.tts_ttfb, abs=0.02)
    assert end(playout) - start(playout) == pytest.approx(FakeTTS().duration_for(ANSWER), abs=0.05)
    llm_kids = children(llm)
    requests, (tool_round,) = llm_kids["llm_request"], llm_kids["tool_round"]
    assert len(requests) == 2
    assert end(requests[0]) - start(requests[0]) >= m.llm_ttft - 1e-6
    assert m.llm_ttft == pytest.approx(0.2, abs=1e-6)
    assert start(llm) == start(requests[0]) and end(requests[0]) <= start(tool_round) + 1e-6
    assert end(tool_round) - start(tool_round) == pytest.approx(0.4, abs=0.01)  # the tool's own time
    assert end(tool_round) <= start(requests[1]) + 1e-6
    (call,) = children(tool_round)["tool_call"]
    assert call.attributes is not None and call.attributes["livekitex.name"] == "get_weather"
    assert call.attributes["livekitex.is_error"] is False and "livekitex.arguments" not in call.attributes
    # the turn starts when the user started speaking, on the same clock as the session's events
    heard_for = rec.time_of("agent_state_changed:speaking") - rec.time_of("user_state_changed:speaking")
    assert start(playout) - start(turn) == pytest.approx(heard_for, abs=1e-6)
    for child in (eot, stt, llm, tts, playout):
        assert start(turn) <= start(child) <= end(child) <= end(turn)
    assert turn.attributes is not None
    assert turn.attributes["livekitex.turn.e2e_latency"] == m.e2e_latency
    assert turn.attributes["livekitex.turn.tool_steps"] == 1
    assert turn.attributes["livekitex.turn.speech_id"] == m.speech_id
    assert turn.resource.attributes["livekit.job.id"] == "AJ_test"
    assert turn.resource.attributes["livekit.room.name"] == "room-7"

    # turn 2 starts after turn 1 ended and has no tool round of its own
    second = children(turns[1])
    assert start(turns[1]) >= end(turn) and "tool_round" not in children(second["llm"][0])
    assert end(second["end_of_turn"][0]) - start(second["end_of_turn"][0]) == pytest.approx(
        metrics[1].end_of_utterance_delay, abs=1e-6
    )


@virtual_time
async def test_a_given_tracer_provider_gets_the_job_as_span_attributes() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    set_job_attributes({"livekit.room.name": "room-9"})
    try:
        io = MemoryIO()
        session = AgentSession(
            vad=FakeVAD(), stt=FakeSTT(["hello"]), llm=FakeLLM(["Hi there."]), tts=FakeTTS(),
            tracing=TracingOptions(tracer_provider=provider),
        )
        rec = Recorder(session)
        await session.start(Agent("Hi."), io=io)
        io.push_audio(utterance(0.6))
        io.push_silence(4.0)
        await rec.wait_for("metrics_collected:turn_metrics")
        await session.aclose()
    finally:
        set_job_attributes(None)
    (turn,) = [s for s in exporter.get_finished_spans() if s.name == "turn"]
    assert turn.attributes is not None and turn.attributes["livekit.room.name"] == "room-9"


def test_without_opentelemetry_the_error_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    with pytest.raises(ImportError, match=r"pip install 'livekitex-agent\[otel\]'"):
        AgentSession(tracing=TracingOptions())


@virtual_time
async def test_text_turns_write_no_span_and_keep_nothing() -> None:
    exporter = InMemorySpanExporter()
    session = AgentSession(
        llm=FakeLLM(default="Fine."), tracing=TracingOptions(span_processors=[SimpleSpanProcessor(exporter)])
    )
    await session.start(Agent("Hi."))
    for _ in range(300):
        await session.run(user_input="How are you?")
    await session.aclose()
    assert exporter.get_finished_spans() == ()  # no spoken turn: no turn metrics, no trace
    assert session._tracer is not None and session._tracer._seen == []
