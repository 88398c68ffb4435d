"""One client connection to the test server: its session, conversation, input buffer and responses."""

from __future__ import annotations

import asyncio
import base64
import binascii
import itertools
import json
from typing import Any

import numpy as np
from aiohttp import web

from .host import ConnectionHost
from .records import ConnectionRecord
from .responses import ResponseAborted, ResponseRun
from .script import BYTES_PER_MS, ScriptContext, ToneGenerator
from .vad import EnergyVAD

_SESSION_KEYS = frozenset({"type", "instructions", "tools", "tool_choice", "output_modalities", "audio",
                           "max_output_tokens", "include", "tracing", "prompt", "truncation", "model"})
_TRANSCRIPTION_SESSION_KEYS = frozenset({"type", "audio", "include"})
_AUDIO_KEYS = {"input": frozenset({"format", "transcription", "noise_reduction", "turn_detection"}),
               "output": frozenset({"format", "voice", "speed"})}
_RESPONSE_KEYS = frozenset({"conversation", "input", "instructions", "max_output_tokens", "metadata",
                            "output_modalities", "tools", "tool_choice", "audio", "prompt"})
_CONTENT_TYPES = {"user": {"input_text", "input_audio", "input_image"}, "system": {"input_text"},
                  "assistant": {"output_text", "output_audio"}}
_REQUIRED = {"function_call": ("name", "call_id", "arguments"), "function_call_output": ("call_id", "output")}
MIN_COMMIT_BYTES = 100 * BYTES_PER_MS


