"""The main process's handles on the places jobs run: a job process, or the worker's own loop.

Both kinds offer the same small interface to :class:`~.manager.WorkerManager`: start, launch a
job, shut a job down, close, kill, and report each job's start/end and turn metrics through
:class:`HostCallbacks`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from dataclasses import dataclass
from multiprocessing.context import BaseContext
from typing import Any, Protocol

import psutil

from ..metrics import TurnMetrics
from . import ipc
from .job import JobInfo, JobOutcome, JobProcess
from .jobhost import JobHost
from .proc_child import ProcessInit, _prewarm, process_main
from .protocol import JS_FAILED

logger = logging.getLogger("livekitex_agent.worker.pool")

_MB = 1024 * 1024


class ProcessStartError(RuntimeError):
    """A job process could not start or its prewarm failed."""


@dataclass
class HostCallbacks:
    on_running: Any  # (host, job_id) -> None
    on_ended: Any  # (host, job_id, JobOutcome) -> None
    on_metrics: Any  # (job_id, TurnMetrics) -> None
    on_gone: Any  # (host) -> None


class Host(Protocol):
    index: int
    job_ids: set[str]

    @property
    def pid(self) -> int: ...
    @property
    def ready(self) -> bool: ...
    @property
    def alive(self) -> bool: ...
    async def start(self) -> None: ...
    async def wait_ready(self) -> None: ...
    def launch(self, info: JobInfo) -> None: ...
    def shutdown_job(self, job_id: str, reason: str) -> None: ...
    async def aclose(self, reason: str, timeout: float) -> None: ...
    def kill(self, reason: str) -> None: ...
    def retire(self) -> None: ...
    def cpu_percent(self) -> float: ...
    def memory_mb(self) -> float: ...


class InProcessHost:
    """Runs jobs on the worker's own event loop (no isolation: for tests and development)."""

    def __init__(self, index: int, init: ProcessInit, callbacks: HostCallbacks) -> None:
        self.index = index
        self.job_ids: set[str] = set()
        self._init = init
        self._cb = callbacks
        self._proc = JobProcess(executor="inprocess")
        self._ready = asyncio.Event()
        self._host = JobHost(
            self._proc,
            init.entrypoint,
            shutdown_timeout=init.shutdown_timeout,
            on_running=lambda job_id: self._cb.on_running(self, job_id),
            on_ended=self._ended,
            on_metrics=lambda job_id, m: self._cb.on_metrics(job_id, m),
        )
        self._closed = False

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    @property
    def alive(self) -> bool:
        return not self._closed

    @property
    def proc(self) -> JobProcess:
        return self._proc

    async def start(self) -> None:
        error = await _prewarm(self._init.prewarm_fnc, self._proc)
        if error:
            raise ProcessStartError(error)
        self._ready.set()

    async def wait_ready(self) -> None:
        await self._ready.wait()

    def launch(self, info: JobInfo) -> None:
        self.job_ids.add(info.job.id)
        self._host.start(info)

    def shutdown_job(self, job_id: str, reason: str) -> None:
        self._host.shutdown(job_id, reason)

    def _ended(self, job_id: str, outcome: JobOutcome) -> None:
        self.job_ids.discard(job_id)
        self._cb.on_ended(self, job_id, outcome)

    async def aclose(self, reason: str, timeout: float) -> None:
        self._closed = True
        await self._host.aclose(reason, timeout)

    def retire(self) -> None:
        self._closed = True

    def kill(self, reason: str) -> None:
        self._closed = True
        for job_id in list(self.job_ids):
            self._host.shutdown(job_id, reason)

    def cpu_percent(self) -> float:
        return 0.0  # counted with the main process

    def memory_mb(self) -> float:
        return 0.0


