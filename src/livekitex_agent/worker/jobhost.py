"""Runs a process's jobs on its event loop (used in job processes and by the in-process executor)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from ..metrics import TurnMetrics
from .job import JobContext, JobInfo, JobOutcome, JobProcess, run_job
from .options import Entrypoint
from .protocol import JS_FAILED

logger = logging.getLogger("livekitex_agent.worker")


class JobHost:
    """Owns the job tasks of one process; reports each job's start, end and turn metrics."""

    def __init__(
        self,
        proc: JobProcess,
        entrypoint: Entrypoint,
        *,
        shutdown_timeout: float,
        on_running: Callable[[str], None],
        on_ended: Callable[[str, JobOutcome], None],
        on_metrics: Callable[[str, TurnMetrics], None],
    ) -> None:
        self.proc = proc
        self._entrypoint = entrypoint
        self._shutdown_timeout = shutdown_timeout
        self._on_running = on_running
        self._on_ended = on_ended
        self._on_metrics = on_metrics
        self._contexts: dict[str, JobContext] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._closing = False

    def start(self, info: JobInfo) -> None:
        job_id = info.job.id
        if self._closing:
            self._on_ended(job_id, JobOutcome(JS_FAILED, "job process is shutting down"))
            return
        if job_id in self._tasks:
            logger.warning("job %s is already running here: duplicate start ignored", job_id)
            return
        self._tasks[job_id] = asyncio.create_task(self._run(info), name=f"job-host-{job_id}")

    def shutdown(self, job_id: str, reason: str) -> None:
        ctx = self._contexts.get(job_id)
        if ctx is not None:
            ctx.shutdown(reason)

    async def _run(self, info: JobInfo) -> None:
        job_id = info.job.id
        try:
            ctx = JobContext(info, self.proc, metrics_sink=lambda m: self._on_metrics(job_id, m))
            self._contexts[job_id] = ctx
            outcome = await run_job(
                ctx,
                self._entrypoint,
                shutdown_timeout=self._shutdown_timeout,
                on_running=lambda: self._on_running(job_id),
            )
        except asyncio.CancelledError:
            outcome = JobOutcome(JS_FAILED, "job cancelled while shutting down", "cancelled")
        except Exception as e:  # a bug in the job machinery, not in the entrypoint
            logger.exception("job %s could not run", job_id)
            outcome = JobOutcome(JS_FAILED, f"{type(e).__name__}: {e}")
        finally:
            self._contexts.pop(job_id, None)
            self._tasks.pop(job_id, None)
        self._on_ended(job_id, outcome)

    async def aclose(self, reason: str, timeout: float) -> None:
        """Shut every job down; jobs still running after ``timeout`` are cancelled (and reported failed)."""
        self._closing = True
        for ctx in list(self._contexts.values()):
            ctx.shutdown(reason)
        tasks = list(self._tasks.values())
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            logger.warning("%d job(s) did not end within %.1fs: cancelled", len(pending), timeout)
            await asyncio.wait(pending)
