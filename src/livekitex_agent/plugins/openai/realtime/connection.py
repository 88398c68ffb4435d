"""One websocket to the Realtime API: opening it (until ``session.created``), writing, closing,
and what its failures mean (:class:`ProviderError` with the right retryability)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass

import aiohttp

from ....errors import ErrorCategory, ProviderError, ProviderTimeoutError
from ....log import redact
from .protocol import FATAL_ERROR_CODES, ErrorEvent, ProtocolError, SessionCreated, parse_server_event

logger = logging.getLogger("livekitex_agent.plugins.openai.realtime")

# 1000 from the server is unexpected while the user still talks to us: treat it as retryable too.
RETRYABLE_CLOSE_CODES = frozenset({1000, 1001, 1006, 1011, 1012, 1013, 1014})
_CLOSE_NAMES = {1000: "normal", 1001: "going away", 1006: "abnormal closure", 1011: "server error",
                1012: "service restart", 1013: "try again later", 1008: "policy violation"}
_AUTH_CODES = frozenset({"invalid_api_key", "account_deactivated", "beta_api_shape_disabled"})
DEFAULT_MAX_MESSAGE_BYTES = 32 * 1024 * 1024


def server_error(ev: ErrorEvent, *, provider: str, secrets: tuple[str, ...] = ()) -> ProviderError:
    """A server ``error`` event as a :class:`ProviderError` (fatal codes are not retryable)."""
    code = ev.code or ev.error_type or "error"
    message = redact(f"{code}: {ev.message}" if ev.message else code, secrets)
    if ev.code in FATAL_ERROR_CODES:
        category = ErrorCategory.AUTHENTICATION if ev.code in _AUTH_CODES else ErrorCategory.QUOTA
        return ProviderError(message, provider=provider, retryable=False, category=category, code=ev.code)
    if ev.error_type == "server_error":
        return ProviderError(message, provider=provider, retryable=True, category=ErrorCategory.SERVER, code=ev.code)
    if ev.code and "rate_limit" in ev.code:
        return ProviderError(message, provider=provider, retryable=True, category=ErrorCategory.RATE_LIMIT,
                             code=ev.code)
    return ProviderError(message, provider=provider, retryable=False, category=ErrorCategory.BAD_REQUEST,
                         code=ev.code)


def handshake_error(status: int, *, provider: str) -> ProviderError:
    """The websocket upgrade was refused with HTTP ``status``."""
    message = f"websocket handshake refused with HTTP {status}"
    if status in (401, 403):
        return ProviderError(message, provider=provider, retryable=False, category=ErrorCategory.AUTHENTICATION,
                             status_code=status)
    if status == 429:
        return ProviderError(message, provider=provider, retryable=True, category=ErrorCategory.RATE_LIMIT,
                             status_code=status)
    if status >= 500 or status == 408:
        return ProviderError(message, provider=provider, retryable=True, category=ErrorCategory.SERVER,
                             status_code=status)
    return ProviderError(message, provider=provider, retryable=False, category=ErrorCategory.BAD_REQUEST,
                         status_code=status)


def close_error(code: int | None, reason: str | None, *, provider: str) -> ProviderError:
    """The server closed the socket (``code`` None: the connection was lost without a close frame)."""
    code = 1006 if code is None else code
    name = _CLOSE_NAMES.get(code, "close")
    text = f"connection closed by the server (code {code} {name}" + (f": {reason})" if reason else ")")
    return ProviderError(text, provider=provider, retryable=code in RETRYABLE_CLOSE_CODES,
                         category=ErrorCategory.CONNECTION, code=f"ws_close_{code}")


def client_close_error(code: int, detail: str, *, provider: str) -> ProviderError:
    """We closed the socket ourselves because of what the server sent (e.g. 1009: a message over our limit).

    Retryable: a new connection starts clean, and the turn in flight is asked for again.
    """
    name = "message too big" if code == 1009 else _CLOSE_NAMES.get(code, "protocol error")
    return ProviderError(f"connection closed by the client (code {code} {name}: {detail})", provider=provider,
                         retryable=True, category=ErrorCategory.CONNECTION, code=f"ws_client_close_{code}")


@dataclass
class CloseInfo:
    code: int | None
    reason: str | None
    client_error: str | None = None  # set when the client closed the socket because of a bad message


class Connection:
    """An open websocket plus the task that writes to it, in the order messages were sent."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, created: SessionCreated, *, name: str) -> None:
        self.ws = ws
        self.created = created
        self.name = name
        self.opened_at = asyncio.get_running_loop().time()
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._closing = False
        self._close_reason: str | None = None
        self._client_error: str | None = None
        self._writer = asyncio.create_task(self._write_loop(), name=f"{name}-writer")

    def send(self, text: str) -> None:
        """Queue a message; it is written after every message queued before it."""
        if not self._closing:
            self._queue.put_nowait(text)

    async def _write_loop(self) -> None:
        while True:
            text = await self._queue.get()
            if text is None:
                return
            try:
                await self.ws.send_str(text)
            except (ConnectionError, aiohttp.ClientError, RuntimeError) as e:
                # the reader sees the close and decides what to do; queued messages are dropped
                logger.debug("%s: write failed (%s); %d queued messages dropped", self.name, e, self._queue.qsize())
                return

    async def messages(self) -> AsyncGenerator[str, None]:
        """Text messages until the socket closes (then see :meth:`close_info`)."""
        while True:
            msg = await self.ws.receive()
            if msg.type is aiohttp.WSMsgType.TEXT:
                yield msg.data
            elif msg.type is aiohttp.WSMsgType.BINARY:
                logger.debug("%s: ignoring a binary message of %d bytes", self.name, len(msg.data))
            elif msg.type is aiohttp.WSMsgType.CLOSE:
                self._close_reason = msg.extra or None
                return
            elif msg.type is aiohttp.WSMsgType.ERROR and isinstance(msg.data, aiohttp.WebSocketError):
                # aiohttp closed the socket itself (1009: a message over max_msg_size, 1002: bad frame)
                self._client_error = str(msg.data) or type(msg.data).__name__
                return
            else:  # CLOSING, CLOSED, other errors
                return

    def close_info(self) -> CloseInfo:
        return CloseInfo(self.ws.close_code, self._close_reason, self._client_error)

    async def close(self, code: int = 1000) -> None:
        if self._closing:
            return
        self._closing = True
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2.0):
                await self.ws.close(code=code)


