"""OpenAI Realtime (GA) wire protocol, client side: the events we send, as dicts or JSON text.

Pure and synchronous; the GA shapes only (``session.type = "realtime"``, flat tools, nested audio config).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

from ....chat import ChatItem, ChatMessage, FunctionCall
from ....providers.realtime import TurnDetection
from ....tools.function_tool import FunctionTool
from .protocol import SAMPLE_RATE

PCM_FORMAT = {"type": "audio/pcm", "rate": SAMPLE_RATE}


def dumps(event: dict[str, Any]) -> str:
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False)


def audio_append(pcm: bytes | memoryview) -> str:
    """``input_audio_buffer.append`` as JSON text (built directly: this is the per-100 ms message)."""
    return '{"type":"input_audio_buffer.append","audio":"' + base64.b64encode(pcm).decode("ascii") + '"}'


def turn_detection_to_wire(td: TurnDetection | None) -> dict[str, Any] | None:
    if td is None:
        return None
    out: dict[str, Any] = {"type": td.type, "create_response": td.create_response,
                           "interrupt_response": td.interrupt_response}
    if td.type == "server_vad":
        for name in ("threshold", "prefix_padding_ms", "silence_duration_ms", "idle_timeout_ms"):
            value = getattr(td, name)
            if value is not None:
                out[name] = value
    elif td.eagerness is not None:
        out["eagerness"] = td.eagerness
    return out


def tool_to_wire(tool: FunctionTool) -> dict[str, Any]:
    """GA tools are flat: ``{type, name, description, parameters}``."""
    return {"type": "function", **tool.to_dict()}


def session_config(
    *,
    instructions: str | None = None,
    tools: Sequence[FunctionTool] | None = None,
    voice: str | None = None,
    turn_detection: TurnDetection | None | bool = False,
    transcription_model: str | None | bool = False,
    output_modalities: Sequence[str] | None = None,
    max_output_tokens: int | None = None,
) -> dict[str, Any]:
    """A (partial) GA ``session`` object. ``False`` for turn detection/transcription means "leave as is"."""
    session: dict[str, Any] = {"type": "realtime"}
    if instructions is not None:
        session["instructions"] = instructions
    if tools is not None:
        session["tools"] = [tool_to_wire(t) for t in tools]
        session["tool_choice"] = "auto"
    if output_modalities is not None:
        session["output_modalities"] = list(output_modalities)
    if max_output_tokens is not None:
        session["max_output_tokens"] = max_output_tokens
    audio_in: dict[str, Any] = {}
    if turn_detection is not False:
        audio_in["format"] = PCM_FORMAT
        audio_in["turn_detection"] = turn_detection_to_wire(turn_detection)  # type: ignore[arg-type]
    if transcription_model is not False:
        audio_in["transcription"] = {"model": transcription_model} if transcription_model else None
    audio: dict[str, Any] = {}
    if audio_in:
        audio["input"] = audio_in
    if voice is not None:
        audio["output"] = {"format": PCM_FORMAT, "voice": voice}
    if audio:
        session["audio"] = audio
    return session


def session_update(session: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    return _with_id({"type": "session.update", "session": session}, event_id)


def item_to_wire(item: ChatItem) -> dict[str, Any]:
    """Our history item as a GA conversation item (assistant audio turns become text)."""
    if isinstance(item, ChatMessage):
        kind = "output_text" if item.role == "assistant" else "input_text"
        return {"id": item.id, "type": "message", "role": item.role,
                "content": [{"type": kind, "text": item.content}]}
    if isinstance(item, FunctionCall):
        return {"id": item.id, "type": "function_call", "call_id": item.call_id, "name": item.name,
                "arguments": item.arguments}
    return {"id": item.id, "type": "function_call_output", "call_id": item.call_id, "output": item.output}


def item_create(item: dict[str, Any], previous_item_id: str | None = None,
                event_id: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {"type": "conversation.item.create", "item": item}
    if previous_item_id is not None:
        event["previous_item_id"] = previous_item_id
    return _with_id(event, event_id)


def item_delete(item_id: str, event_id: str | None = None) -> dict[str, Any]:
    return _with_id({"type": "conversation.item.delete", "item_id": item_id}, event_id)


def item_truncate(item_id: str, audio_end_ms: int, event_id: str | None = None) -> dict[str, Any]:
    return _with_id(
        {"type": "conversation.item.truncate", "item_id": item_id, "content_index": 0, "audio_end_ms": audio_end_ms},
        event_id,
    )


def audio_commit(event_id: str | None = None) -> dict[str, Any]:
    return _with_id({"type": "input_audio_buffer.commit"}, event_id)


def audio_clear(event_id: str | None = None) -> dict[str, Any]:
    return _with_id({"type": "input_audio_buffer.clear"}, event_id)


def response_create(
    *, instructions: str | None = None, metadata: dict[str, str] | None = None, event_id: str | None = None
) -> dict[str, Any]:
    response: dict[str, Any] = {}
    if instructions is not None:
        response["instructions"] = instructions
    if metadata:
        response["metadata"] = metadata
    event: dict[str, Any] = {"type": "response.create"}
    if response:
        event["response"] = response
    return _with_id(event, event_id)


def response_cancel(response_id: str | None = None, event_id: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {"type": "response.cancel"}
    if response_id is not None:
        event["response_id"] = response_id
    return _with_id(event, event_id)


def _with_id(event: dict[str, Any], event_id: str | None) -> dict[str, Any]:
    if event_id is not None:
        event["event_id"] = event_id
    return event
