"""The worker's HTTP endpoints: ``GET /`` health, ``GET /worker`` status JSON, ``GET /metrics`` Prometheus."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiohttp import web

from .metrics import CONTENT_TYPE

if TYPE_CHECKING:
    from .worker import Worker

logger = logging.getLogger("livekitex_agent.worker.http")


class WorkerHttpServer:
    """Serves one worker's health, status and metrics (``port=0`` picks a free port)."""

    def __init__(self, worker: Worker, host: str, port: int) -> None:
        self._worker = worker
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/", self._health)
        app.router.add_get("/worker", self._status)
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        addresses = self._runner.addresses
        self.port = int(addresses[0][1]) if addresses else self._port
        logger.info("worker HTTP on http://%s:%s (/ health, /worker, /metrics)", self._host, self.port)

    async def aclose(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _health(self, request: web.Request) -> web.Response:
        problem = self._worker.health_problem()
        if problem:
            return web.Response(status=503, text=problem + "\n")
        return web.Response(text="OK\n")

    async def _status(self, request: web.Request) -> web.Response:
        return web.json_response(self._worker.status_snapshot())

    async def _metrics(self, request: web.Request) -> web.Response:
        self._worker.refresh_gauges()
        body = self._worker.metrics.render()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})
