"""The worker's HTTP endpoints: ``GET /`` health, ``GET /worker`` status JSON, ``GET /metrics`` Prometheus.

In ``dev`` mode it also serves the browser playground and its dev-only token endpoint under
``/playground/`` (loopback only; never in ``start`` mode).
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from aiohttp import web

from .. import __version__
from ..config import WorkerSettings
from ..playground import PLAYGROUND_PATH, PlaygroundConfig, add_playground_routes, is_loopback_host
from .manager import WorkerManager
from .metrics import CONTENT_TYPE, WorkerMetrics
from .options import WorkerOptions

logger = logging.getLogger("livekitex_agent.worker.http")


class ServedWorker(Protocol):
    """What the HTTP endpoints read from the worker (the :class:`~.worker.Worker` provides it)."""

    @property
    def worker_id(self) -> str: ...
    @property
    def agent_name(self) -> str: ...
    @property
    def connected(self) -> bool: ...
    @property
    def draining(self) -> bool: ...
    @property
    def options(self) -> WorkerOptions: ...
    @property
    def settings(self) -> WorkerSettings: ...
    @property
    def manager(self) -> WorkerManager: ...
    @property
    def metrics(self) -> WorkerMetrics: ...
    def health_problem(self) -> str: ...


class WorkerHttpServer:
    """Serves one worker's health, status and metrics (``port=0`` picks a free port).

    With ``playground=True`` (``dev`` mode) and a loopback ``host`` it also serves the playground page
    and mints room tokens for it with the worker's key; :attr:`playground_url` is then its address.
    """

    def __init__(self, worker: ServedWorker, host: str, port: int, *, playground: bool = False) -> None:
        self._worker = worker
        self._host = host
        self._port = port
        self._playground = playground
        self._runner: web.AppRunner | None = None
        self.port: int | None = None
        self.playground_url: str | None = None

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024)
        app.router.add_get("/", self._health)
        app.router.add_get("/worker", self._status)
        app.router.add_get("/metrics", self._metrics)
        playground = self._playground and self._playground_allowed()
        if playground:
            s = self._worker.settings
            add_playground_routes(app, PlaygroundConfig(s.ws_url, s.api_key, s.api_secret, s.agent_name))
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        addresses = self._runner.addresses
        self.port = int(addresses[0][1]) if addresses else self._port
        logger.info("worker HTTP on http://%s:%s (/ health, /worker, /metrics)", self._host, self.port)
        if playground:
            host = f"[{self._host}]" if ":" in self._host else self._host
            self.playground_url = f"http://{host}:{self.port}{PLAYGROUND_PATH}"
            logger.info("playground: open %s to talk to the agent", self.playground_url)

    def _playground_allowed(self) -> bool:
        if is_loopback_host(self._host):
            return True
        logger.warning(
            "playground off: the worker's HTTP server listens on %s, and the playground's token "
            "endpoint only runs on a loopback address (--http-host 127.0.0.1)",
            self._host,
        )
        return False

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
        return web.json_response(worker_status(self._worker))

    async def _metrics(self, request: web.Request) -> web.Response:
        w = self._worker
        w.metrics.load.set(w.manager.load())
        w.metrics.active_jobs.set(len(w.manager.running_jobs))
        w.metrics.processes.set(0 if w.manager.in_process else len(w.manager.hosts))
        w.metrics.connected.set(1 if w.connected else 0)
        return web.Response(body=w.metrics.render(), headers={"Content-Type": CONTENT_TYPE})


def worker_status(worker: ServedWorker) -> dict[str, Any]:
    """What ``GET /worker`` returns."""
    manager = worker.manager
    jobs = []
    for job in manager.running_jobs:
        record = manager.job(job.id)
        host = record.host if record else None
        jobs.append(
            {
                "id": job.id,
                "room": job.room.name,
                "running": bool(record and record.running_at is not None),
                "pid": host.pid if host else None,
            }
        )
    return {
        "id": worker.worker_id,
        "agent_name": worker.agent_name,
        "version": __version__,
        "agent_version": worker.options.version,
        "connected": worker.connected,
        "draining": worker.draining,
        "load": round(manager.load(), 4),
        "load_threshold": worker.settings.load_threshold,
        "job_count": manager.job_count,
        "capacity": manager.capacity,
        "executor": worker.options.executor,
        "jobs": jobs,
        "processes": [
            {"pid": h.pid, "jobs": len(h.job_ids), "memory_mb": round(h.memory_mb(), 1)}
            for h in manager.hosts
            if not manager.in_process
        ],
    }