async def open_connection(
    http: aiohttp.ClientSession,
    url: str,
    *,
    headers: Mapping[str, str],
    timeout: float,
    heartbeat: float | None,
    provider: str,
    secrets: tuple[str, ...],
    name: str,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
) -> Connection:
    """Connect and wait for ``session.created``. Raises :class:`ProviderError`."""
    ws: aiohttp.ClientWebSocketResponse | None = None
    try:
        async with asyncio.timeout(timeout):
            ws = await http.ws_connect(url, headers=headers, heartbeat=heartbeat,
                                     max_msg_size=max_message_bytes)
            while True:
                msg = await ws.receive()
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    if msg.type is aiohttp.WSMsgType.BINARY:
                        continue
                    raise close_error(ws.close_code, msg.extra if isinstance(msg.extra, str) else None,
                                      provider=provider)
                try:
                    ev = parse_server_event(msg.data)
                except ProtocolError as e:
                    logger.warning("%s: skipping a malformed message while connecting: %s", name, e)
                    continue
                if isinstance(ev, SessionCreated):
                    return Connection(ws, ev, name=name)
                if isinstance(ev, ErrorEvent):
                    raise server_error(ev, provider=provider, secrets=secrets)
                logger.debug("%s: %s before session.created, ignored", name, type(ev).__name__)
    except aiohttp.WSServerHandshakeError as e:
        raise handshake_error(e.status, provider=provider) from None
    except TimeoutError:
        await _abort(ws)
        raise ProviderTimeoutError(f"no session.created within {timeout:g}s", provider=provider) from None
    except (ProviderError, asyncio.CancelledError):
        await _abort(ws)
        raise
    except (aiohttp.ClientError, OSError) as e:
        await _abort(ws)
        raise ProviderError(
            f"connection failed: {redact(str(e) or type(e).__name__, secrets)}",
            provider=provider, retryable=True, category=ErrorCategory.CONNECTION,
        ) from None


async def _abort(ws: aiohttp.ClientWebSocketResponse | None) -> None:
    if ws is not None and not ws.closed:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):
                await ws.close()
