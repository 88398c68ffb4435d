"""One scripted model response streamed in the GA event order (cancellable between events)."""

from __future__ import annotations

import asyncio
import base64
from typing import Any, Protocol

from .script import (
    BYTES_PER_MS,
    ScriptedFunctionCall,
    ScriptedMessage,
    ScriptedResponse,
    ToneGenerator,
    split_words,
)


class ResponseCancelled(Exception):
    """The response was cancelled (client cancel or barge-in): end it with status cancelled."""


class ResponseAborted(Exception):
    """The connection was dropped by fault injection: stop without another event."""


class ResponseSettings(Protocol):
    """The server's knobs a response obeys."""

    @property
    def delta_delay(self) -> float: ...
    @property
    def echo_metadata(self) -> bool: ...
    @property
    def inject_unknown(self) -> bool: ...
    @property
    def audio_ms_per_char(self) -> int: ...


class ResponseConnection(Protocol):
    """What a response needs from the connection it streams on."""

    @property
    def server(self) -> ResponseSettings: ...
    @property
    def session(self) -> dict[str, Any]: ...
    @property
    def conversation_id(self) -> str: ...
    @property
    def item_audio_ms(self) -> dict[str, int]: ...
    @property
    def tone(self) -> ToneGenerator: ...

    async def send(self, event: dict[str, Any]) -> None: ...
    def new_id(self, prefix: str) -> str: ...
    def previous_id(self, item_id: str) -> str | None: ...
    async def add_item(self, item: dict[str, Any], *, after: str | None = "", announce_done: bool = True) -> None: ...
    def update_item(self, item: dict[str, Any]) -> None: ...
    def usage(self, text_chars: int, audio_ms: int) -> dict[str, Any]: ...

    async def after_audio_delta(self, run: ResponseRun) -> None:
        """Called after each audio delta (fault injection may drop the connection here)."""


