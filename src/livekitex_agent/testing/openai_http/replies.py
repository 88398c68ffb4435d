"""Scripted replies for :class:`OpenAITestServer` and the exact JSON shapes OpenAI sends back."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ...media.frame import AudioFrame

_ids = itertools.count(1)


@dataclass
class ToolCallReply:
    """One function call the model makes; ``arguments`` is JSON text or a dict to serialize."""

    name: str
    arguments: str | dict[str, Any] = "{}"
    call_id: str | None = None

    def arguments_json(self) -> str:
        return self.arguments if isinstance(self.arguments, str) else json.dumps(self.arguments)


@dataclass
class ChatReply:
    """A streamed completion.

    - ``text``: a string (streamed word by word) or the exact list of content deltas;
    - ``tool_calls``: calls streamed after the text, several = parallel calls; with
      ``interleave_tool_calls`` their argument deltas alternate between indexes;
    - ``usage``: ``(prompt_tokens, completion_tokens)``, estimated when ``None``;
    - faults: ``delay`` before the headers, ``chunk_delay`` between events, ``cut_after`` drops the
      connection after that many SSE events, ``gate`` pauses after ``gate_after`` events until set.
    """

    text: str | Sequence[str] = ""
    tool_calls: Sequence[ToolCallReply] = ()
    usage: tuple[int, int] | None = None
    interleave_tool_calls: bool = False
    argument_chunk_size: int = 6
    delay: float = 0.0
    chunk_delay: float = 0.0
    cut_after: int | None = None
    gate: asyncio.Event | None = None
    gate_after: int = 1

    def deltas(self) -> list[str]:
        if not isinstance(self.text, str):
            return list(self.text)
        return re.findall(r"\s*\S+|\s+", self.text)  # word by word; joined, they give the text back


@dataclass
class TranscriptReply:
    text: str
    delay: float = 0.0


@dataclass
class SpeechReply:
    """Streamed speech: ``audio`` is 24 kHz mono PCM16 (bytes or a frame); ``None`` = a tone sized to the text.

    The body goes out in ``chunk_size``-byte pieces (odd sizes allowed, to split samples); faults as
    in :class:`ChatReply`, counted in pieces.
    """

    audio: bytes | AudioFrame | None = None
    chunk_size: int = 4800
    delay: float = 0.0
    chunk_delay: float = 0.0
    cut_after: int | None = None
    gate: asyncio.Event | None = None
    gate_after: int = 1


@dataclass
class ErrorReply:
    """An HTTP error with OpenAI's error body ``{"error": {message, type, param, code}}``."""

    status: int
    message: str = "The server had an error while processing your request."
    type: str = "server_error"
    code: str | None = None
    param: str | None = None
    retry_after: float | None = None  # sent as retry-after (seconds) and retry-after-ms
    delay: float = 0.0

    @classmethod
    def rate_limited(cls, retry_after: float | None = 0.05) -> ErrorReply:
        return cls(
            429,
            "Rate limit reached for requests. Please try again later.",
            "requests",
            code="rate_limit_exceeded",
            retry_after=retry_after,
        )

    @classmethod
    def quota_exceeded(cls) -> ErrorReply:
        return cls(
            429,
            "You exceeded your current quota, please check your plan and billing details.",
            "insufficient_quota",
            code="insufficient_quota",
        )

    @classmethod
    def server_error(cls, status: int = 500) -> ErrorReply:
        return cls(status)

    @classmethod
    def unauthorized(cls) -> ErrorReply:
        return cls(401, "Incorrect API key provided.", "invalid_request_error", code="invalid_api_key")

    @classmethod
    def bad_request(cls, message: str = "Invalid request.", param: str | None = None) -> ErrorReply:
        return cls(400, message, "invalid_request_error", param=param)


@dataclass
class RawReply:
    """Any body, verbatim (malformed JSON, broken SSE, HTML from a proxy...)."""

    body: bytes | str
    status: int = 200
    content_type: str = "application/json"
    delay: float = 0.0

    @classmethod
    def malformed_json(cls) -> RawReply:
        return cls('{"text": "unterminated')

    @classmethod
    def malformed_sse(cls) -> RawReply:
        return cls(
            'data: {"id": "chatcmpl-x", "choices": [\n\n', content_type="text/event-stream; charset=utf-8"
        )


Reply = ChatReply | TranscriptReply | SpeechReply | ErrorReply | RawReply


def error_body(reply: ErrorReply) -> dict[str, Any]:
    return {"error": {"message": reply.message, "type": reply.type, "param": reply.param, "code": reply.code}}


