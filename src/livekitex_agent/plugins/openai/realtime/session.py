"""One OpenAI Realtime conversation: the calls the engine makes, and the server's events turned into
:mod:`providers.realtime` events. The connection itself is kept alive by :mod:`.lifecycle`."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ....chat import ChatContext, FunctionCallOutput
from ....errors import ErrorCategory, ProviderError, ProviderTimeoutError
from ....media.frame import AudioFrame
from ....providers import realtime as rt
from ....providers.realtime import (
    ConnectionState,
    GenerationResult,
    GenerationStatus,
    RealtimeEvent,
    RealtimeGeneration,
    RealtimeOptions,
)
from ....tools.function_tool import FunctionTool
from . import client_events as c
from . import protocol as p
from .audio import AudioChunker
from .connection import Connection, server_error
from .generation import ResponseTracker
from .history import diff_history, item_wire, replay_items
from .lifecycle import ConnectionSettings, ConnectionSupervisor, LossReason
from .turn_audio import TurnAudio

logger = logging.getLogger("livekitex_agent.plugins.openai.realtime")

REQUEST_KEY = "lkx_request"  # response metadata key that ties response.created to generate_reply()


class SessionSettings(ConnectionSettings, Protocol):
    """What a session reads from its model besides the connection settings."""

    @property
    def options(self) -> RealtimeOptions: ...
    @property
    def reply_timeout(self) -> float: ...


@dataclass
class _PendingReply:
    event_id: str
    future: asyncio.Future[RealtimeGeneration]
    cancel: bool = False  # interrupt() came before response.created: cancel it as soon as it exists


class RealtimeSession(rt.RealtimeSession):
    """See :class:`livekitex_agent.providers.realtime.RealtimeSession`."""

    def __init__(self, model: SessionSettings) -> None:
        self._model = model
        self._provider = model.label
        self._opts = model.options
        self._events: asyncio.Queue[RealtimeEvent | None] = asyncio.Queue()
        self._instructions: str | None = None
        self._tools: list[FunctionTool] = []
        self._chat_ctx: ChatContext | None = None
        self._remote: dict[str, None] = {}  # item ids the server holds, in the order we learnt them
        self._chunker = AudioChunker()
        self._turn_audio = TurnAudio()
        self._tracker = ResponseTracker(provider=self._provider, modalities=self._opts.modalities)
        self._pending: dict[str, _PendingReply] = {}
        self._user_speaking = False
        self._listeners: list[asyncio.Future[None]] = []  # probes waiting for any server message
        self._ids = itertools.count(1)
        self._handlers: dict[type, Callable[[Any], None]] = {
            p.SessionUpdated: lambda ev: logger.debug("session updated"),
            p.ErrorEvent: self._on_error,
            p.SpeechStarted: self._on_speech_started,
            p.SpeechStopped: self._on_speech_stopped,
            p.AudioCommitted: self._on_committed,
            p.ItemAdded: lambda ev: self._remote.setdefault(ev.item.id, None),
            p.ItemDeleted: lambda ev: self._remote.pop(ev.item_id, None),
            p.TranscriptionDelta: lambda ev: self._emit(rt.InputTranscriptionDelta(ev.item_id, ev.delta)),
            p.TranscriptionCompleted: self._on_transcribed,
            p.TranscriptionFailed: lambda ev: self._emit(rt.InputTranscriptionFailed(ev.item_id, ev.message, ev.code)),
            p.ResponseCreated: self._on_response_created,
            p.ResponseDone: self._on_response_done,
            p.OutputItemAdded: self._tracker.output_item_added,
            p.OutputItemDone: self._tracker.output_item_done,
            p.TextDelta: self._tracker.text_delta,
            p.AudioDelta: self._tracker.audio_delta,
            p.FunctionArgumentsDone: self._tracker.arguments_done,
            p.RateLimits: self._on_rate_limits,
            p.UnknownEvent: lambda ev: logger.debug("ignoring unknown server event %r", ev.type),
        }
        self._life = ConnectionSupervisor(model, self, self._emit)

    # -- state and events -----------------------------------------------------------------------
    @property
    def state(self) -> ConnectionState:
        return self._life.state

    def _emit(self, event: RealtimeEvent | None) -> None:
        if event is None or self._life.state is not ConnectionState.CLOSED or isinstance(
            event, rt.ConnectionStateChanged
        ):
            self._events.put_nowait(event)

    async def events(self) -> AsyncIterator[RealtimeEvent]:
        while True:
            event = await self._events.get()
            if event is None:
                self._events.put_nowait(None)  # later readers end too
                return
            yield event

    async def connect(self) -> None:
        await self._life.connect()

    async def aclose(self) -> None:
        await self._life.aclose()

    # -- hooks for the connection supervisor ----------------------------------------------------
    def opening(self) -> tuple[list[str], list[str]]:
        messages = [c.dumps(c.session_update(self._full_config(), self._event_id()))]
        audio = self._turn_audio.turns
        items = replay_items(self._chat_ctx, audio) if self._chat_ctx is not None else []
        messages += [c.dumps(c.item_create(item_wire(item, audio), event_id=self._event_id())) for item in items]
        if items:
            logger.info("%s: replaying %d history items", self._provider, len(items))
        return messages, [item.id for item in items]

    def _full_config(self) -> dict[str, Any]:
        o = self._opts
        return c.session_config(
            instructions=self._instructions,
            tools=self._tools,
            voice=o.voice,
            turn_detection=o.turn_detection,
            transcription_model=o.input_transcription_model,
            output_modalities=["audio"] if "audio" in o.modalities else ["text"],
            max_output_tokens=o.max_output_tokens,
        )

    def installed(self, remote_ids: list[str], *, renewed: bool) -> None:
        self._remote = dict.fromkeys(remote_ids)
        if renewed:
            self._sync_history()  # items added while the new connection was being prepared
        else:
            self._chunker.clear()
            self._turn_audio.cleared()
            self._user_speaking = False

    def lost(self, err: ProviderError, reason: LossReason) -> None:
        status: GenerationStatus = "cancelled" if reason == "session_closed" else "failed"
        self._tracker.fail_all(GenerationResult(status=status, reason=reason, error_code=err.code))
        pending, self._pending = self._pending, {}
        for req in pending.values():
            if not req.future.done():
                req.future.set_exception(err)
        self._user_speaking = False

    def quiet(self) -> bool:
        return not (self._tracker.active or self._pending or self._user_speaking)

    # -- server events --------------------------------------------------------------------------
    def dispatch(self, text: str) -> None:
        if self._listeners:
            listeners, self._listeners = self._listeners, []
            for waiter in listeners:
                if not waiter.done():
                    waiter.set_result(None)
        try:
            event = p.parse_server_event(text)
        except p.ProtocolError as e:
            logger.warning("%s: skipping a malformed server message: %s", self._provider, e)
            return
        handler = self._handlers.get(type(event))
        if handler is not None:
            try:
                handler(event)
            except Exception:  # a bug here must not stop the reader: log it, go on with the next event
                logger.exception("%s: failed to handle a %s event", self._provider, type(event).__name__)

    def _on_error(self, ev: p.ErrorEvent) -> None:
        err = server_error(ev, provider=self._provider, secrets=self._model.secrets)
        answered = False  # the error answers a generate_reply() call: it is raised there
        for req in self._pending.values():
            if ev.event_id is not None and req.event_id == ev.event_id and not req.future.done():
                req.future.set_exception(err)
                answered = True
        if ev.code in p.FATAL_ERROR_CODES:
            self._life.fail(err)
        elif answered or ev.code in p.BENIGN_ERROR_CODES:
            logger.debug("%s: %s", self._provider, err.message)
        else:
            logger.warning("%s: server error: %s", self._provider, err.message)
            self._emit(rt.RealtimeErrorEvent(err, fatal=False))

    def _on_speech_started(self, ev: p.SpeechStarted) -> None:
        self._user_speaking = True
        self._emit(rt.InputSpeechStarted(ev.audio_start_ms, ev.item_id))

    def _on_speech_stopped(self, ev: p.SpeechStopped) -> None:
        self._user_speaking = False
        self._emit(rt.InputSpeechStopped(ev.audio_end_ms, ev.item_id))

    def _on_committed(self, ev: p.AudioCommitted) -> None:
        self._user_speaking = False
        self._turn_audio.committed(ev.item_id)
        self._remote.setdefault(ev.item_id, None)
        self._emit(rt.InputAudioCommitted(ev.item_id, ev.previous_item_id))

    def _on_transcribed(self, ev: p.TranscriptionCompleted) -> None:
        if ev.transcript.strip():
            self._turn_audio.transcribed(ev.item_id)
        self._emit(rt.InputTranscriptionCompleted(ev.item_id, ev.transcript))

    def _on_response_created(self, ev: p.ResponseCreated) -> None:
        metadata = ev.response.metadata or {}
        request = metadata.get(REQUEST_KEY)
        pending: _PendingReply | None = None
        if isinstance(request, str):
            pending = self._pending.pop(request, None)
        elif len(self._pending) == 1:
            # a server that does not echo metadata (a proxy, an older or compatible implementation):
            # the one request waiting is answered by this response
            pending = self._pending.pop(next(iter(self._pending)))
            logger.debug("%s: response %s has no request metadata; matched to the pending request",
                         self._provider, ev.response.id)
        gen = self._tracker.created(ev.response, user_initiated=pending is not None)
        if pending is not None and not pending.future.done():
            pending.future.set_result(gen)
        if pending is not None and pending.cancel:
            self._send(c.response_cancel(gen.response_id, self._event_id()))
        self._emit(rt.GenerationCreated(gen))

    def _on_response_done(self, ev: p.ResponseDone) -> None:
        done = self._tracker.done(ev.response)
        if done is not None:
            gen, result = done
            if result.usage is not None:
                self._emit(rt.UsageCollected(result.usage, gen.response_id))
            if result.status == "failed":
                code = result.error_code or "response_failed"
                rate_limited = "rate_limit" in code
                self._emit(rt.RealtimeErrorEvent(ProviderError(
                    f"response {gen.response_id} failed: {code}", provider=self._provider, retryable=True,
                    category=ErrorCategory.RATE_LIMIT if rate_limited else ErrorCategory.SERVER, code=code,
                ), fatal=False))
        self._life.maybe_renew()

    def _on_rate_limits(self, ev: p.RateLimits) -> None:
        limits = [
            rt.RateLimit(name=str(d.get("name", "")), limit=d.get("limit"), remaining=d.get("remaining"),
                         reset_seconds=d.get("reset_seconds"))
            for d in ev.limits
        ]
        self._emit(rt.RateLimitsUpdated(limits))

    # -- calls from the engine ------------------------------------------------------------------
    def _event_id(self) -> str:
        return f"lkx_evt_{next(self._ids)}"

    def _require_live(self, what: str) -> Connection:
        conn = self._life.live
        if conn is None:
            state = self._life.state
            raise ProviderError(f"cannot {what}: the realtime session is {state.value}", provider=self._provider,
                                retryable=state not in (ConnectionState.FAILED, ConnectionState.CLOSED),
                                category=ErrorCategory.CONNECTION)
        return conn

    def _send(self, event: dict[str, Any]) -> None:
        conn = self._life.live
        if conn is not None:
            conn.send(c.dumps(event))

    async def update_instructions(self, instructions: str) -> None:
        self._instructions = instructions
        self._send(c.session_update({"type": "realtime", "instructions": instructions}, self._event_id()))

    async def update_tools(self, tools: Sequence[FunctionTool]) -> None:
        self._tools = list(tools)
        self._send(c.session_update(c.session_config(tools=self._tools), self._event_id()))

    async def update_chat_ctx(self, chat_ctx: ChatContext) -> None:
        self._chat_ctx = chat_ctx
        self._sync_history()

    def _sync_history(self) -> None:
        if self._chat_ctx is None or self._life.live is None:
            return
        audio = self._turn_audio.turns
        creates, deletes = diff_history(self._chat_ctx.items, self._remote, keep=self._tracker.active_item_ids(),
                                        audio=audio)
        for item_id in deletes:
            self._remote.pop(item_id, None)
            self._send(c.item_delete(item_id, self._event_id()))
        for item, previous in creates:
            self._remote[item.id] = None
            self._send(c.item_create(item_wire(item, audio), previous, self._event_id()))

    def push_audio(self, frame: AudioFrame) -> None:
        conn = self._life.live
        if conn is None:
            return
        for chunk in self._chunker.push(frame):
            self._turn_audio.sent(chunk)
            conn.send(c.audio_append(chunk))

    async def commit_audio(self) -> None:
        conn = self._life.live
        if conn is None:
            return
        rest = self._chunker.flush()
        if rest is not None:
            self._turn_audio.sent(rest)
            conn.send(c.audio_append(rest))
        conn.send(c.dumps(c.audio_commit(self._event_id())))

    async def clear_audio(self) -> None:
        self._chunker.clear()
        self._turn_audio.cleared()
        self._send(c.audio_clear(self._event_id()))

    async def generate_reply(self, instructions: str | None = None) -> RealtimeGeneration:
        conn = self._require_live("generate a reply")
        request, event_id = f"req_{next(self._ids)}", self._event_id()
        future: asyncio.Future[RealtimeGeneration] = asyncio.get_running_loop().create_future()
        self._pending[request] = _PendingReply(event_id, future)
        conn.send(c.dumps(c.response_create(instructions=instructions, metadata={REQUEST_KEY: request},
                                            event_id=event_id)))
        try:
            async with asyncio.timeout(self._model.reply_timeout):
                return await future
        except TimeoutError:
            raise ProviderTimeoutError(
                f"no response.created within {self._model.reply_timeout:g}s", provider=self._provider
            ) from None
        finally:
            self._pending.pop(request, None)

    async def probe(self, timeout: float) -> bool:
        conn = self._life.live
        if conn is None:
            return False
        heard: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._listeners.append(heard)
        # a session.update that changes nothing: the server answers session.updated
        conn.send(c.dumps(c.session_update({"type": "realtime"}, self._event_id())))
        try:
            async with asyncio.timeout(timeout):
                await heard
        except TimeoutError:
            return False
        finally:
            if heard in self._listeners:
                self._listeners.remove(heard)
        return True

    async def reconnect(self, reason: str) -> None:
        err = ProviderError(reason, provider=self._provider, retryable=True, category=ErrorCategory.TIMEOUT,
                            code="stalled")
        if not self._life.force_reconnect(err) and self.state in (ConnectionState.FAILED, ConnectionState.CLOSED):
            self._require_live("reconnect")

    async def interrupt(self) -> None:
        for req in self._pending.values():
            req.cancel = True
        if self._tracker.active:
            self._send(c.response_cancel(event_id=self._event_id()))

    async def truncate(self, item_id: str, audio_end_ms: int) -> None:
        received = self._tracker.received_audio_bytes(item_id)
        if received is None:
            logger.debug("%s: no audio was received for item %s; nothing to truncate", self._provider, item_id)
            return
        end_ms = rt.audio_end_ms(audio_end_ms, received)
        if self._life.live is not None:
            self._tracker.note_truncated(item_id, end_ms)
        self._send(c.item_truncate(item_id, end_ms, self._event_id()))

    async def send_tool_outputs(
        self, outputs: Sequence[FunctionCallOutput], *, reply: bool = True
    ) -> RealtimeGeneration | None:
        conn = self._require_live("send tool outputs")
        for out in outputs:
            self._remote[out.id] = None
            conn.send(c.dumps(c.item_create(c.item_to_wire(out), event_id=self._event_id())))
        return await self.generate_reply() if reply else None

    def __repr__(self) -> str:
        return f"openai.RealtimeSession(state={self.state.value}, connections={self._life.connections})"