class ResponseRun:
    """Streams ``scripted`` as ``response.*`` events; :meth:`cancel` ends it with status cancelled."""

    def __init__(self, conn: ResponseConnection, response_id: str, params: dict[str, Any],
                 scripted: ScriptedResponse) -> None:
        self.conn = conn
        self.id = response_id
        self.params = params
        self.scripted = scripted
        self.output: list[dict[str, Any]] = []
        self.cancel_reason: str | None = None
        self._wake = asyncio.Event()
        modalities = params.get("output_modalities") or conn.session.get("output_modalities") or ["audio"]
        self.audio = "audio" in modalities
        self.metadata = params.get("metadata") if conn.server.echo_metadata else None
        self.audio_deltas = 0
        self._texts: dict[str, str] = {}

    def cancel(self, reason: str) -> None:
        if self.cancel_reason is None:
            self.cancel_reason = reason
            self._wake.set()

    def _check(self) -> None:
        if self.cancel_reason is not None:
            raise ResponseCancelled

    async def _pause(self) -> None:
        delay = self.conn.server.delta_delay
        if delay > 0:
            try:
                await asyncio.wait_for(self._wake.wait(), delay)
            except TimeoutError:
                pass
        else:
            await asyncio.sleep(0)  # let the client's events (barge-in, cancel) in
        self._check()

    def _response(self, status: str, status_details: dict[str, Any] | None = None) -> dict[str, Any]:
        voice = ((self.conn.session.get("audio") or {}).get("output") or {}).get("voice")
        resp: dict[str, Any] = {
            "object": "realtime.response", "id": self.id, "status": status, "status_details": status_details,
            "output": self.output, "conversation_id": self.conn.conversation_id,
            "output_modalities": ["audio"] if self.audio else ["text"],
            "max_output_tokens": self.conn.session.get("max_output_tokens", "inf"),
            "audio": {"output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": voice}},
            "usage": None, "metadata": self.metadata,
        }
        return resp

    async def run(self) -> None:
        conn = self.conn
        created = self._response("in_progress")
        if conn.server.inject_unknown:
            created["future_field"] = {"x": 1}
            await conn.send({"type": "response.future_event", "response_id": self.id, "detail": "unknown"})
        await conn.send({"type": "response.created", "response": created})
        await conn.send({"type": "rate_limits.updated", "rate_limits": [
            {"name": "requests", "limit": 1000, "remaining": 999, "reset_seconds": 0.06},
            {"name": "tokens", "limit": 50000, "remaining": 49000, "reset_seconds": 1.2},
        ]})
        text_out = audio_ms = 0
        current: dict[str, Any] | None = None
        try:
            for index, out in enumerate(self.scripted.output):
                self._check()
                if isinstance(out, ScriptedMessage):
                    current = self._new_message()
                    await self._message(index, current, out)
                    text_out += len(out.text)
                    audio_ms += conn.item_audio_ms.get(current["id"], 0)
                else:
                    current = None
                    await self._function_call(index, out)
                    text_out += len(out.arguments_json)
            status: str = self.scripted.status
            details = self.scripted.status_details
            if status != "completed" and details is None:
                details = {"type": status, "reason": "max_output_tokens"} if status == "incomplete" else {
                    "type": "failed", "error": {"type": "server_error", "code": "server_error"}}
        except ResponseCancelled:
            if current is not None and current.get("status") == "in_progress":
                await self._finish_message(len(self.output) - 1, current, status="incomplete")
            status, details = "cancelled", {"type": "cancelled", "reason": self.cancel_reason}
        done = self._response(status, details)
        done["usage"] = conn.usage(text_out, audio_ms)
        await conn.send({"type": "response.done", "response": done})

    def _new_message(self) -> dict[str, Any]:
        item = {"id": self.conn.new_id("item"), "object": "realtime.item", "type": "message",
                "status": "in_progress", "role": "assistant", "content": []}
        self.output.append(item)
        return item

    async def _message(self, index: int, item: dict[str, Any], out: ScriptedMessage) -> None:
        conn, rid, iid = self.conn, self.id, item["id"]
        await conn.send({"type": "response.output_item.added", "response_id": rid, "output_index": index,
                         "item": dict(item)})
        await conn.add_item(dict(item), announce_done=False)
        part = {"type": "audio", "transcript": ""} if self.audio else {"type": "text", "text": ""}
        ids = {"response_id": rid, "item_id": iid, "output_index": index, "content_index": 0}
        await conn.send({"type": "response.content_part.added", **ids, "part": part})
        self._texts[iid] = ""
        for word in split_words(out.text):
            await self._pause()
            self._texts[iid] += word
            extra = {"obfuscation": "aZ3x"} if conn.server.inject_unknown else {}
            if self.audio:
                await conn.send({"type": "response.output_audio_transcript.delta", **ids, "delta": word, **extra})
                pcm = conn.tone.pcm(len(word) * conn.server.audio_ms_per_char)
                conn.item_audio_ms[iid] = conn.item_audio_ms.get(iid, 0) + len(pcm) // BYTES_PER_MS
                await conn.send({"type": "response.output_audio.delta", **ids,
                                 "delta": base64.b64encode(pcm).decode("ascii"), **extra})
                self.audio_deltas += 1
                await conn.after_audio_delta(self)
            else:
                await conn.send({"type": "response.output_text.delta", **ids, "delta": word, **extra})
        await self._finish_message(index, item, status="completed")

    async def _finish_message(self, index: int, item: dict[str, Any], *, status: str) -> None:
        conn, text = self.conn, self._texts.get(item["id"], "")
        ids = {"response_id": self.id, "item_id": item["id"], "output_index": index, "content_index": 0}
        if self.audio:
            await conn.send({"type": "response.output_audio.done", **ids})
            await conn.send({"type": "response.output_audio_transcript.done", **ids, "transcript": text})
            part = {"type": "audio", "transcript": text}
            content = {"type": "output_audio", "transcript": text}
        else:
            await conn.send({"type": "response.output_text.done", **ids, "text": text})
            part = {"type": "text", "text": text}
            content = {"type": "output_text", "text": text}
        await conn.send({"type": "response.content_part.done", **ids, "part": part})
        item["status"] = status
        item["content"] = [content]
        conn.update_item(item)
        await conn.send({"type": "response.output_item.done", "response_id": self.id, "output_index": index,
                         "item": dict(item)})
        await conn.send({"type": "conversation.item.done", "previous_item_id": conn.previous_id(item["id"]),
                         "item": dict(item)})

    async def _function_call(self, index: int, out: ScriptedFunctionCall) -> None:
        conn = self.conn
        call_id = out.call_id or conn.new_id("call")
        item = {"id": conn.new_id("item"), "object": "realtime.item", "type": "function_call",
                "status": "in_progress", "name": out.name, "call_id": call_id, "arguments": ""}
        self.output.append(item)
        await conn.send({"type": "response.output_item.added", "response_id": self.id, "output_index": index,
                         "item": dict(item)})
        await conn.add_item(dict(item), announce_done=False)
        args = out.arguments_json
        ids = {"response_id": self.id, "item_id": item["id"], "output_index": index, "call_id": call_id}
        half = len(args) // 2
        for piece in (args[:half], args[half:]):
            await self._pause()
            if piece:
                await conn.send({"type": "response.function_call_arguments.delta", **ids, "delta": piece})
        await conn.send({"type": "response.function_call_arguments.done", **ids, "name": out.name,
                         "arguments": args})
        item.update(status="completed", arguments=args)
        conn.update_item(item)
        await conn.send({"type": "response.output_item.done", "response_id": self.id, "output_index": index,
                         "item": dict(item)})
        await conn.send({"type": "conversation.item.done", "previous_item_id": conn.previous_id(item["id"]),
                         "item": dict(item)})
