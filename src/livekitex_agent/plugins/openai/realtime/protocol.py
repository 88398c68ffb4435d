"""OpenAI Realtime (GA) wire protocol, server side: server messages parsed into dataclasses.

Client events are built in :mod:`.client_events`. Pure and synchronous. Parsing is lenient: unknown event types become :class:`UnknownEvent` and
unknown fields are ignored; a message that is not a JSON object with a string ``type`` (or that
lacks a field we need) raises :class:`ProtocolError` naming what is wrong.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

FATAL_ERROR_CODES = frozenset(
    {"invalid_api_key", "insufficient_quota", "account_deactivated", "billing_hard_limit_reached",
     "beta_api_shape_disabled"}
)
BENIGN_ERROR_CODES = frozenset(
    {"response_cancel_not_active", "conversation_already_has_active_response", "input_audio_buffer_commit_empty"}
)
SAMPLE_RATE = 24000


class ProtocolError(ValueError):
    """A server message we cannot use (bad JSON, no ``type``, a required field missing or mistyped)."""


# -- server-side objects ----------------------------------------------------------------------------
@dataclass
class ContentPart:
    type: str
    text: str | None = None
    transcript: str | None = None


@dataclass
class Item:
    """A conversation item as the server describes it (only the fields we use)."""

    id: str
    type: str  # message | function_call | function_call_output | (others, ignored)
    role: str | None = None
    status: str | None = None
    content: list[ContentPart] = field(default_factory=list)
    call_id: str | None = None
    name: str | None = None
    arguments: str | None = None
    output: str | None = None

    @property
    def text(self) -> str:
        return "".join(p.text or p.transcript or "" for p in self.content)


@dataclass
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Response:
    id: str
    status: str | None = None
    status_details: dict[str, Any] | None = None
    output: list[Item] = field(default_factory=list)
    usage: Usage | None = None
    metadata: dict[str, Any] | None = None


# -- server events ----------------------------------------------------------------------------------
@dataclass
class SessionCreated:
    session_id: str | None
    expires_at: float | None
    model: str | None = None


@dataclass
class SessionUpdated:
    session: dict[str, Any]


@dataclass
class ErrorEvent:
    code: str | None
    message: str
    error_type: str | None = None
    param: str | None = None
    event_id: str | None = None  # the client event that caused it, when known


@dataclass
class SpeechStarted:
    audio_start_ms: int
    item_id: str | None = None


@dataclass
class SpeechStopped:
    audio_end_ms: int
    item_id: str | None = None


@dataclass
class AudioCommitted:
    item_id: str
    previous_item_id: str | None = None


@dataclass
class AudioCleared:
    pass


@dataclass
class ItemAdded:
    item: Item
    previous_item_id: str | None = None


@dataclass
class ItemDone:
    item: Item
    previous_item_id: str | None = None


@dataclass
class ItemDeleted:
    item_id: str


@dataclass
class ItemTruncated:
    item_id: str
    audio_end_ms: int


@dataclass
class TranscriptionDelta:
    item_id: str
    delta: str


@dataclass
class TranscriptionCompleted:
    item_id: str
    transcript: str


@dataclass
class TranscriptionFailed:
    item_id: str
    message: str
    code: str | None = None


@dataclass
class ResponseCreated:
    response: Response


@dataclass
class ResponseDone:
    response: Response


@dataclass
class OutputItemAdded:
    response_id: str
    item: Item


@dataclass
class OutputItemDone:
    response_id: str
    item: Item


@dataclass
class TextDelta:
    """``response.output_text.delta`` or ``response.output_audio_transcript.delta``."""

    response_id: str
    item_id: str
    delta: str


@dataclass
class AudioDelta:
    response_id: str
    item_id: str
    audio: bytes  # PCM16 little-endian, 24 kHz mono


@dataclass
class FunctionArgumentsDone:
    response_id: str
    item_id: str
    call_id: str
    name: str | None
    arguments: str


@dataclass
class RateLimits:
    limits: list[dict[str, Any]]


@dataclass
class Ignored:
    """A known event the client has no use for (content parts, audio done, argument deltas...)."""

    type: str


@dataclass
class UnknownEvent:
    type: str


ServerEvent = (
    SessionCreated | SessionUpdated | ErrorEvent | SpeechStarted | SpeechStopped | AudioCommitted
    | AudioCleared | ItemAdded | ItemDone | ItemDeleted | ItemTruncated | TranscriptionDelta
    | TranscriptionCompleted | TranscriptionFailed | ResponseCreated | ResponseDone | OutputItemAdded
    | OutputItemDone | TextDelta | AudioDelta | FunctionArgumentsDone | RateLimits | Ignored | UnknownEvent
)


# -- field access -----------------------------------------------------------------------------------
def _req(d: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = d.get(key)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is int:
        raise ProtocolError(f"{where}: field {key!r} missing or not {_kind_name(kind)} (got {value!r:.80})")
    return value


def _opt(d: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    value = d.get(key)
    return value if isinstance(value, kind) else None


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)


def _dict(d: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value: dict[str, Any] = _req(d, key, dict, where)
    return value


def parse_item(d: dict[str, Any], where: str = "item") -> Item:
    content = []
    for part in d.get("content") or ():
        if isinstance(part, dict):
            content.append(
                ContentPart(type=str(part.get("type", "")), text=_opt(part, "text", str),
                            transcript=_opt(part, "transcript", str))
            )
    return Item(
        id=_req(d, "id", str, where),
        type=_req(d, "type", str, where),
        role=_opt(d, "role", str),
        status=_opt(d, "status", str),
        content=content,
        call_id=_opt(d, "call_id", str),
        name=_opt(d, "name", str),
        arguments=_opt(d, "arguments", str),
        output=_opt(d, "output", str),
    )


def parse_response(d: dict[str, Any], where: str = "response") -> Response:
    usage = None
    u = d.get("usage")
    if isinstance(u, dict):
        usage = Usage(
            input_tokens=_opt(u, "input_tokens", int) or 0,
            output_tokens=_opt(u, "output_tokens", int) or 0,
            total_tokens=_opt(u, "total_tokens", int) or 0,
            details={k: v for k, v in u.items() if k.endswith("_details") and isinstance(v, dict)},
        )
    output = [parse_item(i, f"{where}.output") for i in d.get("output") or () if isinstance(i, dict)]
    return Response(
        id=_req(d, "id", str, where),
        status=_opt(d, "status", str),
        status_details=_opt(d, "status_details", dict),
        output=output,
        usage=usage,
        metadata=_opt(d, "metadata", dict),
    )


def _audio(d: dict[str, Any], where: str) -> bytes:
    try:
        return base64.b64decode(_req(d, "delta", str, where), validate=True)
    except (binascii.Error, ValueError) as e:
        raise ProtocolError(f"{where}: 'delta' is not valid base64 audio ({e})") from None


def _session_created(d: dict[str, Any], w: str) -> ServerEvent:
    s = _dict(d, "session", w)
    expires = s.get("expires_at")
    return SessionCreated(
        session_id=_opt(s, "id", str),
        expires_at=float(expires) if isinstance(expires, (int, float)) and not isinstance(expires, bool) else None,
        model=_opt(s, "model", str),
    )


def _error(d: dict[str, Any], w: str) -> ServerEvent:
    e = _dict(d, "error", w)
    return ErrorEvent(
        code=_opt(e, "code", str),
        message=_opt(e, "message", str) or "",
        error_type=_opt(e, "type", str),
        param=_opt(e, "param", str),
        event_id=_opt(e, "event_id", str),
    )


def _transcription_failed(d: dict[str, Any], w: str) -> ServerEvent:
    e = _opt(d, "error", dict) or {}
    return TranscriptionFailed(
        item_id=_req(d, "item_id", str, w), message=_opt(e, "message", str) or "", code=_opt(e, "code", str)
    )


def _text_delta(d: dict[str, Any], w: str) -> ServerEvent:
    return TextDelta(_req(d, "response_id", str, w), _req(d, "item_id", str, w), _req(d, "delta", str, w))


_PARSERS: dict[str, Callable[[dict[str, Any], str], ServerEvent]] = {
    "session.created": _session_created,
    "session.updated": lambda d, w: SessionUpdated(_dict(d, "session", w)),
    "error": _error,
    "input_audio_buffer.speech_started": lambda d, w: SpeechStarted(
        _req(d, "audio_start_ms", int, w), _opt(d, "item_id", str)
    ),
    "input_audio_buffer.speech_stopped": lambda d, w: SpeechStopped(
        _req(d, "audio_end_ms", int, w), _opt(d, "item_id", str)
    ),
    "input_audio_buffer.committed": lambda d, w: AudioCommitted(
        _req(d, "item_id", str, w), _opt(d, "previous_item_id", str)
    ),
    "input_audio_buffer.cleared": lambda d, w: AudioCleared(),
    "conversation.item.added": lambda d, w: ItemAdded(
        parse_item(_dict(d, "item", w), w), _opt(d, "previous_item_id", str)
    ),
    "conversation.item.done": lambda d, w: ItemDone(
        parse_item(_dict(d, "item", w), w), _opt(d, "previous_item_id", str)
    ),
    "conversation.item.deleted": lambda d, w: ItemDeleted(_req(d, "item_id", str, w)),
    "conversation.item.truncated": lambda d, w: ItemTruncated(
        _req(d, "item_id", str, w), _req(d, "audio_end_ms", int, w)
    ),
    "conversation.item.input_audio_transcription.delta": lambda d, w: TranscriptionDelta(
        _req(d, "item_id", str, w), _opt(d, "delta", str) or ""
    ),
    "conversation.item.input_audio_transcription.completed": lambda d, w: TranscriptionCompleted(
        _req(d, "item_id", str, w), _req(d, "transcript", str, w)
    ),
    "conversation.item.input_audio_transcription.failed": _transcription_failed,
    "response.created": lambda d, w: ResponseCreated(parse_response(_dict(d, "response", w), w)),
    "response.done": lambda d, w: ResponseDone(parse_response(_dict(d, "response", w), w)),
    "response.output_item.added": lambda d, w: OutputItemAdded(
        _req(d, "response_id", str, w), parse_item(_dict(d, "item", w), w)
    ),
    "response.output_item.done": lambda d, w: OutputItemDone(
        _req(d, "response_id", str, w), parse_item(_dict(d, "item", w), w)
    ),
    "response.output_text.delta": _text_delta,
    "response.output_audio_transcript.delta": _text_delta,
    "response.output_audio.delta": lambda d, w: AudioDelta(
        _req(d, "response_id", str, w), _req(d, "item_id", str, w), _audio(d, w)
    ),
    "response.function_call_arguments.done": lambda d, w: FunctionArgumentsDone(
        _req(d, "response_id", str, w), _req(d, "item_id", str, w), _req(d, "call_id", str, w),
        _opt(d, "name", str), _req(d, "arguments", str, w),
    ),
    "rate_limits.updated": lambda d, w: RateLimits(
        [r for r in d.get("rate_limits") or () if isinstance(r, dict)]
    ),
}
_IGNORED = frozenset(
    {
        "conversation.created", "conversation.item.retrieved", "conversation.item.input_audio_transcription.segment",
        "input_audio_buffer.timeout_triggered", "output_audio_buffer.started", "output_audio_buffer.stopped",
        "output_audio_buffer.cleared", "response.content_part.added", "response.content_part.done",
        "response.output_text.done", "response.output_audio_transcript.done", "response.output_audio.done",
        "response.function_call_arguments.delta",
    }
)


def parse_server_event(raw: str | bytes) -> ServerEvent:
    """Parse one server message. Raises :class:`ProtocolError` for malformed messages."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise ProtocolError(f"server message is not valid JSON ({e}): {_snippet(raw)}") from None
    if not isinstance(data, dict):
        raise ProtocolError(f"server message is not a JSON object: {_snippet(raw)}")
    etype = data.get("type")
    if not isinstance(etype, str) or not etype:
        raise ProtocolError(f"server message has no 'type': {_snippet(raw)}")
    parser = _PARSERS.get(etype)
    if parser is None:
        return Ignored(etype) if etype in _IGNORED else UnknownEvent(etype)
    return parser(data, etype)


def _snippet(raw: str | bytes, limit: int = 120) -> str:
    text = raw if isinstance(raw, str) else raw.decode("utf-8", "replace")
    return repr(text if len(text) <= limit else text[:limit] + "...")
