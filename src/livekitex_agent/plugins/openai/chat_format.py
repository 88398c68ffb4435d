"""Chat Completions wire format, pure and synchronous.

- :func:`to_messages`: a :class:`ChatContext` as the ``messages`` array;
- :func:`to_tools` / :func:`to_tool_choice`: tools and tool choice as the API wants them;
- :class:`ChatStreamParser`: streamed ``chat.completion.chunk`` events in, :class:`ChatChunk` out,
  with tool calls assembled by index (parallel calls may interleave) and emitted once complete.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ...chat import ChatContext, ChatMessage, FunctionCall, FunctionCallOutput
from ...errors import ErrorCategory, ProviderError
from ...log import redact
from ...providers.llm import ChatChunk, CompletionUsage, ToolChoice
from ...tools.function_tool import FunctionTool
from .client import bad_response

DONE = "[DONE]"


def to_messages(chat_ctx: ChatContext) -> list[dict[str, Any]]:
    """The ``messages`` array for ``chat_ctx``.

    Consecutive function calls become one assistant message with ``tool_calls`` (joined to the
    assistant text right before them), each followed by its ``tool`` results. Calls without a result
    and results without a call are left out: the API rejects both.
    """
    items = chat_ctx.items
    outputs = {i.call_id: i for i in items if isinstance(i, FunctionCallOutput)}
    messages: list[dict[str, Any]] = []
    idx = 0
    while idx < len(items):
        item = items[idx]
        if isinstance(item, ChatMessage):
            messages.append({"role": item.role, "content": item.content})
            idx += 1
            continue
        if isinstance(item, FunctionCallOutput):
            idx += 1  # already placed after its call (or an orphan)
            continue
        calls: list[FunctionCall] = []
        while idx < len(items):
            call = items[idx]
            if not isinstance(call, FunctionCall):
                break
            if call.call_id in outputs:
                calls.append(call)
            idx += 1
        if not calls:
            continue
        tool_calls = [
            {
                "id": c.call_id,
                "type": "function",
                "function": {"name": c.name, "arguments": c.arguments or "{}"},
            }
            for c in calls
        ]
        prev = messages[-1] if messages else None
        if prev is not None and prev["role"] == "assistant" and "tool_calls" not in prev:
            prev["tool_calls"] = tool_calls
        else:
            messages.append({"role": "assistant", "content": None, "tool_calls": tool_calls})
        for c in calls:
            out = outputs.pop(c.call_id)
            messages.append({"role": "tool", "tool_call_id": c.call_id, "content": out.output})
    return messages


def to_tools(tools: Sequence[FunctionTool]) -> list[dict[str, Any]]:
    return [{"type": "function", "function": t.to_dict()} for t in tools]


def to_tool_choice(choice: ToolChoice) -> str | dict[str, Any]:
    if choice in ("auto", "required", "none"):
        return choice
    return {"type": "function", "function": {"name": choice}}


@dataclass
class _PartialCall:
    call_id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class ChatStreamParser:
    """Turns the ``data:`` payloads of a streamed completion into :class:`ChatChunk` items.

    Call :meth:`feed` with each payload (``[DONE]`` included), then :meth:`finish`. Malformed
    payloads raise a :class:`ProviderError` with category ``bad_response``.
    """

    def __init__(self, *, provider: str) -> None:
        self.provider = provider
        self.done = False  # [DONE] seen
        self._calls: dict[int, _PartialCall] = {}

    def feed(self, data: str) -> list[ChatChunk]:
        if self.done:
            return []
        if data.strip() == DONE:
            self.done = True
            return self._flush_calls()
        try:
            payload = json.loads(data)
        except ValueError:
            raise self._bad(f"stream event is not JSON: {_snippet(data)}") from None
        if not isinstance(payload, dict):
            raise self._bad(f"stream event is not a JSON object: {_snippet(data)}")
        if "error" in payload and payload["error"]:
            raise self._stream_error(payload["error"])
        out: list[ChatChunk] = []
        choices = payload.get("choices") or []
        if not isinstance(choices, list):
            raise self._bad(f"'choices' is not a list: {_snippet(data)}")
        for choice in choices:
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue  # only the first choice is used (n=1)
            delta = choice.get("delta") or {}
            if not isinstance(delta, dict):
                raise self._bad(f"'delta' is not an object: {_snippet(data)}")
            content = delta.get("content")
            if isinstance(content, str) and content:
                out.append(ChatChunk(content=content))
            for tc in delta.get("tool_calls") or ():
                self._add_tool_call_delta(tc, data)
            if choice.get("finish_reason"):
                out.extend(self._flush_calls())
        usage = payload.get("usage")
        if isinstance(usage, dict):
            out.append(ChatChunk(usage=_usage(usage)))
        return out

    def finish(self) -> list[ChatChunk]:
        """The stream ended: complete tool calls still pending (a server that skipped finish_reason)."""
        if not self.done:
            raise ProviderError(
                "stream ended before [DONE]",
                provider=self.provider,
                retryable=True,
                category=ErrorCategory.CONNECTION,
            )
        return self._flush_calls()

    # -- internals ------------------------------------------------------------------------------
    def _add_tool_call_delta(self, tc: Any, data: str) -> None:
        if not isinstance(tc, dict) or not isinstance(tc.get("index", 0), int):
            raise self._bad(f"malformed tool call delta: {_snippet(data)}")
        call = self._calls.setdefault(tc.get("index", 0), _PartialCall())
        if tc.get("id"):
            call.call_id = str(tc["id"])
        fn = tc.get("function") or {}
        if not isinstance(fn, dict):
            raise self._bad(f"malformed tool call delta: {_snippet(data)}")
        if fn.get("name"):
            call.name += str(fn["name"])
        if fn.get("arguments"):
            call.arguments.append(str(fn["arguments"]))

    def _flush_calls(self) -> list[ChatChunk]:
        if not self._calls:
            return []
        calls: list[FunctionCall] = []
        for index in sorted(self._calls):
            partial = self._calls[index]
            if not partial.name:
                raise self._bad(f"tool call #{index} has no function name")
            args = "".join(partial.arguments)
            fc = FunctionCall(name=partial.name, arguments=args)
            if partial.call_id:
                fc.call_id = partial.call_id
            calls.append(fc)
        self._calls.clear()
        return [ChatChunk(tool_calls=calls)]

    def _bad(self, message: str) -> ProviderError:
        return bad_response(message, provider=self.provider)

    def _stream_error(self, err: Any) -> ProviderError:
        if isinstance(err, dict):
            message = str(err.get("message") or err)
            code = err.get("code")
        else:
            message, code = str(err), None
        return ProviderError(
            f"error in stream: {redact(_snippet(message))}",
            provider=self.provider,
            retryable=True,
            category=ErrorCategory.SERVER,
            code=str(code) if code is not None else None,
        )


def _usage(data: dict[str, Any]) -> CompletionUsage:
    def num(key: str) -> int:
        value = data.get(key)
        return int(value) if isinstance(value, (int, float)) else 0

    prompt, completion = num("prompt_tokens"), num("completion_tokens")
    return CompletionUsage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=num("total_tokens") or prompt + completion,
    )


def _snippet(text: str, limit: int = 120) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + "..."
