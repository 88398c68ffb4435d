"""One job: the context an entrypoint receives, and the code that runs it to the end.

A job ends when its room is left (disconnected), when ``ctx.shutdown()`` is called (the session
calls it when it closes), when the server terminates it, or when the entrypoint returns without
ever connecting. A crashing entrypoint fails only its own job (``JS_FAILED`` with the error).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import importlib
import inspect
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from livekit import rtc
from livekit.protocol import agent as pa

from ..events import CloseReason
from ..hooks import set_job_attributes, set_session_observer
from ..log import redact
from ..metrics import TurnMetrics
from .protocol import JS_FAILED, JS_SUCCESS, AcceptArgs

logger = logging.getLogger("livekitex_agent.worker.job")

ShutdownCallback = Callable[[], Awaitable[None]] | Callable[[str], Awaitable[None]]
MetricsSink = Callable[[TurnMetrics], None]

_current_job: contextvars.ContextVar[JobContext | None] = contextvars.ContextVar(
    "livekitex_current_job", default=None
)


def get_job_context() -> JobContext:
    """The :class:`JobContext` of the job whose task is running (raises outside a job)."""
    ctx = _current_job.get()
    if ctx is None:
        raise RuntimeError("no job is running in this context (get_job_context() called outside a job)")
    return ctx


def current_job_context() -> JobContext | None:
    return _current_job.get()


@dataclass
class JobProcess:
    """The process hosting jobs. ``userdata`` is filled once by ``prewarm_fnc`` and shared by its jobs."""

    pid: int = field(default_factory=os.getpid)
    executor: str = "process"
    userdata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class JobInfo:
    """Everything needed to start a job (it crosses the process boundary as plain values)."""

    job: pa.Job
    url: str
    token: str = field(repr=False)
    accept: AcceptArgs = field(default_factory=AcceptArgs)


@dataclass(frozen=True)
class JobOutcome:
    """How a job ended: ``status`` (success or failed), with the error and the reason if any."""

    status: int  # JS_SUCCESS or JS_FAILED
    error: str = ""
    reason: str = ""


class JobContext:
    """What an entrypoint gets: the room (not yet connected), the job, its process, and lifecycle hooks."""

    def __init__(self, info: JobInfo, proc: JobProcess, *, metrics_sink: MetricsSink | None = None) -> None:
        self._info = info
        self._proc = proc
        self._room = rtc.Room()
        self._metrics_sink = metrics_sink
        self._shutdown_event = asyncio.Event()
        self._shutdown_reason = ""
        self._shutdown_callbacks: list[Callable[[str], Awaitable[None]]] = []
        self._connected = False
        self._sessions: list[Any] = []
        self.userdata: dict[str, Any] = {}
        """Per-job scratch space (``proc.userdata`` is the per-process one)."""

    @property
    def room(self) -> rtc.Room:
        return self._room

    @property
    def job(self) -> pa.Job:
        return self._info.job

    @property
    def proc(self) -> JobProcess:
        return self._proc

    @property
    def agent_identity(self) -> str:
        return self._info.accept.identity

    @property
    def is_shutting_down(self) -> bool:
        return self._shutdown_event.is_set()

    @property
    def shutdown_reason(self) -> str:
        return self._shutdown_reason

    async def connect(
        self, *, auto_subscribe: bool = True, rtc_config: rtc.RtcConfiguration | None = None
    ) -> None:
        """Join the job's room (idempotent). Leaving the room later ends the job."""
        if self._connected:
            return
        self._room.on("disconnected", self._on_room_disconnected)
        options = rtc.RoomOptions(auto_subscribe=auto_subscribe, rtc_config=rtc_config)
        await self._room.connect(self._info.url, self._info.token, options)
        self._connected = True
        logger.debug("job %s joined room %s as %s", self.job.id, self.job.room.name, self.agent_identity)

    async def wait_for_participant(self, identity: str | None = None) -> rtc.RemoteParticipant:
        """Wait until a (non-agent) remote participant, or the one with ``identity``, is in the room."""
        if not self._connected:
            raise RuntimeError("wait_for_participant() needs ctx.connect() first")

        def matches(p: rtc.RemoteParticipant) -> bool:
            if identity is not None:
                return p.identity == identity
            return p.kind != rtc.ParticipantKind.PARTICIPANT_KIND_AGENT

        for p in self._room.remote_participants.values():
            if matches(p):
                return p
        fut: asyncio.Future[rtc.RemoteParticipant] = asyncio.get_running_loop().create_future()

        def on_connected(p: rtc.RemoteParticipant) -> None:
            if not fut.done() and matches(p):
                fut.set_result(p)

        self._room.on("participant_connected", on_connected)
        try:
            return await fut
        finally:
            self._room.off("participant_connected", on_connected)

    def add_shutdown_callback(self, callback: ShutdownCallback) -> None:
        """Run ``callback()`` or ``callback(reason)`` when the job ends (each bounded by the shutdown timeout)."""
        params = [
            p
            for p in inspect.signature(callback).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
        ]
        if len(params) > 1:
            raise TypeError(f"shutdown callback {callback!r} must take no argument or just the reason")
        if params:
            self._shutdown_callbacks.append(callback)  # type: ignore[arg-type]
        else:

            async def no_arg(reason: str, cb: Any = callback) -> None:
                await cb()

            self._shutdown_callbacks.append(no_arg)

    def shutdown(self, reason: str = "") -> None:
        """End the job: the entrypoint is cancelled if still running, callbacks run, the room is left."""
        if not self._shutdown_event.is_set():
            self._shutdown_reason = reason
            self._shutdown_event.set()

    def attach_session(self, session: Any) -> None:
        """Tie an ``AgentSession`` to this job.

        The job ends when the session closes; the session is closed (reason ``job_shutdown``) when
        the job ends; the session's turn metrics feed the worker's ``/metrics``.
        """

        if any(s is session for s in self._sessions):
            return  # already attached (automatically at session start, or by hand)
        self._sessions.append(session)

        def on_close(event: Any) -> None:
            reason = getattr(getattr(event, "reason", None), "value", "")
            self.shutdown(f"session closed ({reason})" if reason else "session closed")

        def on_metrics(event: Any) -> None:
            metrics = getattr(event, "metrics", None)
            if isinstance(metrics, TurnMetrics):
                self.observe_turn_metrics(metrics)

        async def close_session() -> None:
            if not session.closed:
                await session.aclose(reason=CloseReason.JOB_SHUTDOWN)

        session.on("close", on_close)
        session.on("metrics_collected", on_metrics)
        self.add_shutdown_callback(close_session)

    def observe_turn_metrics(self, metrics: TurnMetrics) -> None:
        if self._metrics_sink is not None:
            self._metrics_sink(metrics)

    def _on_room_disconnected(self, *_: Any) -> None:
        self.shutdown("room disconnected")


