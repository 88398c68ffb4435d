"""The worker's HTTP endpoints: ``GET /`` health, ``GET /worker`` status JSON, ``GET /metrics`` Prometheus."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .. import __version__
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
        return web.json_response(worker_status(self._worker))

    async def _metrics(self, request: web.Request) -> web.Response:
        w = self._worker
        w.metrics.load.set(w.manager.load())
        w.metrics.active_jobs.set(len(w.manager.running_jobs))
        w.metrics.processes.set(0 if w.manager.in_process else len(w.manager.hosts))
        w.metrics.connected.set(1 if w.connected else 0)
        return web.Response(body=w.metrics.render(), headers={"Content-Type": CONTENT_TYPE})


def worker_status(worker: Worker) -> dict[str, Any]:
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