class ClientEventError(Exception):
    def __init__(self, code: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.param = code, message, param


def default_session(model: str, expires_at: int) -> dict[str, Any]:
    pcm = {"type": "audio/pcm", "rate": 24000}
    return {
        "type": "realtime", "object": "realtime.session", "id": "", "model": model,
        "output_modalities": ["audio"], "instructions": "You are a helpful assistant.", "tools": [],
        "tool_choice": "auto", "max_output_tokens": "inf", "tracing": None, "prompt": None,
        "expires_at": expires_at, "include": None,
        "audio": {
            "input": {"format": pcm, "transcription": None, "noise_reduction": None, "turn_detection": {
                "type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300, "silence_duration_ms": 500,
                "idle_timeout_ms": None, "create_response": True, "interrupt_response": True}},
            "output": {"format": pcm, "voice": "alloy", "speed": 1.0},
        },
    }


def transcription_session(expires_at: int) -> dict[str, Any]:
    """A transcription session (``?intent=transcription``): input audio only, no responses."""
    return {
        "type": "transcription", "object": "realtime.session", "id": "", "expires_at": expires_at, "include": None,
        "audio": {"input": {
            "format": {"type": "audio/pcm", "rate": 24000}, "transcription": None, "noise_reduction": None,
            "turn_detection": {"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300,
                               "silence_duration_ms": 500, "idle_timeout_ms": None}}},
    }


class ServerConnection:
    def __init__(self, server: ConnectionHost, ws: web.WebSocketResponse, record: ConnectionRecord,
                 transport: asyncio.Transport | None) -> None:
        self.server, self.ws, self.record, self.transport = server, ws, record, transport
        self._ids = itertools.count(1)
        self.transcription_only = record.intent == "transcription"
        self.session = (transcription_session(record.expires_at) if self.transcription_only
                        else default_session(record.model, record.expires_at))
        self.session["id"] = self.new_id("sess")
        record.session = self.session
        self.items: list[dict[str, Any]] = record.items
        self.conversation_id = self.new_id("conv")
        self.buffer = bytearray()
        self.vad = EnergyVAD()
        self.vad.configure(self.turn_detection or {})
        self.speech_item_id: str | None = None
        self.response: ResponseRun | None = None
        self.item_audio_ms: dict[str, int] = {}
        self.tone = ToneGenerator()
        self._deferred: list[dict[str, Any]] = []
        self.stalled = False  # stall_connection(): nothing is sent any more
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- helpers ----------------------------------------------------------------------------------
    def new_id(self, prefix: str) -> str:
        return f"{prefix}_c{self.record.index}n{next(self._ids):05d}"

    @property
    def turn_detection(self) -> dict[str, Any] | None:
        td: dict[str, Any] | None = self.session["audio"]["input"].get("turn_detection")
        return td

    async def send(self, event: dict[str, Any]) -> None:
        event = {"type": event["type"], "event_id": self.new_id("event"), **event}
        async with self._lock:
            if self.server.event_delay > 0:
                await asyncio.sleep(self.server.event_delay)
            if self.ws.closed or self.stalled:
                return
            self.server._record(self.record, "server", event)
            try:
                await self.ws.send_str(json.dumps(event))
            except (ConnectionError, RuntimeError):
                pass

    async def error(self, code: str | None, message: str, *, param: str | None = None,
                    error_type: str = "invalid_request_error", client_event_id: str | None = None) -> None:
        await self.send({"type": "error", "error": {"type": error_type, "code": code, "message": message,
                                                    "param": param, "event_id": client_event_id}})

    def previous_id(self, item_id: str) -> str | None:
        for i, item in enumerate(self.items):
            if item["id"] == item_id:
                return self.items[i - 1]["id"] if i > 0 else None
        return None

    def find(self, item_id: str) -> dict[str, Any] | None:
        return next((i for i in self.items if i["id"] == item_id), None)

    def update_item(self, item: dict[str, Any]) -> None:
        for i, existing in enumerate(self.items):
            if existing["id"] == item["id"]:
                self.items[i] = dict(item)

    async def add_item(self, item: dict[str, Any], *, after: str | None = "", announce_done: bool = True) -> None:
        """Insert ``item`` (after item ``after``; ``""`` = at the end, ``"root"`` = first) and announce it."""
        if after == "":
            self.items.append(item)
        elif after == "root":
            self.items.insert(0, item)
        else:
            idx = next(i for i, it in enumerate(self.items) if it["id"] == after)
            self.items.insert(idx + 1, item)
        previous = self.previous_id(item["id"])
        await self.send({"type": "conversation.item.added", "previous_item_id": previous, "item": dict(item)})
        if announce_done:
            await self.send({"type": "conversation.item.done", "previous_item_id": previous, "item": dict(item)})

    def usage(self, text_chars: int, audio_ms: int) -> dict[str, Any]:
        text_in = sum(len(json.dumps(i.get("content") or i.get("arguments") or i.get("output") or ""))
                      for i in self.items) // 4
        audio_out, text_out = audio_ms // 50, text_chars // 4 + 1
        return {"total_tokens": text_in + text_out + audio_out, "input_tokens": text_in,
                "output_tokens": text_out + audio_out,
                "input_token_details": {"text_tokens": text_in, "audio_tokens": 0, "cached_tokens": 0},
                "output_token_details": {"text_tokens": text_out, "audio_tokens": audio_out}}

    async def after_audio_delta(self, run: ResponseRun) -> None:
        await self.server._after_audio_delta(self.record.index, run)

    def spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def cancel_tasks(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- client events ----------------------------------------------------------------------------
    async def handle(self, text: str) -> None:
        try:
            event = json.loads(text)
        except ValueError:
            await self.error("invalid_json", "The server could not parse the JSON of the client event.")
            return
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            await self.error("missing_required_parameter", "Missing required parameter: 'type'.", param="type")
            return
        self.server._record(self.record, "client", event)
        fault = self.server._take_event_fault(event["type"])
        if fault is not None:
            await self.error(fault.code, fault.message, error_type=fault.error_type,
                             client_event_id=event.get("event_id"))
            return
        handler = getattr(self, "on_" + event["type"].replace(".", "_"), None)
        if handler is None:
            await self.error("invalid_value", f"Invalid value: '{event['type']}'. Supported values are the "
                             "GA client event types.", param="type", client_event_id=event.get("event_id"))
            return
        try:
            await handler(event)
        except ClientEventError as e:
            await self.error(e.code, e.message, param=e.param, client_event_id=event.get("event_id"))

    async def on_session_update(self, event: dict[str, Any]) -> None:
        s = event.get("session")
        if not isinstance(s, dict):
            raise ClientEventError("missing_required_parameter", "Missing required parameter: 'session'.", "session")
        if "type" not in s:
            raise ClientEventError("missing_required_parameter", "Missing required parameter: 'session.type'.",
                                   "session.type")
        kind = "transcription" if self.transcription_only else "realtime"
        if s["type"] != kind:
            raise ClientEventError("invalid_value", f"Invalid value: '{s['type']}'. This connection takes "
                                   f"session.type '{kind}'.", "session.type")
        for key in s:
            if key not in (_TRANSCRIPTION_SESSION_KEYS if self.transcription_only else _SESSION_KEYS):
                raise ClientEventError("unknown_parameter", f"Unknown parameter: 'session.{key}'.", f"session.{key}")
        for i, tool in enumerate(s.get("tools") or []):
            if not isinstance(tool, dict) or "function" in tool or not isinstance(tool.get("name"), str):
                raise ClientEventError("invalid_value", "Tools are flat: {type, name, description, parameters}.",
                                       f"session.tools[{i}]")
        modalities = s.get("output_modalities")
        if modalities is not None and modalities not in (["audio"], ["text"]):
            raise ClientEventError("invalid_value", f"Invalid output_modalities {modalities!r}: use ['audio'] "
                                   "or ['text'].", "session.output_modalities")
        audio = s.get("audio") or {}
        for direction, value in audio.items():
            allowed = _AUDIO_KEYS.get(direction) if direction == "input" or not self.transcription_only else None
            if allowed is None or not isinstance(value, dict):
                raise ClientEventError("unknown_parameter", f"Unknown parameter: 'session.audio.{direction}'.")
            for key in value:
                if key not in allowed:
                    raise ClientEventError("unknown_parameter",
                                           f"Unknown parameter: 'session.audio.{direction}.{key}'.")
        for key, value in s.items():
            if key == "audio":
                for direction, sub in value.items():
                    self.session["audio"][direction].update(sub)
            elif key != "type":
                self.session[key] = value
        self.vad.configure(self.turn_detection or {})
        await self.send({"type": "session.updated", "session": self.session})

    async def on_input_audio_buffer_append(self, event: dict[str, Any]) -> None:
        try:
            pcm = base64.b64decode(str(event.get("audio", "")), validate=True)
        except (binascii.Error, ValueError):
            raise ClientEventError("invalid_value", "Invalid 'audio': not base64.", "audio") from None
        if len(pcm) % 2:
            raise ClientEventError("invalid_value", "Invalid 'audio': an odd number of bytes.", "audio")
        self.buffer.extend(pcm)
        td = self.turn_detection
        changes = self.vad.push(np.frombuffer(pcm, dtype="<i2"))
        if td is None:
            return
        for change in changes:
            if change.kind == "started":
                self.speech_item_id = self.new_id("item")
                await self.send({"type": "input_audio_buffer.speech_started", "audio_start_ms": change.ms,
                                 "item_id": self.speech_item_id})
                if self.response is not None and td.get("interrupt_response", True):
                    self.response.cancel("turn_detected")
            else:
                item_id = self.speech_item_id or self.new_id("item")
                await self.send({"type": "input_audio_buffer.speech_stopped", "audio_end_ms": change.ms,
                                 "item_id": item_id})
                await self.commit(item_id)
                if td.get("create_response", True) and self.response is None and not self.transcription_only \
                        and not self.server.never_answer:
                    self.start_response({})

    async def on_input_audio_buffer_commit(self, event: dict[str, Any]) -> None:
        if len(self.buffer) < MIN_COMMIT_BYTES:
            raise ClientEventError(
                "input_audio_buffer_commit_empty",
                "Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, "
                f"but buffer only has {len(self.buffer) / BYTES_PER_MS:.2f}ms of audio.",
            )
        await self.commit(self.speech_item_id or self.new_id("item"))

    async def on_input_audio_buffer_clear(self, event: dict[str, Any]) -> None:
        self.buffer.clear()
        self.vad.reset_speech()
        self.speech_item_id = None
        await self.send({"type": "input_audio_buffer.cleared"})

    async def commit(self, item_id: str) -> None:
        self.buffer.clear()
        self.vad.reset_speech()
        self.speech_item_id = None
        previous = self.items[-1]["id"] if self.items else None
        await self.send({"type": "input_audio_buffer.committed", "previous_item_id": previous, "item_id": item_id})
        item = {"id": item_id, "object": "realtime.item", "type": "message", "status": "completed",
                "role": "user", "content": [{"type": "input_audio", "transcript": None}]}
        await self.add_item(item)
        if self.session["audio"]["input"].get("transcription"):
            if self.server.transcription_after_response:
                self._deferred.append(item)
            else:
                await self.transcribe(item)

    async def transcribe(self, item: dict[str, Any]) -> None:
        text = self.server._next_transcript()
        if text is None:
            await self.send({"type": "conversation.item.input_audio_transcription.failed", "item_id": item["id"],
                             "content_index": 0, "error": {"type": "transcription_error",
                                                           "code": "audio_unintelligible",
                                                           "message": "Audio could not be transcribed."}})
            return
        # a transcription session streams the words; a conversation gets the transcript in one delta
        deltas = [w if i == 0 else " " + w for i, w in enumerate(text.split(" "))] if self.transcription_only else [text]
        for delta in deltas:
            await self.send({"type": "conversation.item.input_audio_transcription.delta", "item_id": item["id"],
                             "content_index": 0, "delta": delta})
        item["content"][0]["transcript"] = text
        self.update_item(item)
        await self.send({"type": "conversation.item.input_audio_transcription.completed", "item_id": item["id"],
                         "content_index": 0, "transcript": text,
                         "usage": {"type": "duration", "seconds": 1.0}})

    async def on_conversation_item_create(self, event: dict[str, Any]) -> None:
        item = event.get("item")
        if not isinstance(item, dict):
            raise ClientEventError("missing_required_parameter", "Missing required parameter: 'item'.", "item")
        kind = item.get("type")
        if kind == "message":
            role = item.get("role")
            if role not in _CONTENT_TYPES:
                raise ClientEventError("invalid_value", f"Invalid value: '{role}'.", "item.role")
            for i, part in enumerate(item.get("content") or []):
                if not isinstance(part, dict) or part.get("type") not in _CONTENT_TYPES[role]:
                    raise ClientEventError("invalid_value", f"Invalid content type for a {role} message.",
                                           f"item.content[{i}].type")
        elif kind in _REQUIRED:
            for key in _REQUIRED[kind]:
                if not isinstance(item.get(key), str):
                    raise ClientEventError("missing_required_parameter",
                                           f"Missing required parameter: 'item.{key}'.", f"item.{key}")
        else:
            raise ClientEventError("invalid_value", f"Invalid value: '{kind}'.", "item.type")
        item_id = item.get("id") or self.new_id("item")
        if not isinstance(item_id, str) or len(item_id) > 32:
            raise ClientEventError("invalid_value", "Invalid 'item.id': at most 32 characters.", "item.id")
        if self.find(item_id) is not None:
            raise ClientEventError("invalid_value", f"Item with id '{item_id}' already exists.", "item.id")
        previous = event.get("previous_item_id")
        if previous not in (None, "root") and self.find(previous) is None:
            raise ClientEventError("invalid_value", f"Previous item with id '{previous}' not found.",
                                   "previous_item_id")
        full = {"object": "realtime.item", "status": "completed", **item, "id": item_id}
        await self.add_item(full, after="" if previous is None else previous)

    async def on_conversation_item_delete(self, event: dict[str, Any]) -> None:
        item = self.find(str(event.get("item_id")))
        if item is None:
            raise ClientEventError("invalid_value", f"Error deleting item: the item with id "
                                   f"'{event.get('item_id')}' does not exist.", "item_id")
        self.items.remove(item)
        await self.send({"type": "conversation.item.deleted", "item_id": item["id"]})

    async def on_conversation_item_truncate(self, event: dict[str, Any]) -> None:
        item_id, end = event.get("item_id"), event.get("audio_end_ms")
        item = self.find(str(item_id))
        if item is None:
            raise ClientEventError("invalid_value", f"Error truncating item: the item with id '{item_id}' "
                                   "does not exist.", "item_id")
        if item.get("role") != "assistant" or item["id"] not in self.item_audio_ms:
            raise ClientEventError("invalid_value", "Only model output audio messages can be truncated.", "item_id")
        if event.get("content_index") != 0:
            raise ClientEventError("invalid_value", "Invalid 'content_index': must be 0.", "content_index")
        if not isinstance(end, int) or isinstance(end, bool) or end < 0:
            raise ClientEventError("invalid_value", f"Invalid 'audio_end_ms': {end!r}.", "audio_end_ms")
        duration = self.item_audio_ms[item["id"]]
        if end > duration:
            raise ClientEventError("invalid_value", f"Audio content of {duration}ms is already shorter than "
                                   f"{end}ms", "audio_end_ms")
        self.item_audio_ms[item["id"]] = end
        for part in item.get("content") or []:
            if "transcript" in part:
                part["transcript"] = ""  # the server drops the transcript of a truncated item
        self.record.truncations.append((item["id"], end))
        await self.send({"type": "conversation.item.truncated", "item_id": item["id"], "content_index": 0,
                         "audio_end_ms": end})

    async def on_response_create(self, event: dict[str, Any]) -> None:
        if self.transcription_only:
            raise ClientEventError("invalid_request_error", "A transcription session does not create responses.")
        params = event.get("response") or {}
        if not isinstance(params, dict):
            raise ClientEventError("invalid_value", "Invalid 'response': must be an object.", "response")
        for key in params:
            if key not in _RESPONSE_KEYS:
                raise ClientEventError("unknown_parameter", f"Unknown parameter: 'response.{key}'.",
                                       f"response.{key}")
        if self.server.never_answer:
            return  # accepted, never answered
        if self.response is not None:
            raise ClientEventError(
                "conversation_already_has_active_response",
                f"Conversation already has an active response in progress: {self.response.id}. Wait until the "
                "response is finished before creating a new response.",
            )
        self.start_response(params)

    async def on_response_cancel(self, event: dict[str, Any]) -> None:
        wanted = event.get("response_id")
        run = self.response
        if run is None or run.cancel_reason is not None or (wanted is not None and wanted != run.id):
            raise ClientEventError("response_cancel_not_active", "Cancellation failed: no active response found.")
        run.cancel("client_cancelled")

    def start_response(self, params: dict[str, Any]) -> None:
        ctx = ScriptContext(
            items=[dict(i) for i in self.items],
            instructions=str(params.get("instructions") or self.session.get("instructions") or ""),
            tools=list(self.session.get("tools") or []),
            response_params=params,
            connection_index=self.record.index,
        )
        run = ResponseRun(self, self.new_id("resp"), params, self.server._next_response(ctx))
        self.response = run
        self.spawn(self._run_response(run))

    async def _run_response(self, run: ResponseRun) -> None:
        try:
            await run.run()
        except ResponseAborted:
            return
        finally:
            if self.response is run:
                self.response = None
        deferred, self._deferred = self._deferred, []
        for item in deferred:
            await self.transcribe(item)