NOT_CONNECTED_REASON = "entrypoint returned without connecting"


async def run_job(
    ctx: JobContext,
    entrypoint: Callable[[JobContext], Awaitable[None]],
    *,
    shutdown_timeout: float = 10.0,
    on_running: Callable[[], None] | None = None,
) -> JobOutcome:
    """Run ``entrypoint`` in its own context and return how the job ended (never raises, except cancel)."""
    import_room_io()
    context = contextvars.copy_context()
    context.run(_current_job.set, ctx)
    context.run(set_session_observer, ctx.attach_session)  # sessions started by the job end it
    job_attributes = {"livekit.job.id": ctx.job.id, "livekit.room.name": ctx.job.room.name}
    context.run(set_job_attributes, {**job_attributes, "livekit.agent.name": ctx.job.agent_name})  # traces
    loop = asyncio.get_running_loop()
    entry = loop.create_task(_call(entrypoint, ctx), name=f"job-{ctx.job.id}", context=context)
    waiter = loop.create_task(ctx._shutdown_event.wait())
    error = ""
    try:
        if on_running is not None:
            on_running()
        await asyncio.wait({entry, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if entry.done():
            error = _entry_error(ctx, entry)
            if not error and not ctx._connected and not ctx.is_shutting_down:
                ctx.shutdown(NOT_CONNECTED_REASON)
            elif not error:
                await waiter  # connected: the job lasts until the room is left or shutdown()
        if error:
            ctx.shutdown("entrypoint failed")
    finally:
        waiter.cancel()
        if not entry.done():
            entry.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait({entry})
        if not error and entry.done() and not entry.cancelled():
            error = _entry_error(ctx, entry)
        await _run_shutdown_callbacks(ctx, shutdown_timeout)
        await _leave_room(ctx, shutdown_timeout)
    if error:
        return JobOutcome(JS_FAILED, error, ctx.shutdown_reason)
    return JobOutcome(JS_SUCCESS, "", ctx.shutdown_reason)


async def _call(entrypoint: Callable[[JobContext], Awaitable[None]], ctx: JobContext) -> None:
    await entrypoint(ctx)


def _entry_error(ctx: JobContext, entry: asyncio.Task[None]) -> str:
    if entry.cancelled():
        return ""
    exc = entry.exception()
    if exc is None:
        return ""
    logger.error("job %s: entrypoint failed", ctx.job.id, exc_info=exc)
    return redact(f"{type(exc).__name__}: {exc}")[:1000]


async def _run_shutdown_callbacks(ctx: JobContext, timeout: float) -> None:
    if not ctx._shutdown_callbacks:
        return
    reason = ctx.shutdown_reason
    tasks = [asyncio.ensure_future(cb(reason)) for cb in ctx._shutdown_callbacks]
    done, pending = await asyncio.wait(tasks, timeout=timeout)
    for task in pending:
        task.cancel()
    if pending:
        logger.warning(
            "job %s: %d shutdown callback(s) timed out after %.1fs", ctx.job.id, len(pending), timeout
        )
        await asyncio.gather(*pending, return_exceptions=True)
    for task in done:
        if not task.cancelled() and task.exception() is not None:
            logger.error("job %s: shutdown callback failed", ctx.job.id, exc_info=task.exception())


async def _leave_room(ctx: JobContext, timeout: float) -> None:
    if not ctx._connected:
        return
    ctx._room.off("disconnected", ctx._on_room_disconnected)
    try:
        await asyncio.wait_for(ctx._room.disconnect(), timeout)
    except Exception as e:  # leaving is best effort; the server times the participant out anyway
        logger.warning("job %s: leaving the room failed: %s", ctx.job.id, redact(str(e)))


_room_io_imported = False


def import_room_io() -> None:
    """Register the LiveKit room I/O for ``AgentSession.start(room=...)`` (rooms.livekit registers itself)."""
    global _room_io_imported
    if _room_io_imported:
        return
    _room_io_imported = True
    try:
        importlib.import_module("livekitex_agent.rooms.livekit")
    except ModuleNotFoundError as e:
        if e.name not in ("livekitex_agent.rooms.livekit", "livekitex_agent.rooms"):
            logger.warning("LiveKit room I/O unavailable (sessions need io=...): %s", e)
    except Exception:
        logger.exception("importing livekitex_agent.rooms.livekit failed (sessions need io=...)")
