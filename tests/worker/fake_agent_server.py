"""A scripted stand-in for livekit-server's ``/agent`` endpoint, for deterministic worker tests.

It speaks the same binary protobuf messages (shapes recorded from livekit-server 1.13.4) and lets a
test send offers, assignments and terminations, read what the worker sent, and drop the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiohttp import WSMsgType, web
from livekit.protocol import agent as pa
from livekit.protocol import models

from livekitex_agent.worker import protocol as proto


class FakeAgentServer:
    def __init__(self) -> None:
        self.messages: asyncio.Queue[tuple[int, pa.WorkerMessage]] = asyncio.Queue()
        self.all_messages: list[pa.WorkerMessage] = []
        self.auth_headers: list[str] = []
        self.registrations = 0
        self.reject_auth = False
        self._ws: web.WebSocketResponse | None = None
        self._runner: web.AppRunner | None = None
        self._connected = asyncio.Event()
        self.url = ""

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/agent", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"ws://127.0.0.1:{self._runner.addresses[0][1]}"
        return self.url

    async def aclose(self) -> None:
        await self.drop()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.auth_headers.append(request.headers.get("Authorization", ""))
        if self.reject_auth:
            return web.Response(status=401, text="invalid token")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._ws = ws
        conn = self.registrations + 1
        async for msg in ws:
            if msg.type != WSMsgType.BINARY:
                continue
            wm = proto.parse_worker_message(msg.data)
            self.all_messages.append(wm)
            if wm.WhichOneof("message") == "register":
                self.registrations += 1
                reply = pa.ServerMessage(
                    register=pa.RegisterWorkerResponse(
                        worker_id=f"AW_FAKE_{self.registrations}",
                        server_info=models.ServerInfo(version="1.13.4", agent_protocol=1),
                    )
                )
                await ws.send_bytes(reply.SerializeToString())
                self._connected.set()
            await self.messages.put((conn, wm))
        if self._ws is ws:
            self._ws = None
            self._connected.clear()
        return ws

    async def wait_connected(self, timeout: float = 10.0) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout)

    async def send(self, msg: pa.ServerMessage) -> None:
        assert self._ws is not None, "no worker connected"
        await self._ws.send_bytes(msg.SerializeToString())

    async def drop(self) -> None:
        ws, self._ws = self._ws, None
        self._connected.clear()
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()

    async def next(self, kind: str, timeout: float = 10.0, **match: Any) -> pa.WorkerMessage:
        """The next message of ``kind`` (``register``, ``availability``, ``update_job``...) whose fields match."""
        async with asyncio.timeout(timeout):
            while True:
                _, msg = await self.messages.get()
                if msg.WhichOneof("message") != kind:
                    continue
                body = getattr(msg, kind)
                if all(getattr(body, k) == v for k, v in match.items()):
                    return msg

    async def offer(self, job: pa.Job) -> pa.AvailabilityResponse:
        await self.send(pa.ServerMessage(availability=pa.AvailabilityRequest(job=job)))
        return (await self.next("availability", job_id=job.id)).availability

    async def assign(self, job: pa.Job, token: str = "fake-room-token") -> None:
        await self.send(pa.ServerMessage(assignment=pa.JobAssignment(job=job, token=token)))

    async def terminate(self, job_id: str) -> None:
        await self.send(pa.ServerMessage(termination=pa.JobTermination(job_id=job_id)))


def make_job(job_id: str, room: str = "", metadata: str = "", agent_name: str = "") -> pa.Job:
    return pa.Job(
        id=job_id,
        type=pa.JT_ROOM,
        room=models.Room(sid=f"RM_{job_id}", name=room or f"room-{job_id}"),
        metadata=metadata,
        agent_name=agent_name,
    )
