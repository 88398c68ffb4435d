"""WorkerManager: where jobs run, how many fit, and how loaded the worker is.

In ``process`` mode it keeps a pool of prewarmed job processes; each hosts up to
``jobs_per_process`` jobs on its own event loop. New jobs are packed into the busiest process
that still has room (fewer processes, less memory), and ``num_idle_processes`` empty processes
are kept ready. In ``inprocess`` mode every job runs on the caller's loop.

load = max(CPU share of our processes, (running + accepted jobs) / capacity).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import multiprocessing
import os
import pickle
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from livekit.protocol import agent as pa

from ..config import WorkerSettings
from ..errors import ConfigError
from ..metrics import TurnMetrics
from .hosts import Host, HostCallbacks, InProcessHost, ProcessHost, main_process_cpu
from .job import JobInfo, JobOutcome, JobProcess
from .options import WorkerOptions
from .proc_child import ProcessInit
from .protocol import JS_FAILED

logger = logging.getLogger("livekitex_agent.worker.pool")

CPU_SAMPLES = 4  # load's CPU share is the mean of the last samples (one per status update) ...
MIN_CPU_INTERVAL = 1.0  # ... each over at least this many seconds (0 until the first one)
MAX_START_FAILURES = 3  # consecutive process start failures before the pool reports itself broken
LOCAL_PRELOAD = "livekitex_agent.plugins.local.forkserver_preload"  # named, not imported: a higher layer


@dataclass
class ManagedJob:
    info: JobInfo
    host: Host | None
    accepted_at: float  # monotonic, when the offer was accepted
    running_at: float | None = None


@dataclass
class ManagerCallbacks:
    on_running: Callable[[str, ManagedJob], None] = lambda job_id, job: None
    on_ended: Callable[[str, JobOutcome, ManagedJob], None] = lambda job_id, outcome, job: None
    on_metrics: Callable[[str, TurnMetrics], None] = lambda job_id, m: None


@dataclass
class _Reservation:
    expires_at: float
    accepted_at: float = field(default_factory=time.monotonic)


class WorkerManager:
    """A pool of job hosts; see the module docstring."""

    def __init__(
        self,
        options: WorkerOptions,
        settings: WorkerSettings,
        callbacks: ManagerCallbacks | None = None,
        *,
        json_logs: bool = False,
    ) -> None:
        self._opts = options
        self._cb = callbacks or ManagerCallbacks()
        self.in_process = options.executor == "inprocess"
        self.capacity = settings.effective_max_jobs()
        self.jobs_per_process = self.capacity if self.in_process else settings.jobs_per_process
        self.max_processes = 1 if self.in_process else math.ceil(self.capacity / self.jobs_per_process)
        self.num_idle = 0 if self.in_process else min(settings.num_idle_processes, self.max_processes)
        self._settings = settings
        self._init = ProcessInit(
            entrypoint=options.entrypoint,
            prewarm_fnc=options.prewarm_fnc,
            shutdown_timeout=options.shutdown_timeout,
            log_level=settings.log_level,
            json_logs=json_logs,
            secrets=(settings.api_secret,),
        )
        self._host_cb = HostCallbacks(
            self._host_running, self._host_ended, self._cb.on_metrics, self._host_gone
        )
        self._hosts: list[Host] = []
        self._jobs: dict[str, ManagedJob] = {}
        self._reserved: dict[str, _Reservation] = {}
        self._next_index = 0
        self._start_failures = 0
        self._maintain_task: asyncio.Task[None] | None = None
        self._maintain_again = False
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False
        self._main_cpu = main_process_cpu()
        self._cpu_share = 0.0
        self._cpu_samples: deque[float] = deque(maxlen=CPU_SAMPLES)
        self._cpu_sampled_at = time.monotonic()
        self._mp = None if self.in_process else multiprocessing.get_context(options.start_method)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start the in-process host or the first idle processes (waits until they are prewarmed)."""
        if self.in_process:
            host = InProcessHost(self._new_index(), self._init, self._host_cb)
            self._hosts.append(host)
            await host.start()
            self._prime_cpu()
            return
        self._check_picklable()
        if self._opts.start_method == "forkserver":
            # the forkserver imports these once; each job process is then a cheap fork of it
            preload = [
                "__main__",
                "livekitex_agent.worker.forkserver_main",  # the user's script, imported once
                "livekitex_agent.worker.proc_child",
                "livekitex_agent.rooms.livekit",  # skipped by the forkserver if it cannot be imported
                self._opts.entrypoint.__module__,
                *([LOCAL_PRELOAD] if self._opts.preload_local else []),  # skipped if not importable
                *self._opts.preload,
                "livekitex_agent.worker.forkserver_ready",  # last: freezes all of the above
            ]
            self._mp.set_forkserver_preload(list(dict.fromkeys(preload)))  # type: ignore[union-attr]
        with _forkserver_sees_our_path():
            starts = [self._spawn() for _ in range(self.num_idle)]
            results = await asyncio.gather(*starts, return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors and len(errors) == len(results):
            raise errors[0]
        self._prime_cpu()

    def _check_picklable(self) -> None:
        try:
            pickle.dumps(self._init)
        except Exception as e:
            raise ConfigError(
                f"entrypoint {getattr(self._opts.entrypoint, '__qualname__', self._opts.entrypoint)!r} or "
                f"prewarm_fnc cannot be sent to job processes ({e}): define them at module level, "
                "or use executor='inprocess'"
            ) from None

    async def aclose(self, reason: str = "worker closing", timeout: float = 10.0) -> None:
        """End every job (callbacks run) and stop every process."""
        self._closed = True
        if self._maintain_task is not None:
            self._maintain_task.cancel()
            await asyncio.gather(self._maintain_task, return_exceptions=True)
        await asyncio.gather(*(h.aclose(reason, timeout) for h in list(self._hosts)), return_exceptions=True)
        self._hosts.clear()

    # ------------------------------------------------------------------ state

    @property
    def job_count(self) -> int:
        """Jobs accepted or running (what counts towards the load)."""
        return len(self._jobs) + len(self._reserved)

    @property
    def running_jobs(self) -> list[pa.Job]:
        return [j.info.job for j in self._jobs.values()]

    def job(self, job_id: str) -> ManagedJob | None:
        return self._jobs.get(job_id)

    @property
    def hosts(self) -> list[Host]:
        return list(self._hosts)

    @property
    def inprocess_proc(self) -> JobProcess | None:
        for h in self._hosts:
            if isinstance(h, InProcessHost):
                return h.proc
        return None

    @property
    def healthy(self) -> bool:
        return not self._closed and self._start_failures < MAX_START_FAILURES

    def sample_cpu(self) -> float:
        """Measure the CPU share of the main and job processes since the last call (0..1)."""
        if self._opts.load_fnc is not None:
            self._cpu_share = float(self._opts.load_fnc())
            return self._cpu_share
        now = time.monotonic()
        if now - self._cpu_sampled_at >= MIN_CPU_INTERVAL:  # a shorter window only measures bursts
            self._cpu_sampled_at = now
            try:
                total = self._main_cpu.cpu_percent(None) + sum(h.cpu_percent() for h in self._hosts)
            except Exception:
                total = 0.0
            self._cpu_samples.append(min(1.0, total / (100.0 * max(1, os.cpu_count() or 1))))
            self._cpu_share = sum(self._cpu_samples) / len(self._cpu_samples)
        return self._cpu_share

    def _prime_cpu(self) -> None:
        """Start measuring from here, not from the imports and the prewarm."""
        self._main_cpu.cpu_percent(None)
        for h in self._hosts:
            h.cpu_percent()
        self._cpu_sampled_at = time.monotonic()

    def load(self) -> float:
        self._expire_reservations()
        return min(1.0, max(self._cpu_share, self.job_count / max(1, self.capacity)))

    async def wait_idle(self, timeout: float | None) -> bool:
        """Wait until no job is accepted or running; False on timeout."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    # ------------------------------------------------------------------ jobs

    def reserve(self, job_id: str, timeout: float) -> None:
        """Count an accepted offer towards the load until its assignment arrives (or ``timeout``)."""
        self._reserved[job_id] = _Reservation(time.monotonic() + timeout)
        self._idle.clear()
        self._schedule_maintain()

    def release(self, job_id: str) -> None:
        self._reserved.pop(job_id, None)
        self._update_idle()

    async def launch(self, info: JobInfo) -> None:
        """Start an assigned job on a host (spawning a process if needed); failures end the job as failed."""
        job_id = info.job.id
        if job_id in self._jobs:
            logger.warning("job %s assigned twice: ignored", job_id)
            return
        accepted = self._reserved.pop(job_id, None)
        record = ManagedJob(info, None, accepted.accepted_at if accepted else time.monotonic())
        self._jobs[job_id] = record
        self._idle.clear()
        try:
            host = self._pick_host()
            if host is None:
                host = await self._spawn()
            host.job_ids.add(job_id)  # claim the slot before waiting
            record.host = host
            await host.wait_ready()
        except Exception as e:
            if record.host is not None:
                record.host.job_ids.discard(job_id)
            self._finish(job_id, JobOutcome(JS_FAILED, f"no job process for the job: {e}", "no process"))
            return
        if job_id not in self._jobs:  # ended meanwhile (e.g. terminated by the server)
            host.job_ids.discard(job_id)
            return
        host.launch(info)
        self._schedule_maintain()

    def shutdown_job(self, job_id: str, reason: str) -> None:
        record = self._jobs.get(job_id)
        if record is None:
            self.release(job_id)
            return
        if record.host is not None and record.host.ready:
            record.host.shutdown_job(job_id, reason)
        elif record.host is None:
            self._finish(job_id, JobOutcome(pa.JS_SUCCESS, "", reason))

    def shutdown_all(self, reason: str) -> None:
        for job_id in list(self._jobs):
            self.shutdown_job(job_id, reason)

    def _pick_host(self) -> Host | None:
        """The busiest host that still has room (packing); a starting one if none is ready."""
        candidates = [h for h in self._hosts if h.alive and len(h.job_ids) < self.jobs_per_process]
        if not candidates:
            alive = [h for h in self._hosts if h.alive]
            if alive and len(alive) >= self.max_processes:  # at the cap: overcommit the least busy
                return min(alive, key=lambda h: len(h.job_ids))
            return None
        return max(candidates, key=lambda h: (h.ready, len(h.job_ids)))

    def _expire_reservations(self) -> None:
        now = time.monotonic()
        for job_id, r in list(self._reserved.items()):
            if r.expires_at < now:
                logger.warning("job %s: no assignment came after it was accepted; slot released", job_id)
                del self._reserved[job_id]
        self._update_idle()

    def _update_idle(self) -> None:
        if not self._jobs and not self._reserved:
            self._idle.set()

    # ------------------------------------------------------------------ host callbacks

    def _host_running(self, host: Host, job_id: str) -> None:
        record = self._jobs.get(job_id)
        if record is not None and record.running_at is None:
            record.running_at = time.monotonic()
            self._cb.on_running(job_id, record)

    def _host_ended(self, host: Host, job_id: str, outcome: JobOutcome) -> None:
        self._finish(job_id, outcome)
        self._schedule_maintain()

    def _finish(self, job_id: str, outcome: JobOutcome) -> None:
        record = self._jobs.pop(job_id, None)
        self._update_idle()
        if record is not None:
            self._cb.on_ended(job_id, outcome, record)

    def _host_gone(self, host: Host) -> None:
        if host in self._hosts:
            self._hosts.remove(host)
        self._schedule_maintain()

    # ------------------------------------------------------------------ pool maintenance

    def _new_index(self) -> int:
        self._next_index += 1
        return self._next_index

    async def _spawn(self) -> Host:
        assert self._mp is not None
        s = self._settings
        host = ProcessHost(
            self._new_index(),
            self._mp,
            self._init,
            self._host_cb,
            initialize_timeout=self._opts.initialize_process_timeout,
            ping_interval=self._opts.ping_interval,
            ping_timeout=self._opts.ping_timeout,
            memory_warn_mb=s.memory_warn_mb,
            memory_limit_mb=s.memory_limit_mb,
        )
        self._hosts.append(host)
        started = time.monotonic()
        try:
            await host.start()
        except BaseException as e:
            if host in self._hosts:
                self._hosts.remove(host)
            if isinstance(e, Exception):
                self._start_failures += 1
                logger.error("job process failed to start (%d in a row): %s", self._start_failures, e)
            raise
        self._start_failures = 0
        logger.debug("job process %d started in %.0f ms", host.pid, (time.monotonic() - started) * 1000)
        return host

    def _schedule_maintain(self) -> None:
        if self.in_process or self._closed:
            return
        if self._maintain_task is not None and not self._maintain_task.done():
            self._maintain_again = True
            return
        self._maintain_task = asyncio.create_task(self._maintain(), name="worker-pool-maintain")

    async def _maintain(self) -> None:
        """Keep ``num_idle_processes`` empty processes (plus room for accepted jobs); stop the surplus."""
        while True:
            self._maintain_again = False
            alive = [h for h in self._hosts if h.alive]
            idle = [h for h in alive if not h.job_ids]
            busy = [h for h in alive if h.job_ids]
            free_busy = sum(max(0, self.jobs_per_process - len(h.job_ids)) for h in busy)
            waiting = len(self._reserved)
            want = self.num_idle + math.ceil(max(0, waiting - free_busy) / self.jobs_per_process)
            want = max(0, min(want, self.max_processes - len(busy)))
            if len(idle) < want and self.healthy:
                results = await asyncio.gather(
                    *(self._spawn() for _ in range(want - len(idle))), return_exceptions=True
                )
                if any(isinstance(r, BaseException) for r in results) and self.healthy:
                    await asyncio.sleep(1.0)  # back off a little before the next attempt
                    self._maintain_again = True
            elif len(idle) > want:
                surplus = [h for h in idle if h.ready][: len(idle) - want]
                for h in surplus:
                    h.retire()  # no longer picked; stays listed (aclose() waits for it) until it is gone
                await asyncio.gather(
                    *(h.aclose("idle process not needed", 5.0) for h in surplus), return_exceptions=True
                )
            if not self._maintain_again or self._closed:
                return


@contextlib.contextmanager
def _forkserver_sees_our_path() -> Iterator[None]:
    """The forkserver starts with the first job process and, on Python 3.11, ignores our ``sys.path``
    and our main module: hand them over through ``PYTHONPATH`` (so the entrypoint's and the preload
    modules import there) and ``LIVEKITEX_FORKSERVER_MAIN`` (see ``forkserver_main``)."""
    handover = {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p), FORKSERVER_MAIN_ENV: _main_ref()}
    saved = {name: os.environ.get(name) for name in handover}
    os.environ.update(handover)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# internal, set by the worker for its forkserver: the main module to import there (never set it yourself)
FORKSERVER_MAIN_ENV = "LIVEKITEX_FORKSERVER_MAIN"


def _main_ref() -> str:
    """How a job process would find the main module: ``name:module`` (``python -m``), ``path:file``
    (a script), or ``""`` (an interactive session: nothing to import)."""
    main = sys.modules.get("__main__")
    name = getattr(getattr(main, "__spec__", None), "name", None)
    if name:
        return "" if name == "__main__" or name.endswith(".__main__") else f"name:{name}"
    path = getattr(main, "__file__", None)
    if not path:
        return ""
    origin = getattr(multiprocessing.process, "ORIGINAL_DIR", None) or os.getcwd()  # as spawn resolves it
    return "path:" + os.path.normpath(os.path.join(origin, path))
