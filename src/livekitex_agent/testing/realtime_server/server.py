"""``RealtimeTestServer``: a local websocket server speaking the OpenAI Realtime GA protocol."""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import WSMsgType, web

from .connection import ServerConnection
from .records import ConnectionRecord, RecordedEvent
from .responses import ResponseAborted, ResponseRun
from .script import Script, ScriptContext, ScriptedMessage, ScriptedResponse, ScriptItem, to_response

logger = logging.getLogger("livekitex_agent.testing.realtime_server")


FaultAction = Literal["drop", "close", "stall", "oversize"]
OVERSIZED_BYTES = 33 * 1024 * 1024  # just over the OpenAI client's default 32 MiB message limit


@dataclass
class _ResponseFault:
    after_audio_deltas: int
    action: FaultAction
    close_code: int
    oversize_bytes: int


@dataclass
class _EventFault:
    code: str
    message: str
    error_type: str
    remaining: int


class RealtimeTestServer:
    """A protocol-faithful stand-in for the OpenAI Realtime API (GA), on 127.0.0.1.

    ::

        async with RealtimeTestServer() as server:
            server.queue_response("Hello there!")
            model = openai.RealtimeModel(api_key=server.api_key, base_url=server.base_url)

    Responses come from the queue (:meth:`queue_response`), else from ``script(ctx)``, else
    ``default_reply``. Spoken replies are a 440 Hz tone, ``audio_ms_per_char`` long per character.
    User transcripts come from :meth:`queue_transcript` (else ``default_transcript``).
    ``?intent=transcription`` connections are transcription sessions (``session.type``
    ``"transcription"``): committed audio is transcribed word by word, no response is ever created.
    Every client and server event is recorded per connection (:attr:`connections`).

    Fault injection: :meth:`refuse_connections`, :meth:`fail_next_response` (drop the socket, close
    it, stop sending, or send an oversized message mid-response), :meth:`fail_on` (answer a client
    event type with an error, e.g. a fatal one on ``session.update`` or ``response.create``),
    :meth:`close_connection`, :meth:`drop_connection`, :meth:`stall_connection`, :meth:`send_error`,
    :meth:`send_oversized`, :meth:`send_raw`; ``event_delay`` (seconds before each server event), ``delta_delay`` (seconds
    between the deltas of a response), ``inject_unknown`` (unknown event types and fields),
    ``never_answer`` (accept ``response.create`` and finished user turns, and never create a
    response: a stalled model), ``echo_metadata`` (False: responses do not carry the ``metadata`` the
    client sent, like some proxies and compatible servers), ``enforce_session_duration`` (close with
    1001 once ``session_duration`` has passed).
    """

    def __init__(
        self,
        *,
        api_key: str = "sk-test-realtime-key",
        script: Script | None = None,
        default_reply: str = "OK.",
        default_transcript: str | None = "",
        audio_ms_per_char: int = 40,
        session_duration: float = 3600.0,
        enforce_session_duration: bool = False,
        transcription_after_response: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.api_key = api_key
        self.script = script
        self.default_reply = default_reply
        self.default_transcript = default_transcript
        self.audio_ms_per_char = audio_ms_per_char
        self.session_duration = session_duration
        self.enforce_session_duration = enforce_session_duration
        self.transcription_after_response = transcription_after_response
        self.clock = clock
        self.event_delay = 0.0
        self.delta_delay = 0.0
        self.inject_unknown = False
        self.never_answer = False  # response.create is accepted, no response ever comes
        self.echo_metadata = True  # False: response.created/done carry metadata null
        self.connections: list[ConnectionRecord] = []
        self.refused = 0  # connection attempts answered by refuse_connections()
        self._live: dict[int, ServerConnection] = {}
        self._responses: collections.deque[ScriptedResponse] = collections.deque()
        self._transcripts: collections.deque[str | None] = collections.deque()
        self._refuse: list[int] = []
        self._response_fault: _ResponseFault | None = None
        self._event_faults: dict[str, _EventFault] = {}
        self._seq = itertools.count(1)
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/v1/realtime", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def aclose(self) -> None:
        for conn in list(self._live.values()):
            await conn.cancel_tasks()
            await conn.ws.close(code=1001, message=b"server shutting down")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> RealtimeTestServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @property
    def base_url(self) -> str:
        """What to pass as ``base_url`` (the client turns it into ``ws://.../v1/realtime?model=...``)."""
        return f"http://127.0.0.1:{self.port}/v1"

    # -- scripting ------------------------------------------------------------------------------
    def queue_response(self, *responses: ScriptItem) -> None:
        """Queue responses, one per argument: text, a message, a function call, a list, or a ScriptedResponse."""
        for item in responses:
            self._responses.append(to_response(item))

    def queue_transcript(self, *transcripts: str | None) -> None:
        """Queue transcripts of the next committed user turns (``None``: transcription fails)."""
        self._transcripts.extend(transcripts)

    def _next_response(self, ctx: ScriptContext) -> ScriptedResponse:
        if self._responses:
            return self._responses.popleft()
        if self.script is not None:
            produced = self.script(ctx)
            if produced is not None:
                return to_response(produced)
        return ScriptedResponse([ScriptedMessage(self.default_reply)])

    def _next_transcript(self) -> str | None:
        return self._transcripts.popleft() if self._transcripts else self.default_transcript

    # -- faults ---------------------------------------------------------------------------------
    def refuse_connections(self, count: int, status: int = 503) -> None:
        """Answer the next ``count`` connection attempts with HTTP ``status`` instead of a websocket."""
        self._refuse.extend([status] * count)

    def fail_next_response(self, *, after_audio_deltas: int = 1, action: FaultAction = "drop",
                           close_code: int = 1011, oversize_bytes: int = OVERSIZED_BYTES) -> None:
        """Mid-way through the next spoken response (after ``after_audio_deltas`` audio deltas):

        - ``"drop"``: drop the TCP connection (the client sees 1006);
        - ``"close"``: close it with ``close_code``;
        - ``"stall"``: stop sending for this response (the connection stays open, the response active);
        - ``"oversize"``: send one message of ``oversize_bytes`` (see :meth:`send_oversized`), then go on.
        """
        if after_audio_deltas < 1:
            raise ValueError(f"after_audio_deltas must be >= 1, got {after_audio_deltas!r}")
        self._response_fault = _ResponseFault(after_audio_deltas, action, close_code, oversize_bytes)

    def fail_on(self, event_type: str, code: str = "insufficient_quota", message: str = "injected error", *,
                error_type: str | None = None, count: int = 1) -> None:
        """Answer the next ``count`` client events of ``event_type`` (e.g. ``"session.update"``,
        ``"response.create"``) with an ``error`` (naming the client's ``event_id``) instead of handling them.
        The default code is fatal for the OpenAI client."""
        if count < 1:
            raise ValueError(f"count must be >= 1, got {count!r}")
        self._event_faults[event_type] = _EventFault(code, message, error_type or code, count)

    def _take_event_fault(self, event_type: str) -> _EventFault | None:
        fault = self._event_faults.get(event_type)
        if fault is None:
            return None
        fault.remaining -= 1
        if fault.remaining <= 0:
            del self._event_faults[event_type]
        return fault

    async def _after_audio_delta(self, index: int, run: ResponseRun) -> None:
        fault = self._response_fault
        if fault is None or run.audio_deltas < fault.after_audio_deltas:
            return
        self._response_fault = None
        if fault.action == "oversize":
            await self.send_oversized(fault.oversize_bytes, index=index)
            return
        if fault.action == "stall":
            logger.info("RealtimeTestServer: response %s stalls (fault injection)", run.id)
            await asyncio.Event().wait()  # until the connection closes and cancels the response task
        if fault.action == "drop":
            await self.drop_connection(index)
        else:
            await self.close_connection(code=fault.close_code, index=index)
        raise ResponseAborted  # the response dies with the connection

    def _conn(self, index: int) -> ServerConnection:
        record = self.connections[index]
        conn = self._live.get(record.index)
        if conn is None:
            raise RuntimeError(f"connection {record.index} is not open")
        return conn

    async def close_connection(self, *, code: int = 1001, reason: str = "", index: int = -1) -> None:
        """Close a connection (the latest by default) with ``code``."""
        conn = self._conn(index)
        conn.record.close_code = code
        await conn.ws.close(code=code, message=reason.encode())

    async def drop_connection(self, index: int = -1) -> None:
        """Drop a connection without a close frame (the client sees 1006)."""
        conn = self._conn(index)
        if conn.transport is not None:
            conn.transport.abort()

    async def send_error(self, code: str, message: str = "injected error", *, error_type: str = "invalid_request_error",
                         close_code: int | None = None, index: int = -1) -> None:
        """Send an ``error`` event (``code`` may be fatal, e.g. ``insufficient_quota``), then maybe close."""
        conn = self._conn(index)
        await conn.error(code, message, error_type=error_type)
        if close_code is not None:
            await self.close_connection(code=close_code, index=index)

    def stall_connection(self, index: int = -1) -> None:
        """From now on send nothing on a connection (the latest by default); it stays open and the
        client's events are still read and handled: a dead downstream, like a stalled network."""
        conn = self._conn(index)
        conn.stalled = True

    async def send_oversized(self, size: int = OVERSIZED_BYTES, *, index: int = -1) -> None:
        """Send one valid but ``size``-byte message (an unknown event type with padding): over the client's
        message limit, the client closes the socket with 1009."""
        filler = max(0, size - 64)
        await self.send_raw('{"type":"test.oversized","padding":"' + "x" * filler + '"}', index=index)

    async def send_raw(self, message: str | dict[str, Any], *, index: int = -1) -> None:
        """Send any text (malformed JSON, unknown event types...) as it is."""
        conn = self._conn(index)
        text = message if isinstance(message, str) else json.dumps(message)
        async with conn._lock:
            await conn.ws.send_str(text)

    # -- recording and waiting ------------------------------------------------------------------
    def _record(self, record: ConnectionRecord, direction: Literal["client", "server"], event: dict[str, Any]) -> None:
        record.events.append(RecordedEvent(next(self._seq), direction, event))
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_until(self, predicate: Callable[[], bool], *, timeout: float = 5.0, what: str = "condition") -> None:
        """Wait until ``predicate()`` holds (checked after every recorded event)."""
        try:
            async with asyncio.timeout(timeout):
                while not predicate():
                    await self._changed.wait()
        except TimeoutError:
            raise TimeoutError(f"RealtimeTestServer: no {what} within {timeout:g}s") from None

    def _events(self, index: int, direction: Literal["client", "server"]) -> list[dict[str, Any]]:
        """The events of connection ``index`` so far (none while it does not exist yet)."""
        if not -len(self.connections) <= index < len(self.connections):
            return []
        record = self.connections[index]
        return record.client_events if direction == "client" else record.server_events

    async def wait_for_connections(self, count: int, *, timeout: float = 5.0) -> ConnectionRecord:
        await self.wait_until(lambda: len(self.connections) >= count, timeout=timeout, what=f"{count} connections")
        return self.connections[count - 1]

    async def wait_for_client_event(self, event_type: str, *, count: int = 1, index: int = -1,
                                    timeout: float = 5.0) -> dict[str, Any]:
        """The ``count``-th client event of ``event_type`` on connection ``index``, once it arrived
        (waiting for the connection too)."""
        def matches() -> list[dict[str, Any]]:
            return [e for e in self._events(index, "client") if e["type"] == event_type]

        await self.wait_until(lambda: len(matches()) >= count, timeout=timeout, what=f"client {event_type}")
        return matches()[count - 1]

    async def wait_for_server_event(self, event_type: str, *, count: int = 1, index: int = -1,
                                    timeout: float = 5.0) -> dict[str, Any]:
        def matches() -> list[dict[str, Any]]:
            return [e for e in self._events(index, "server") if e["type"] == event_type]

        await self.wait_until(lambda: len(matches()) >= count, timeout=timeout, what=f"server {event_type}")
        return matches()[count - 1]

    # -- the websocket endpoint -----------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if self._refuse:
            status = self._refuse.pop(0)
            self.refused += 1
            self._notify()
            return web.json_response({"error": {"type": "server_error", "code": None,
                                                "message": "refused by the test server"}}, status=status)
        headers = {k: v for k, v in request.headers.items() if k.lower() != "authorization"}
        record = ConnectionRecord(
            index=len(self.connections), model=request.query.get("model", ""), intent=request.query.get("intent", ""),
            expires_at=int(self.clock() + self.session_duration), opened_seq=next(self._seq), headers=headers,
        )
        self.connections.append(record)
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        conn = ServerConnection(self, ws, record, request.transport)
        self._live[record.index] = conn
        self._notify()
        expiry: asyncio.Task[None] | None = None
        try:
            if not await self._admit(conn, request):
                return ws
            await conn.send({"type": "session.created", "session": conn.session})
            if self.enforce_session_duration:
                expiry = asyncio.create_task(self._expire(conn))
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    try:
                        await conn.handle(msg.data)
                    except Exception:
                        logger.exception("RealtimeTestServer: failed to handle a client event")
                        await conn.error(None, "The test server failed on this event.", error_type="server_error")
        finally:
            if expiry is not None:
                expiry.cancel()
            await conn.cancel_tasks()
            self._live.pop(record.index, None)
            record.closed = True
            if record.close_code is None:
                record.close_code = ws.close_code
            record.closed_seq = next(self._seq)
            self._notify()
        return ws

    async def _admit(self, conn: ServerConnection, request: web.Request) -> bool:
        if "realtime=v1" in request.headers.get("OpenAI-Beta", ""):
            await conn.error("beta_api_shape_disabled", "The beta Realtime API shape is no longer supported; "
                             "use the GA interface.")
            await self.close_connection(code=1008, index=conn.record.index)
            return False
        if request.headers.get("Authorization", "") != f"Bearer {self.api_key}":
            conn.record.authorized = False
            await conn.error("invalid_api_key", "Incorrect API key provided.", error_type="invalid_request_error")
            await self.close_connection(code=1008, index=conn.record.index)
            return False
        return True

    async def _expire(self, conn: ServerConnection) -> None:
        await asyncio.sleep(self.session_duration)
        await self.close_connection(code=1001, reason="Your session hit the maximum duration of 60 minutes.",
                                    index=conn.record.index)