class ProcessHost:
    """One job process: started from a forkserver/spawn context, pinged, watched for memory, killed if stuck."""

    def __init__(
        self,
        index: int,
        mp_context: BaseContext,
        init: ProcessInit,
        callbacks: HostCallbacks,
        *,
        initialize_timeout: float,
        ping_interval: float,
        ping_timeout: float,
        memory_warn_mb: float,
        memory_limit_mb: float,
    ) -> None:
        self.index = index
        self.job_ids: set[str] = set()
        self._mp = mp_context
        self._init = init
        self._cb = callbacks
        self._initialize_timeout = initialize_timeout
        self._ping_interval = ping_interval
        self._ping_timeout = ping_timeout
        self._memory_warn_mb = memory_warn_mb
        self._memory_limit_mb = memory_limit_mb
        self._process: Any = None
        self._ps: psutil.Process | None = None
        self._chan: ipc.Channel | None = None
        self._parent_sock: socket.socket | None = None
        self._ready = asyncio.Event()
        self._gone = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._monitor_task: asyncio.Task[None] | None = None
        self._pid = 0
        self._last_pong = 0.0
        self._seq = 0
        self._kill_reason = ""
        self._memory_warned = False
        self._closing = False

    @property
    def pid(self) -> int:
        return self._pid

    @property
    def ready(self) -> bool:
        return self._ready.is_set() and not self._gone.is_set()

    @property
    def alive(self) -> bool:
        return not self._gone.is_set() and not self._closing

    async def start(self) -> None:
        try:
            await self._start()
        except BaseException:
            self._gone.set()
            if self._chan is not None:
                self._chan.close()
            elif self._parent_sock is not None:
                self._parent_sock.close()
            if self._process is not None and self._process.pid is not None and self._process.exitcode is None:
                with contextlib.suppress(ProcessLookupError):
                    self._process.kill()
            raise

    async def _start(self) -> None:
        parent_sock, child_sock = socket.socketpair()
        self._parent_sock = parent_sock
        try:
            self._process = self._mp.Process(  # type: ignore[attr-defined]
                target=process_main, args=(child_sock, self._init), name=f"livekitex-job-{self.index}"
            )
            await asyncio.to_thread(self._process.start)
        finally:
            child_sock.close()
        self._pid = self._process.pid
        self._chan = await ipc.Channel.open(parent_sock)
        try:
            msg = await asyncio.wait_for(self._chan.recv(), self._initialize_timeout)
        except (EOFError, TimeoutError) as e:
            self._process.kill()
            await self._reap()
            why = "timed out" if isinstance(e, TimeoutError) else f"exited (code {self._process.exitcode})"
            raise ProcessStartError(f"job process {self._pid} {why} before it was ready") from None
        if not isinstance(msg, ipc.ProcessReady) or msg.error:
            await self._reap()
            raise ProcessStartError(getattr(msg, "error", "") or f"unexpected first message {msg!r}")
        with contextlib.suppress(psutil.Error):
            self._ps = psutil.Process(self._pid)
            self._ps.cpu_percent(None)
        self._last_pong = time.monotonic()
        self._monitor_task = asyncio.create_task(self._monitor_loop(), name=f"job-proc-{self._pid}-monitor")
        self._tasks = [
            asyncio.create_task(self._read_loop(), name=f"job-proc-{self._pid}-read"),
            self._monitor_task,
        ]
        self._ready.set()
        logger.debug("job process %d ready", self._pid)

    async def wait_ready(self) -> None:
        waiters = [asyncio.ensure_future(self._ready.wait()), asyncio.ensure_future(self._gone.wait())]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()
        if not self.ready:
            raise ProcessStartError(f"job process {self.index} is gone")

    def launch(self, info: JobInfo) -> None:
        assert self._chan is not None
        self.job_ids.add(info.job.id)
        a = info.accept
        self._chan.send(
            ipc.StartJob(
                info.job.SerializeToString(),
                info.url,
                info.token,
                a.identity,
                a.name,
                a.metadata,
                a.attributes,
            )
        )

    def shutdown_job(self, job_id: str, reason: str) -> None:
        if self._chan is not None and job_id in self.job_ids:
            self._chan.send(ipc.ShutdownJob(job_id, reason))

    async def _read_loop(self) -> None:
        assert self._chan is not None
        try:
            while True:
                msg = await self._chan.recv()
                if isinstance(msg, ipc.Pong):
                    self._last_pong = time.monotonic()
                elif isinstance(msg, ipc.JobRunning):
                    self._cb.on_running(self, msg.job_id)
                elif isinstance(msg, ipc.JobEnded):
                    self.job_ids.discard(msg.job_id)
                    self._cb.on_ended(self, msg.job_id, JobOutcome(msg.status, msg.error, msg.reason))
                elif isinstance(msg, ipc.TurnMetricsObserved) and isinstance(msg.metrics, TurnMetrics):
                    self._cb.on_metrics(msg.job_id, msg.metrics)
        except EOFError:
            pass
        except Exception:
            logger.exception("job process %d: bad IPC message; stopping it", self._pid)
            self._process.kill()
        if self._monitor_task is not None:
            self._monitor_task.cancel()
        await self._reap()
        reason = self._kill_reason or f"job process {self._pid} exited (code {self._process.exitcode})"
        for job_id in list(self.job_ids):
            self.job_ids.discard(job_id)
            self._cb.on_ended(self, job_id, JobOutcome(JS_FAILED, reason, "process gone"))
        if not self._closing or self._kill_reason:
            logger.log(logging.ERROR if self._kill_reason else logging.WARNING, "%s", reason)
        self._gone.set()
        self._cb.on_gone(self)

    async def _reap(self) -> None:
        if self._process is not None:
            await asyncio.to_thread(self._process.join, 5.0)
            if self._process.exitcode is None:
                self._process.kill()
                await asyncio.to_thread(self._process.join, 5.0)
        if self._chan is not None:
            await self._chan.aclose()

    async def _monitor_loop(self) -> None:
        assert self._chan is not None
        while not self._gone.is_set():
            self._seq += 1
            self._chan.send(ipc.Ping(self._seq))
            await asyncio.sleep(self._ping_interval)
            silent = time.monotonic() - self._last_pong
            if silent > self._ping_timeout:
                self.kill(f"job process {self._pid} unresponsive for {silent:.1f}s: killed, its jobs failed")
                return
            self._check_memory()

    def _check_memory(self) -> None:
        mb = self.memory_mb()
        if self._memory_limit_mb and mb > self._memory_limit_mb:
            self.kill(
                f"job process {self._pid} uses {mb:.0f} MB, over the limit of "
                f"{self._memory_limit_mb:.0f} MB: killed, its jobs failed"
            )
        elif self._memory_warn_mb and mb > self._memory_warn_mb and not self._memory_warned:
            self._memory_warned = True
            logger.warning(
                "job process %d uses %.0f MB (warning at %.0f MB)", self._pid, mb, self._memory_warn_mb
            )
        elif self._memory_warn_mb and mb < self._memory_warn_mb * 0.9:
            self._memory_warned = False

    def retire(self) -> None:
        """Take no new jobs (the pool is about to close this process)."""
        self._closing = True

    async def aclose(self, reason: str, timeout: float) -> None:
        """Ask the process to end its jobs and exit; kill it after ``timeout``."""
        if self._gone.is_set():
            return
        self._closing = True
        if not self._ready.is_set():  # still starting: let it finish, then stop it
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.wait_ready(), timeout)
        if self._chan is not None and self.ready:
            self._chan.send(ipc.Exit(reason))
        try:
            await asyncio.wait_for(self._gone.wait(), timeout)
        except TimeoutError:
            self.kill(f"job process {self._pid} did not exit within {timeout:.1f}s: killed")
            try:
                await asyncio.wait_for(self._gone.wait(), 10.0)
            except TimeoutError:
                logger.error("job process %d could not be stopped", self._pid)
                self._gone.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def kill(self, reason: str) -> None:
        if self._process is not None and self._process.exitcode is None and not self._kill_reason:
            self._kill_reason = reason
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()

    def cpu_percent(self) -> float:
        if self._ps is None or self._gone.is_set():
            return 0.0
        try:
            return float(self._ps.cpu_percent(None))
        except psutil.Error:
            return 0.0

    def memory_mb(self) -> float:
        if self._ps is None or self._gone.is_set():
            return 0.0
        try:
            return float(self._ps.memory_info().rss) / _MB
        except psutil.Error:
            return 0.0


def main_process_cpu() -> psutil.Process:
    proc = psutil.Process(os.getpid())
    proc.cpu_percent(None)
    return proc