def validate_chat_request(body: Any) -> tuple[str, str | None] | None:
    """(message, param) of the 400 OpenAI would answer for this body, or ``None`` when it is valid."""
    if not isinstance(body, dict):
        return "We could not parse the JSON body of your request.", None
    if not body.get("model"):
        return "you must provide a model parameter", "model"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "Invalid 'messages': expected a non-empty array.", "messages"
    open_calls: set[str] = set()
    for i, msg in enumerate(messages):
        role = msg.get("role") if isinstance(msg, dict) else None
        if role not in ("system", "developer", "user", "assistant", "tool"):
            return f"Invalid value for 'messages[{i}].role': {role!r}.", f"messages.[{i}].role"
        if role == "tool":
            call_id = msg.get("tool_call_id")
            if call_id not in open_calls:
                return (
                    f"Invalid parameter: messages with role 'tool' must be a response to a preceding "
                    f"message with 'tool_calls' (messages[{i}].tool_call_id={call_id!r}).",
                    f"messages.[{i}].role",
                )
            open_calls.discard(call_id)
            continue
        if open_calls:
            return (
                "An assistant message with 'tool_calls' must be followed by tool messages responding to "
                f"each 'tool_call_id'. Missing: {sorted(open_calls)}.",
                f"messages.[{i}].role",
            )
        if role == "assistant" and msg.get("tool_calls"):
            for tc in msg["tool_calls"]:
                fn = tc.get("function") if isinstance(tc, dict) else None
                if not isinstance(fn, dict) or not fn.get("name") or not tc.get("id"):
                    return f"Invalid 'messages[{i}].tool_calls': {tc!r}.", f"messages.[{i}].tool_calls"
                open_calls.add(tc["id"])
        elif not isinstance(msg.get("content"), str):
            return f"Invalid 'messages[{i}].content': expected a string.", f"messages.[{i}].content"
    for i, tool in enumerate(body.get("tools") or ()):
        fn = tool.get("function") if isinstance(tool, dict) else None
        if tool.get("type") != "function" or not isinstance(fn, dict) or not fn.get("name"):
            return (
                f"Invalid 'tools[{i}]': expected {{type: 'function', function: {{name, ...}}}}.",
                f"tools[{i}]",
            )
    return None


def _estimate_prompt_tokens(messages: list[dict[str, Any]]) -> int:
    return sum(4 + len(str(m.get("content") or "")) // 4 for m in messages)


def _usage(reply: ChatReply, messages: list[dict[str, Any]]) -> dict[str, Any]:
    if reply.usage is not None:
        prompt, completion = reply.usage
    else:
        prompt = _estimate_prompt_tokens(messages)
        args = sum(len(tc.arguments_json()) for tc in reply.tool_calls)
        completion = len(reply.deltas()) + args // 4 + 1
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _call_ids(reply: ChatReply) -> list[str]:
    return [tc.call_id or f"call_test{next(_ids):06d}" for tc in reply.tool_calls]


def chat_stream_chunks(
    reply: ChatReply, model: str, messages: list[dict[str, Any]], *, include_usage: bool
) -> list[dict[str, Any]]:
    """The ``chat.completion.chunk`` objects OpenAI streams for ``reply``, in order."""
    completion_id = f"chatcmpl-test{next(_ids):06d}"
    created = int(time.time())

    def chunk(delta: dict[str, Any] | None, finish: str | None = None) -> dict[str, Any]:
        c: dict[str, Any] = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "service_tier": "default",
            "system_fingerprint": "fp_testserver",
            "choices": []
            if delta is None
            else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if include_usage:
            c["usage"] = None
        c["obfuscation"] = "k3Qz"  # OpenAI pads chunks with this field; clients must ignore it
        return c

    chunks: list[dict[str, Any]] = []
    deltas = reply.deltas()
    if deltas or not reply.tool_calls:
        chunks.append(chunk({"role": "assistant", "content": "", "refusal": None}))
        chunks.extend(chunk({"content": d}) for d in deltas)
    ids = _call_ids(reply)
    pieces: list[list[str]] = []
    size = max(1, reply.argument_chunk_size)
    for tc in reply.tool_calls:
        args = tc.arguments_json()
        pieces.append([args[i : i + size] for i in range(0, len(args), size)] or [""])
    order: list[tuple[int, int]]
    if reply.interleave_tool_calls:
        order = [(i, j) for j in range(max((len(p) for p in pieces), default=0)) for i in range(len(pieces))]
        order = [(i, j) for i, j in order if j < len(pieces[i])]
    else:
        order = [(i, j) for i, p in enumerate(pieces) for j in range(len(p))]
    for i, j in order:
        fn: dict[str, Any] = {"arguments": pieces[i][j]}
        call: dict[str, Any] = {"index": i, "function": fn}
        if j == 0:
            call = {
                "index": i,
                "id": ids[i],
                "type": "function",
                "function": {"name": reply.tool_calls[i].name, **fn},
            }
        delta: dict[str, Any] = {"tool_calls": [call]}
        if not chunks:
            delta = {"role": "assistant", "content": None, **delta, "refusal": None}
        chunks.append(chunk(delta))
    chunks.append(chunk({}, "tool_calls" if reply.tool_calls else "stop"))
    if include_usage:
        final = chunk(None)
        final["usage"] = _usage(reply, messages)
        chunks.append(final)
    return chunks


def chat_completion(reply: ChatReply, model: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The non-streamed ``chat.completion`` object for ``reply``."""
    message: dict[str, Any] = {
        "role": "assistant",
        "content": "".join(reply.deltas()) or None,
        "refusal": None,
    }
    if reply.tool_calls:
        message["tool_calls"] = [
            {"id": cid, "type": "function", "function": {"name": tc.name, "arguments": tc.arguments_json()}}
            for cid, tc in zip(_call_ids(reply), reply.tool_calls, strict=True)
        ]
    return {
        "id": f"chatcmpl-test{next(_ids):06d}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": "tool_calls" if reply.tool_calls else "stop",
            }
        ],
        "usage": _usage(reply, messages),
        "service_tier": "default",
        "system_fingerprint": "fp_testserver",
    }
