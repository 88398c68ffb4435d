"""The life of a realtime session's connection: connect (with retries), read, reconnect after a
retryable drop, renew before the server's session limit, fail, close — one explicit state machine."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any, Literal, Protocol

import aiohttp

from ....errors import ProviderError
from ....providers import realtime as rt
from ....providers.base import RetryPolicy
from ....providers.realtime import ConnectionState
from .connection import Connection, client_close_error, close_error, open_connection

logger = logging.getLogger("livekitex_agent.plugins.openai.realtime")

LossReason = Literal["connection_lost", "session_failed", "session_closed"]
_S = ConnectionState
_TRANSITIONS: dict[ConnectionState, frozenset[ConnectionState]] = {
    _S.IDLE: frozenset({_S.CONNECTING, _S.CLOSED}),
    _S.CONNECTING: frozenset({_S.CONNECTED, _S.FAILED, _S.CLOSED}),
    _S.CONNECTED: frozenset({_S.RECONNECTING, _S.FAILED, _S.CLOSED}),
    _S.RECONNECTING: frozenset({_S.RECONNECTING, _S.CONNECTED, _S.FAILED, _S.CLOSED}),
    _S.FAILED: frozenset({_S.CLOSED}),
    _S.CLOSED: frozenset(),
}
RENEW_RETRY_AFTER = 30.0  # seconds (of the model's clock) before trying a failed renewal again


class ConnectionSettings(Protocol):
    """What the supervisor reads from the model: where and how to connect, retry and renew."""

    @property
    def label(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def headers(self) -> dict[str, str]: ...
    @property
    def secrets(self) -> tuple[str, ...]: ...
    @property
    def retry_policy(self) -> RetryPolicy: ...
    @property
    def connect_timeout(self) -> float: ...
    @property
    def heartbeat(self) -> float | None: ...
    @property
    def max_message_bytes(self) -> int: ...
    @property
    def renew_margin(self) -> float: ...
    @property
    def renew_check_interval(self) -> float: ...
    @property
    def clock(self) -> Callable[[], float]: ...


class SessionHooks(Protocol):
    """What the supervisor needs from the session it serves."""

    def opening(self) -> tuple[list[str], list[str]]:
        """The messages that configure a new connection (settings, history) and the item ids they create."""

    def installed(self, remote_ids: list[str], *, renewed: bool) -> None:
        """A new connection is in use; the server holds ``remote_ids``."""

    def dispatch(self, text: str) -> None:
        """Handle one server message."""

    def lost(self, err: ProviderError, reason: LossReason) -> None:
        """What was in flight is gone (responses, pending requests, half-sent audio)."""

    def quiet(self) -> bool:
        """No response in progress, no request pending, the user not speaking."""


class ConnectionSupervisor:
    """Owns the current :class:`Connection`, the connection state and the tasks that keep it alive."""

    def __init__(self, model: ConnectionSettings, hooks: SessionHooks,
                 emit: Callable[[rt.RealtimeEvent | None], None]) -> None:
        self._model = model
        self._provider = model.label
        self._hooks = hooks
        self._emit = emit
        self.state = ConnectionState.IDLE
        self._conn: Connection | None = None
        self._http: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._renewal: asyncio.Task[None] | None = None
        self._next_renew_try = 0.0
        self._expires_at: float | None = None
        self._forced: ProviderError | None = None  # why the application asked for a new connection
        self.connections = 0

    @property
    def live(self) -> Connection | None:
        """The connection to send on, or ``None`` unless connected."""
        return self._conn if self.state is ConnectionState.CONNECTED else None

    def _set_state(self, new: ConnectionState, *, attempt: int = 0, reason: str | None = None,
                   error: ProviderError | None = None) -> None:
        old = self.state
        if new not in _TRANSITIONS[old]:
            raise RuntimeError(f"realtime session cannot go from {old.value} to {new.value}")
        self.state = new
        detail = f" (attempt {attempt}: {reason})" if attempt else f" ({reason})" if reason else ""
        logger.info("%s: %s -> %s%s", self._provider, old.value, new.value, detail)
        self._emit(rt.ConnectionStateChanged(old, new, attempt=attempt, reason=reason, error=error))
        if new in (ConnectionState.FAILED, ConnectionState.CLOSED):
            self._emit(None)  # the end of the event stream

    # -- connecting -----------------------------------------------------------------------------
    async def connect(self) -> None:
        self._set_state(ConnectionState.CONNECTING)
        self._http = aiohttp.ClientSession()
        policy, attempt = self._model.retry_policy, 0
        while True:
            try:
                conn, remote = await self._open()
                break
            except ProviderError as e:
                if self.state is not ConnectionState.CONNECTING:
                    raise  # closed meanwhile
                if not e.retryable or attempt >= policy.max_retries:
                    self.fail(e)
                    await self._release()
                    raise
                attempt += 1
                delay = policy.delay(attempt)
                logger.warning("%s: connect failed (%s); retry %d/%d in %.2fs",
                               self._provider, e.message, attempt, policy.max_retries, delay)
                await asyncio.sleep(delay)
        if self.state is not ConnectionState.CONNECTING:
            await conn.close()
            raise ProviderError("the realtime session was closed while connecting", provider=self._provider,
                                retryable=False)
        self._install(conn, remote, renewed=False)
        self._set_state(ConnectionState.CONNECTED)
        self._spawn(self._supervise(), "supervisor")
        self._spawn(self._renew_loop(), "renew-timer")

    async def _open(self) -> tuple[Connection, list[str]]:
        """A new connection, configured and with the history re-created on it."""
        assert self._http is not None
        self.connections += 1
        conn = await open_connection(
            self._http, self._model.url, headers=self._model.headers, timeout=self._model.connect_timeout,
            heartbeat=self._model.heartbeat, provider=self._provider, secrets=self._model.secrets,
            name=f"realtime#{self.connections}", max_message_bytes=self._model.max_message_bytes,
        )
        messages, remote = self._hooks.opening()
        for text in messages:
            conn.send(text)
        return conn, remote

    def _install(self, conn: Connection, remote: list[str], *, renewed: bool) -> None:
        self._conn = conn
        expires = conn.created.expires_at
        self._expires_at = expires if expires is not None else self._model.clock() + 3600.0
        self._hooks.installed(remote, renewed=renewed)

    # -- reading and reconnecting ---------------------------------------------------------------
    async def _supervise(self) -> None:
        while self.state is ConnectionState.CONNECTED:
            conn = self._conn
            assert conn is not None
            async with contextlib.aclosing(conn.messages()) as messages:
                async for text in messages:
                    if conn is not self._conn:
                        break
                    self._hooks.dispatch(text)
                    if self.state is not ConnectionState.CONNECTED:
                        break
            if self.state is not ConnectionState.CONNECTED:
                break
            if conn is not self._conn:
                continue  # renewed: read the new connection
            info = conn.close_info()
            await conn.close()
            forced, self._forced = self._forced, None
            if forced is not None:
                err = forced
            elif info.client_error is not None:
                err = client_close_error(info.code or 1002, info.client_error, provider=self._provider)
            else:
                err = close_error(info.code, info.reason, provider=self._provider)
            if not err.retryable:
                self.fail(err)
                break
            self._conn = None
            self._hooks.lost(err, "connection_lost")
            await self._reconnect(err)
        if self.state is ConnectionState.FAILED:
            await self._release()

    async def _reconnect(self, cause: ProviderError) -> None:
        policy = self._model.retry_policy
        for attempt in range(1, policy.max_retries + 1):
            self._set_state(ConnectionState.RECONNECTING, attempt=attempt, reason=cause.message, error=cause)
            await asyncio.sleep(policy.delay(attempt))
            try:
                conn, remote = await self._open()
            except ProviderError as e:
                if not e.retryable:
                    self.fail(e)
                    return
                cause = e
                continue
            self._install(conn, remote, renewed=False)
            self._set_state(ConnectionState.CONNECTED, reason="reconnected")
            return
        self.fail(ProviderError(
            f"gave up reconnecting after {policy.max_retries} attempts; last error: {cause.message}",
            provider=self._provider, retryable=False, category=cause.category, code=cause.code,
        ))

    def force_reconnect(self, err: ProviderError) -> bool:
        """Drop the live connection and reconnect as after a network drop (``err`` says why, e.g. a
        stalled response). False when there is no live connection to drop."""
        conn = self.live
        if conn is None:
            return False
        logger.warning("%s: dropping the connection: %s", self._provider, err.message)
        self._forced = err
        self._spawn(conn.close(code=1000), "forced-close")
        return True

    # -- renewal before the server's session limit ----------------------------------------------
    async def _renew_loop(self) -> None:
        while True:
            await asyncio.sleep(self._model.renew_check_interval)
            self.maybe_renew()

    def maybe_renew(self) -> None:
        """Start a renewal if the session limit is near and the conversation is quiet."""
        if self._renewal is not None or self.state is not ConnectionState.CONNECTED or self._expires_at is None:
            return
        now = self._model.clock()
        if now < self._expires_at - self._model.renew_margin or now < self._next_renew_try:
            return
        if self._hooks.quiet():
            self._renewal = self._spawn(self._renew(), "renewal")

    async def _renew(self) -> None:
        try:
            logger.info("%s: renewing the connection before the session limit", self._provider)
            try:
                conn, remote = await self._open()
            except ProviderError as e:
                logger.warning("%s: renewal failed (%s); trying again later", self._provider, e.message)
                self._next_renew_try = self._model.clock() + RENEW_RETRY_AFTER
                return
            if self.state is not ConnectionState.CONNECTED or not self._hooks.quiet():
                await conn.close()  # the conversation moved on meanwhile: try at the next quiet moment
                return
            old = self._conn
            self._install(conn, remote, renewed=True)
            if old is not None:
                await old.close()
        finally:
            self._renewal = None

    # -- failing and closing --------------------------------------------------------------------
    def fail(self, err: ProviderError) -> None:
        """A fatal error: report it and stop (resources are released by the supervising task)."""
        if self.state in (ConnectionState.FAILED, ConnectionState.CLOSED):
            return
        logger.error("%s: realtime session failed: %s", self._provider, err.message)
        self._emit(rt.RealtimeErrorEvent(err, fatal=True))
        self._hooks.lost(err, "session_failed")
        self._set_state(ConnectionState.FAILED, reason=err.message, error=err)

    async def aclose(self) -> None:
        if self.state is ConnectionState.CLOSED:
            return
        self._set_state(ConnectionState.CLOSED, reason="closed by the application")
        self._hooks.lost(ProviderError("the realtime session was closed", provider=self._provider,
                                       retryable=False), "session_closed")
        await self._release()

    async def _release(self) -> None:
        """Cancel our tasks (except the caller), close the connection and the HTTP session."""
        me = asyncio.current_task()
        others = [t for t in self._tasks if t is not me]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)
        if self._conn is not None:
            await self._conn.close()
            self._conn = None
        if self._http is not None:
            await self._http.close()
            self._http = None

    def _spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=f"{self._provider}-{name}")
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("%s: task %s failed", self._provider, task.get_name(), exc_info=task.exception())
