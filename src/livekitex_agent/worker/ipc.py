"""Messages between the main worker process and its job processes, and the channel carrying them.

A channel is one end of a ``socketpair``; each message is a small dataclass, pickled and framed
with a 4-byte length. Both ends are asyncio streams, so neither side ever blocks its loop.
"""

from __future__ import annotations

import asyncio
import pickle
import socket
import struct
from dataclasses import dataclass, field
from typing import Any

from ..metrics import TurnMetrics

MAX_MESSAGE_BYTES = 16 * 1024 * 1024
_HEADER = struct.Struct("!I")

# ------------------------------------------------------------ main → job process


@dataclass(frozen=True)
class StartJob:
    job: bytes  # serialized livekit.protocol.agent.Job
    url: str
    token: str = field(repr=False)
    identity: str = ""
    name: str = ""
    metadata: str = ""
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ShutdownJob:
    job_id: str
    reason: str


@dataclass(frozen=True)
class Ping:
    seq: int


@dataclass(frozen=True)
class Exit:
    """End every job (callbacks run), then exit."""

    reason: str


# ------------------------------------------------------------ job process → main


@dataclass(frozen=True)
class ProcessReady:
    pid: int
    error: str = ""  # non-empty: prewarm failed, the process is unusable


@dataclass(frozen=True)
class Pong:
    seq: int


@dataclass(frozen=True)
class JobRunning:
    job_id: str


@dataclass(frozen=True)
class JobEnded:
    job_id: str
    status: int
    error: str = ""
    reason: str = ""


@dataclass(frozen=True)
class TurnMetricsObserved:
    job_id: str
    metrics: TurnMetrics


Message = (
    StartJob | ShutdownJob | Ping | Exit | ProcessReady | Pong | JobRunning | JobEnded | TurnMetricsObserved
)


def encode(msg: Any) -> bytes:
    payload = pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL)
    if len(payload) > MAX_MESSAGE_BYTES:
        raise ValueError(f"IPC message {type(msg).__name__} is too large ({len(payload)} bytes)")
    return _HEADER.pack(len(payload)) + payload


class Channel:
    """A framed, pickled message stream over a connected socket."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    @classmethod
    async def open(cls, sock: socket.socket) -> Channel:
        sock.setblocking(False)
        reader, writer = await asyncio.open_unix_connection(sock=sock)
        return cls(reader, writer)

    def send(self, msg: Any) -> None:
        """Queue ``msg`` (never blocks; a closed peer surfaces as EOF on :meth:`recv`)."""
        if not self._writer.is_closing():
            self._writer.write(encode(msg))

    async def drain(self) -> None:
        if not self._writer.is_closing():
            await self._writer.drain()

    async def recv(self) -> Any:
        """The next message; raises ``EOFError`` when the peer is gone."""
        try:
            header = await self._reader.readexactly(_HEADER.size)
            (size,) = _HEADER.unpack(header)
            if size > MAX_MESSAGE_BYTES:
                raise EOFError(f"IPC frame too large ({size} bytes)")
            payload = await self._reader.readexactly(size)
        except (asyncio.IncompleteReadError, ConnectionError) as e:
            raise EOFError("IPC peer closed") from e
        return pickle.loads(payload)

    def close(self) -> None:
        """Close without waiting (for cleanup paths that cannot await)."""
        if not self._writer.is_closing():
            self._writer.close()

    async def aclose(self) -> None:
        if not self._writer.is_closing():
            self._writer.close()
        try:
            await self._writer.wait_closed()
        except (ConnectionError, OSError):
            pass
