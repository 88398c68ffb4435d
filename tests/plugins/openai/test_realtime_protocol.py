"""protocol.py on recorded GA messages: parsing (lenient, typed) and client event serialization."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from livekitex_agent.chat import ChatMessage, FunctionCall, FunctionCallOutput
from livekitex_agent.plugins.openai.realtime import client_events as c
from livekitex_agent.plugins.openai.realtime import protocol as p
from livekitex_agent.providers.realtime import TurnDetection
from livekitex_agent.tools import function_tool

FIXTURES = Path(__file__).parents[2] / "fixtures" / "realtime"


def load(name: str) -> list[Any]:
    data: list[Any] = json.loads((FIXTURES / name).read_text())
    return data


def parse_all(name: str) -> list[p.ServerEvent]:
    return [p.parse_server_event(json.dumps(msg)) for msg in load(name)]


def test_spoken_turn_parses_to_typed_events_in_order() -> None:
    events = parse_all("ga_spoken_turn.json")
    kinds = [type(e).__name__ for e in events]
    assert kinds == [
        "SessionCreated", "SessionUpdated", "SpeechStarted", "SpeechStopped", "AudioCommitted", "ItemAdded",
        "ItemDone", "ResponseCreated", "RateLimits", "OutputItemAdded", "ItemAdded", "Ignored", "TextDelta",
        "AudioDelta", "TranscriptionDelta", "TextDelta", "AudioDelta", "TranscriptionCompleted", "Ignored",
        "Ignored", "Ignored", "OutputItemDone", "ItemDone", "ResponseDone",
    ]
    created = events[0]
    assert isinstance(created, p.SessionCreated)
    assert created.expires_at == 1767240000 and created.session_id == "sess_Dk2PqR7sT1uV3wX5yZ7a"
    started, stopped = events[2], events[3]
    assert isinstance(started, p.SpeechStarted) and started.audio_start_ms == 1236
    assert isinstance(stopped, p.SpeechStopped) and stopped.audio_end_ms == 3808
    user = events[5]
    assert isinstance(user, p.ItemAdded) and user.item.role == "user" and user.item.content[0].type == "input_audio"
    delta = events[12]
    assert isinstance(delta, p.TextDelta) and delta.delta == "Sure"  # the 'obfuscation' field is ignored
    audio = events[13]
    assert isinstance(audio, p.AudioDelta) and len(audio.audio) == 480  # 10 ms of 24 kHz PCM16
    completed = events[17]
    assert isinstance(completed, p.TranscriptionCompleted) and completed.transcript == "Tell me a joke."


def test_response_done_carries_status_output_and_usage() -> None:
    done = parse_all("ga_spoken_turn.json")[-1]
    assert isinstance(done, p.ResponseDone)
    resp = done.response
    assert resp.status == "completed" and resp.status_details is None
    assert [i.text for i in resp.output] == ["Sure, here"]
    assert resp.usage is not None
    assert (resp.usage.input_tokens, resp.usage.output_tokens, resp.usage.total_tokens) == (132, 188, 320)
    assert resp.usage.details["input_token_details"]["cached_tokens"] == 64


def test_function_call_events() -> None:
    events = parse_all("ga_function_call.json")
    created = events[0]
    assert isinstance(created, p.ResponseCreated) and created.response.metadata == {"lkx_request": "req_7"}
    added = events[1]
    assert isinstance(added, p.OutputItemAdded) and added.item.type == "function_call"
    args = [e for e in events if isinstance(e, p.FunctionArgumentsDone)]
    assert len(args) == 1
    assert (args[0].name, args[0].call_id, args[0].arguments) == (
        "get_weather", "call_Kx7Lm9Np1Qr3St5U", '{"city":"Paris"}'
    )


def test_errors_statuses_and_unknown_events() -> None:
    events = parse_all("ga_errors_and_status.json")
    fatal, benign, truncate, server = events[:4]
    assert isinstance(fatal, p.ErrorEvent) and fatal.code == "invalid_api_key" and fatal.code in p.FATAL_ERROR_CODES
    assert isinstance(benign, p.ErrorEvent) and benign.code in p.BENIGN_ERROR_CODES
    assert benign.event_id == "lkx_evt_12"
    assert isinstance(truncate, p.ErrorEvent) and truncate.param == "audio_end_ms"
    assert isinstance(server, p.ErrorEvent) and server.code is None and server.error_type == "server_error"
    cancelled, failed = events[4], events[5]
    assert isinstance(cancelled, p.ResponseDone) and cancelled.response.status == "cancelled"
    assert cancelled.response.status_details == {"type": "cancelled", "reason": "turn_detected"}
    assert isinstance(failed, p.ResponseDone)
    assert failed.response.status_details is not None
    assert failed.response.status_details["error"]["code"] == "inference_rate_limit_exceeded"
    tfail = events[6]
    assert isinstance(tfail, p.TranscriptionFailed) and tfail.code == "audio_unintelligible"
    assert isinstance(events[7], p.ItemTruncated) and events[7].audio_end_ms == 1500
    assert isinstance(events[8], p.ItemDeleted) and events[8].item_id == "item_Dk2S4"
    assert isinstance(events[9], p.AudioCleared)
    assert isinstance(events[10], p.Ignored)  # a WebRTC-only event we know and do not use
    assert events[11] == p.UnknownEvent("response.mcp_call.in_progress")
    assert isinstance(events[12], p.TextDelta) and events[12].delta == "Hi"  # text modality


@pytest.mark.parametrize("raw", load("ga_malformed.json"))
def test_malformed_messages_raise_protocol_error(raw: str) -> None:
    with pytest.raises(p.ProtocolError):
        p.parse_server_event(raw)


def test_protocol_errors_name_the_problem() -> None:
    with pytest.raises(p.ProtocolError, match="not valid JSON"):
        p.parse_server_event("{oops")
    with pytest.raises(p.ProtocolError, match="no 'type'"):
        p.parse_server_event('{"event_id": "e1"}')
    with pytest.raises(p.ProtocolError, match=r"response.output_audio_transcript.delta: field 'delta' missing"):
        p.parse_server_event('{"type":"response.output_audio_transcript.delta","response_id":"r","item_id":"i"}')
    with pytest.raises(p.ProtocolError, match="not valid base64"):
        p.parse_server_event('{"type":"response.output_audio.delta","response_id":"r","item_id":"i","delta":"%%"}')


def test_missing_optional_fields_are_tolerated() -> None:
    ev = p.parse_server_event('{"type":"input_audio_buffer.speech_started","audio_start_ms":5}')
    assert ev == p.SpeechStarted(5, None)
    ev = p.parse_server_event('{"type":"session.created","session":{}}')
    assert ev == p.SessionCreated(session_id=None, expires_at=None, model=None)


# -- client events ------------------------------------------------------------------------------------
@function_tool
async def get_weather(city: str) -> str:
    """Look up the weather."""
    return f"sunny in {city}"


def test_session_config_is_ga_shaped() -> None:
    cfg = c.session_config(
        instructions="Be brief.", tools=[get_weather], voice="marin",
        turn_detection=TurnDetection(silence_duration_ms=400, interrupt_response=False),
        transcription_model="gpt-4o-mini-transcribe", output_modalities=["audio"], max_output_tokens=500,
    )
    assert cfg == {
        "type": "realtime",
        "instructions": "Be brief.",
        "tools": [{"type": "function", "name": "get_weather", "description": "Look up the weather.",
                   "parameters": get_weather.parameters}],
        "tool_choice": "auto",
        "output_modalities": ["audio"],
        "max_output_tokens": 500,
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "turn_detection": {"type": "server_vad", "create_response": True, "interrupt_response": False,
                                   "silence_duration_ms": 400},
                "transcription": {"model": "gpt-4o-mini-transcribe"},
            },
            "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "marin"},
        },
    }


def test_session_config_manual_turns_and_semantic_vad() -> None:
    manual = c.session_config(turn_detection=None, transcription_model=None)
    assert manual["audio"]["input"]["turn_detection"] is None
    assert manual["audio"]["input"]["transcription"] is None
    semantic = c.session_config(turn_detection=TurnDetection(type="semantic_vad", eagerness="high"))
    assert semantic["audio"]["input"]["turn_detection"] == {
        "type": "semantic_vad", "create_response": True, "interrupt_response": True, "eagerness": "high"
    }
    assert c.session_config(instructions="x") == {"type": "realtime", "instructions": "x"}


def test_audio_append_is_valid_json_with_base64_pcm() -> None:
    pcm = bytes(range(256)) * 2
    event = json.loads(c.audio_append(pcm))
    assert event == {"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm).decode()}


def test_history_items_as_ga_items() -> None:
    assert c.item_to_wire(ChatMessage(role="assistant", content="Hi!", id="m1")) == {
        "id": "m1", "type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Hi!"}]
    }
    assert c.item_to_wire(ChatMessage(role="user", content="Hello", id="m2"))["content"] == [
        {"type": "input_text", "text": "Hello"}
    ]
    assert c.item_to_wire(FunctionCall(name="f", arguments="{}", call_id="c1", id="fc1")) == {
        "id": "fc1", "type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"
    }
    assert c.item_to_wire(FunctionCallOutput(call_id="c1", name="f", output="ok", id="o1")) == {
        "id": "o1", "type": "function_call_output", "call_id": "c1", "output": "ok"
    }


def test_control_events() -> None:
    assert c.item_truncate("it", 1500, "e1") == {
        "type": "conversation.item.truncate", "item_id": "it", "content_index": 0, "audio_end_ms": 1500,
        "event_id": "e1",
    }
    assert c.response_create() == {"type": "response.create"}
    assert c.response_create(instructions="Greet.", metadata={"k": "v"}, event_id="e2") == {
        "type": "response.create", "response": {"instructions": "Greet.", "metadata": {"k": "v"}}, "event_id": "e2"
    }
    assert c.item_create({"id": "x"}, "root") == {
        "type": "conversation.item.create", "item": {"id": "x"}, "previous_item_id": "root"
    }
    assert c.response_cancel() == {"type": "response.cancel"}
