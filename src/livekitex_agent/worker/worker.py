"""Worker: the LiveKit agent protocol client that registers, takes jobs and reports status.

It connects to ``<url>/agent`` with a short-lived worker token, registers, answers offers
(through ``request_fnc`` and its load), starts assigned jobs in its :class:`WorkerManager`,
reports job and worker status, and reconnects with capped backoff; running jobs keep running
across a reconnect and are re-announced (``MigrateJobRequest``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from typing import Any, Literal

import aiohttp

from ..config import WorkerSettings
from ..events import EventEmitter
from ..log import redact
from . import protocol as proto
from .http import WorkerHttpServer, worker_status
from .job import JobInfo, JobOutcome
from .manager import ManagedJob, ManagerCallbacks, WorkerManager
from .metrics import WorkerMetrics
from .options import JobRequest, WorkerOptions, default_request_fnc
from .tokens import worker_token

logger = logging.getLogger("livekitex_agent.worker")

WorkerEvent = Literal["registered", "disconnected", "job_started", "job_ended", "draining"]
REGISTER_TIMEOUT = 10.0


class Worker:
    """One registered agent worker; use ``async with Worker(options) as w`` or start()/aclose()."""

    def __init__(
        self,
        options: WorkerOptions,
        settings: WorkerSettings | None = None,
        *,
        json_logs: bool = False,
        playground: bool = False,  # serve the browser playground and its token endpoint (dev mode)
    ) -> None:
        self._opts = options
        self.settings = settings or options.resolve()
        self.metrics = WorkerMetrics()
        self._emitter: EventEmitter[WorkerEvent] = EventEmitter()
        self.manager = WorkerManager(
            options,
            self.settings,
            ManagerCallbacks(self._job_running, self._job_ended, lambda _id, m: self.metrics.observe_turn(m)),
            json_logs=json_logs,
        )
        self._http = WorkerHttpServer(
            self, self.settings.http_host, self.settings.http_port, playground=playground
        )
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._session: aiohttp.ClientSession | None = None
        self._conn_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._accepted: dict[str, tuple[proto.AcceptArgs, float]] = {}  # job id -> (args, offered at)
        self._pending_updates: deque[bytes] = deque(maxlen=256)  # job updates made while disconnected
        self._outbox: asyncio.Queue[bytes] | None = None  # messages for the current connection
        self._registered = asyncio.Event()
        self.worker_id = ""
        self._registrations = 0
        self._draining = False
        self._closing = False
        self._started = False

    # ------------------------------------------------------------------ public API

    def on(self, event: WorkerEvent, callback: Any = None) -> Any:
        """Register ``callback`` for a worker event (usable as a decorator):

        - ``registered``: the server accepted the worker (again after a reconnect); gets the worker id.
        - ``disconnected``: the connection to the server was lost; the worker reconnects.
        - ``job_started``: a job's entrypoint is running; gets the job id and its ``ManagedJob`` record.
        - ``job_ended``: a job ended; gets the job id and its :class:`JobOutcome`.
        - ``draining``: the worker stopped taking jobs and waits for the running ones.
        """
        return self._emitter.on(event, callback)

    @property
    def connected(self) -> bool:
        return self._registered.is_set()

    @property
    def draining(self) -> bool:
        return self._draining

    @property
    def http_port(self) -> int | None:
        return self._http.port

    @property
    def playground_url(self) -> str | None:
        """The playground page's address when this worker serves it (dev mode), else ``None``."""
        return self._http.playground_url

    @property
    def agent_name(self) -> str:
        return self.settings.agent_name

    @property
    def options(self) -> WorkerOptions:
        return self._opts

    async def start(self) -> None:
        """Start the job pool (prewarmed), the HTTP endpoints and the server connection."""
        if self._started:
            return
        self._started = True
        await self.manager.start()
        await self._http.start()
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, connect=10.0))
        self._conn_task = asyncio.create_task(self._connection_loop(), name="worker-connection")

    async def wait_registered(self, timeout: float | None = None) -> str:
        await asyncio.wait_for(self._registered.wait(), timeout)
        return self.worker_id

    async def drain(self, timeout: float | None = None) -> bool:
        """Stop taking jobs (report full) and wait for running jobs to end; True if they all did."""
        if not self._draining:
            self._draining = True
            logger.info("draining: %d job(s) running, taking no new jobs", self.manager.job_count)
            self._emitter.emit("draining")
            self._send_status()
        timeout = self.settings.drain_timeout if timeout is None else timeout
        if await self.manager.wait_idle(timeout):
            return True
        logger.warning("drain timeout (%.0fs): ending %d job(s)", timeout, self.manager.job_count)
        return False

    async def aclose(self) -> None:
        """End every job, disconnect, stop the HTTP endpoints and the pool."""
        if self._closing:
            return
        self._closing = True
        await self.manager.aclose("worker closing", timeout=self._opts.shutdown_timeout + 5.0)
        if self._outbox is not None:  # let the final job updates reach the server
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._outbox.join(), 2.0)
        if self._conn_task is not None:
            self._conn_task.cancel()
            await asyncio.gather(self._conn_task, return_exceptions=True)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._ws is not None:
            await self._ws.close()
        if self._session is not None:
            await self._session.close()
        await self._http.aclose()
        await self._emitter.aclose_handlers()

    async def __aenter__(self) -> Worker:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def health_problem(self) -> str:
        """Why the worker is unhealthy ("" when healthy)."""
        if not self.connected:
            return "not connected to the LiveKit server"
        if not self.manager.healthy:
            return "job process pool is broken (processes fail to start)"
        return ""

    def status_snapshot(self) -> dict[str, Any]:
        """What ``GET /worker`` returns (id, agent, load, jobs, processes...)."""
        return worker_status(self)

    # ------------------------------------------------------------------ connection

    async def _connection_loop(self) -> None:
        """Connect, serve, and reconnect with capped exponential backoff until closed."""
        failures = 0
        url = proto.agent_ws_url(self.settings.ws_url)
        while not self._closing:
            before = self._registrations
            try:
                await self._connect_once(url)
            except aiohttp.WSServerHandshakeError as e:
                if e.status == 401:
                    logger.error("the server rejected the worker token: check LIVEKIT_API_KEY/SECRET")
                else:
                    logger.warning("cannot connect to %s: HTTP %s", url, e.status)
            except (aiohttp.ClientError, OSError, TimeoutError, proto.ProtocolError) as e:
                logger.warning("server connection to %s failed: %s", url, redact(str(e)) or type(e).__name__)
            except Exception:
                logger.exception("unexpected error in the server connection")
            if self._closing:
                return
            failures = 1 if self._registrations > before else failures + 1
            delay = 0.0 if failures == 1 else min(self._opts.max_retry_delay, 0.5 * 2 ** (failures - 2))
            delay *= random.uniform(0.9, 1.1)
            logger.info("reconnecting to the server in %.1fs", delay)
            await asyncio.sleep(delay)

    async def _connect_once(self, url: str) -> None:
        assert self._session is not None
        token = worker_token(self.settings.api_key, self.settings.api_secret)
        ws = await self._session.ws_connect(url, headers={"Authorization": f"Bearer {token}"}, heartbeat=10.0)
        self._ws = ws
        try:
            await self._run_connection(ws)
        finally:
            self._ws = None
            await ws.close()
            if self._registered.is_set():
                self._registered.clear()
                # losing the server is news; leaving it because we close is not
                (logger.debug if self._closing else logger.warning)("disconnected from the server")
                self._emitter.emit("disconnected")

    async def _run_connection(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Register and serve one connection until it closes."""
        await ws.send_bytes(proto.register(self.agent_name, self._opts.version, self._opts.permissions))
        registered = False
        status_task: asyncio.Task[None] | None = None
        sender: asyncio.Task[None] | None = None
        try:
            async with asyncio.timeout(REGISTER_TIMEOUT) as register_deadline:
                async for msg in ws:
                    if msg.type != aiohttp.WSMsgType.BINARY:
                        if msg.type == aiohttp.WSMsgType.ERROR:
                            raise aiohttp.ClientError(f"websocket error: {ws.exception()}")
                        continue
                    event = proto.parse_server_message(msg.data)
                    if isinstance(event, proto.Registered):
                        register_deadline.reschedule(None)
                        registered = True
                        self._outbox = asyncio.Queue()
                        sender = asyncio.create_task(self._sender(ws, self._outbox), name="worker-send")
                        self._on_registered(event)
                        status_task = asyncio.create_task(self._status_loop(), name="worker-status")
                    elif not registered:
                        logger.debug("ignoring %s before registration", type(event).__name__)
                    elif isinstance(event, proto.GoAway):
                        logger.info("server asked the worker to go away (%s): reconnecting", event.reason)
                        break
                    else:
                        self._on_event(event)
        finally:
            self._outbox = None
            for task in (status_task, sender):
                if task is not None:
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)

    def _on_registered(self, event: proto.Registered) -> None:
        reconnect = bool(self.worker_id)
        self.worker_id = event.worker_id
        self._registrations += 1
        jobs = self.manager.running_jobs
        if jobs:  # still running from before the reconnect
            self._send(proto.migrate(jobs))
        self._flush_pending()
        self._send_status()
        self._registered.set()
        if reconnect:
            self.metrics.reconnects.inc()
        logger.info(
            "worker %s registered (agent %r, server %s)%s",
            event.worker_id,
            self.agent_name,
            event.server_version,
            f", {len(jobs)} job(s) carried over" if jobs else "",
        )
        self._emitter.emit("registered", event.worker_id)

    def _on_event(self, event: proto.ServerEvent) -> None:
        if isinstance(event, proto.JobOffered):
            self._spawn(self._answer_offer(event.job), f"offer-{event.job.id}")
        elif isinstance(event, proto.JobAssigned):
            self._spawn(self._start_job(event), f"assign-{event.job.id}")
        elif isinstance(event, proto.JobTerminated):
            logger.info("job %s terminated by the server", event.job_id)
            self.manager.shutdown_job(event.job_id, "terminated by the server")
        elif isinstance(event, proto.Unknown):
            logger.debug("ignoring unknown server message %r", event.kind)

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("worker task %s failed", task.get_name(), exc_info=task.exception())

    def _send(self, data: bytes) -> bool:
        """Queue a message on the current connection (in order); False when not registered."""
        if self._outbox is None:
            return False
        self._outbox.put_nowait(data)
        return True

    async def _sender(self, ws: aiohttp.ClientWebSocketResponse, outbox: asyncio.Queue[bytes]) -> None:
        while True:
            data = await outbox.get()
            try:
                await ws.send_bytes(data)
            except (aiohttp.ClientError, ConnectionError) as e:
                logger.debug("send failed (connection closing): %s", e)
            finally:
                outbox.task_done()

    def _flush_pending(self) -> None:
        while self._pending_updates and self._send(self._pending_updates[0]):
            self._pending_updates.popleft()

    # ------------------------------------------------------------------ status

    def _is_full(self) -> bool:
        return self._draining or self._closing or self.manager.load() >= self.settings.load_threshold

    def _send_status(self) -> None:
        load = self.manager.load()
        self.metrics.load.set(load)
        self._send(
            proto.update_worker(
                full=self._is_full(), load=load, job_count=self.manager.job_count, draining=self._draining
            )
        )

    async def _status_loop(self) -> None:
        while True:
            self.manager.sample_cpu()
            self._send_status()
            stale = time.monotonic() - self._opts.assignment_timeout - 5.0
            for job_id in [j for j, (_, at) in self._accepted.items() if at < stale]:
                del self._accepted[job_id]  # accepted, but the assignment never came
            await asyncio.sleep(self._opts.status_interval)

    # ------------------------------------------------------------------ jobs

    async def _answer_offer(self, job: Any) -> None:
        offered_at = time.monotonic()
        answer = await self._decide(job)
        if answer is not None and self._is_full():
            answer = None  # the load changed while request_fnc ran
        if answer is not None:
            self._accepted[job.id] = (answer, offered_at)
            self.manager.reserve(job.id, self._opts.assignment_timeout)
        self.metrics.offers.labels(answer="accepted" if answer else "declined").inc()
        self._send(proto.availability(job.id, answer))
        if answer is not None:
            self._send_status()
        logger.debug("job %s (room %s) %s", job.id, job.room.name, "accepted" if answer else "declined")

    async def _decide(self, job: Any) -> proto.AcceptArgs | None:
        if self._is_full():
            return None
        req = JobRequest(job)
        fnc = self._opts.request_fnc or default_request_fnc
        try:
            await asyncio.wait_for(fnc(req), self._opts.request_timeout)
        except Exception:
            logger.exception("request_fnc failed for job %s: declining it", job.id)
            return None
        if not req.answered:
            logger.warning("request_fnc neither accepted nor rejected job %s: declining it", job.id)
        return req.answer

    async def _start_job(self, event: proto.JobAssigned) -> None:
        job = event.job
        accepted = self._accepted.pop(job.id, None)
        if accepted is None:
            logger.warning("job %s assigned without a matching accepted offer: starting it anyway", job.id)
            identity = job.state.participant_identity or f"agent-{job.id}"
            accepted = (proto.AcceptArgs(identity=identity), time.monotonic())
        url = event.url or self.settings.ws_url
        await self.manager.launch(JobInfo(job, url, event.token, accepted[0]))

    def _job_running(self, job_id: str, record: ManagedJob) -> None:
        if record.running_at is not None:
            self.metrics.dispatch_latency.observe(max(0.0, record.running_at - record.accepted_at))
        self._send_update(proto.update_job(job_id, proto.JS_RUNNING))
        logger.info("job %s running (room %s)", job_id, record.info.job.room.name)
        self._emitter.emit("job_started", job_id, record)

    def _job_ended(self, job_id: str, outcome: JobOutcome, record: ManagedJob) -> None:
        self._accepted.pop(job_id, None)
        status = proto.status_name(outcome.status)
        self.metrics.jobs.labels(outcome=status).inc()
        # the failure text leaves this machine: redact it here, whichever process wrote it
        error = redact(outcome.error, [self.settings.api_secret])
        self._send_update(proto.update_job(job_id, outcome.status, error))
        # a failure was logged (with its traceback) where it happened
        logger.info("job %s ended: %s (%s)", job_id, status, outcome.reason or "done")
        self._send_status()
        self._emitter.emit("job_ended", job_id, outcome)

    def _send_update(self, data: bytes) -> None:
        if not self._send(data):
            self._pending_updates.append(data)
