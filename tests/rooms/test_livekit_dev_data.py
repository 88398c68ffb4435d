"""The dev data packets (``lk.agent.metrics``, ``lk.agent.tools``): their schema, and when they are sent."""

from __future__ import annotations

import json

from livekitex_agent.chat import FunctionCall, FunctionCallOutput
from livekitex_agent.events import FunctionToolsExecutedEvent
from livekitex_agent.metrics import TurnMetrics
from livekitex_agent.rooms.livekit.dev_data import (
    MAX_FIELD_CHARS,
    agent_data_enabled,
    tool_call_messages,
    turn_metrics_message,
)


def test_off_unless_enabled() -> None:
    assert not agent_data_enabled(None, env={})
    assert not agent_data_enabled(None, env={"LIVEKITEX_AGENT_DATA": "0"})
    assert agent_data_enabled(None, env={"LIVEKITEX_AGENT_DATA": "1"})  # what `dev` sets
    assert agent_data_enabled(True, env={})
    assert not agent_data_enabled(False, env={"LIVEKITEX_AGENT_DATA": "1"})  # the option wins


def test_turn_metrics_message() -> None:
    m = TurnMetrics(
        speech_id="sp_1",
        end_of_utterance_delay=0.51234567,
        transcription_delay=0.2,
        llm_ttft=0.1,
        tts_ttfb=None,
        e2e_latency=0.9,
        tool_steps=1,
        timestamp=1700000000.123456,
    )
    assert json.loads(turn_metrics_message(m)) == {
        "type": "turn_metrics",
        "version": 1,
        "speech_id": "sp_1",
        "engine": "pipeline",
        "end_of_utterance_delay": 0.5123,
        "transcription_delay": 0.2,
        "llm_ttft": 0.1,
        "tts_ttfb": None,
        "e2e_latency": 0.9,
        "framework_delay": None,
        "tool_steps": 1,
        "interrupted": False,
        "timestamp": 1700000000.123,
    }


def test_one_tool_message_per_call_with_its_result() -> None:
    ok = FunctionCall(name="get_weather", arguments='{"city": "Paris"}', call_id="c1", created_at=1.0)
    bad = FunctionCall(name="book", arguments="{}", call_id="c2", created_at=1.0)
    event = FunctionToolsExecutedEvent(
        [ok, bad],
        [
            FunctionCallOutput(call_id="c2", name="book", output="no table", is_error=True, created_at=2.0),
            FunctionCallOutput(call_id="c1", name="get_weather", output="Sunny.", created_at=2.5),
        ],
    )
    first, second = (json.loads(p) for p in tool_call_messages(event))
    assert first == {
        "type": "tool_call",
        "version": 1,
        "call_id": "c1",
        "name": "get_weather",
        "arguments": '{"city": "Paris"}',
        "result": "Sunny.",
        "is_error": False,
        "timestamp": 2.5,
    }
    assert (second["name"], second["result"], second["is_error"]) == ("book", "no table", True)


def test_long_fields_are_cut_and_flagged() -> None:
    call = FunctionCall(name="echo", arguments='"' + "x" * 5000 + '"', call_id="c1")
    out = FunctionCallOutput(call_id="c1", name="echo", output="y" * 50_000)
    (packet,) = tool_call_messages(FunctionToolsExecutedEvent([call], [out]))
    msg = json.loads(packet)
    assert len(msg["arguments"]) == len(msg["result"]) == MAX_FIELD_CHARS
    assert msg["truncated"] is True
    assert len(packet) < 15_000  # a reliable data packet's limit is ~15 KB
