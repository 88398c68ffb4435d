"""What a developer configures about a worker: the entrypoint, job filtering, prewarm and tunables."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from livekit.protocol import agent as pa

from .. import __version__
from ..config import WorkerSettings, load_worker_settings
from ..errors import ConfigError
from ..validation import check_async_callable, check_choice, check_number
from .protocol import AcceptArgs, ParticipantPermissions

if TYPE_CHECKING:
    from .job import JobContext, JobProcess

Entrypoint = Callable[["JobContext"], Awaitable[None]]
RequestFnc = Callable[["JobRequest"], Awaitable[None]]
PrewarmFnc = Callable[["JobProcess"], Any]
Executor = Literal["process", "inprocess"]
StartMethod = Literal["forkserver", "spawn"]


@dataclass
class WorkerOptions:
    """Options of a worker; deployment values (URL, credentials, tunables) can be overridden by env/flags.

    - ``entrypoint(ctx)`` runs once per job; the job lasts until the room is left or ``ctx.shutdown()``.
    - ``request_fnc(req)`` decides on each offer (``req.accept(...)`` / ``req.reject()``); default: accept.
    - ``prewarm_fnc(proc)`` runs once per worker process before it takes jobs (load models into
      ``proc.userdata``).
    - ``preload``: module names the forkserver imports once, before it forks any job process: what
      they load at import (e.g. ``SileroVAD().prewarm()``) is shared copy-on-write by every job process.
      Such a module must start no thread (and never touch the LiveKit SDK).
    - ``preload_local``: the forkserver also loads the installed local providers' native libraries
      and the Silero 16 kHz model (``plugins.local.preload``), so job processes share them (~27 MB
      less per job process with Silero); ``False`` spares a worker that uses none of them ~0.2 s
      and a few MB at start.
    - ``executor``: ``"process"`` (a pool of prewarmed processes, each hosting up to
      ``jobs_per_process`` jobs on its own event loop) or ``"inprocess"`` (jobs run on the worker's
      own loop: tests and development).
    - load = max(CPU share of the worker's processes, jobs / ``max_jobs``); at ``load_threshold`` the
      worker reports itself full and declines offers.
    """

    entrypoint: Entrypoint
    request_fnc: RequestFnc | None = None
    prewarm_fnc: PrewarmFnc | None = None
    preload: tuple[str, ...] = ()  # modules the forkserver imports before forking job processes
    preload_local: bool = True  # the forkserver loads the local providers' libraries and models
    agent_name: str = ""  # "": dispatched to every new room; a name: only to explicit dispatches of that name
    jobs_per_process: int = 4  # jobs one job process hosts at once, each on the process's event loop
    num_idle_processes: int = 1  # prewarmed empty job processes kept ready for the next offers
    max_jobs: int = 0  # jobs the worker runs at most (load 1.0); 0: jobs_per_process × CPU count
    load_threshold: float = 0.75  # at this load (0..1] the worker reports itself full and declines offers
    load_fnc: Callable[[], float] | None = None  # CPU share in 0..1; default: our process tree
    # on SIGTERM/SIGINT: seconds running jobs may take to end before they are stopped
    drain_timeout: float = 600.0
    shutdown_timeout: float = 10.0  # for a job's shutdown callbacks
    executor: Executor = "process"
    # how job processes start: forked from a preloaded server, or spawned
    start_method: StartMethod = "forkserver"
    initialize_process_timeout: float = 20.0  # a job process not ready (started, prewarmed) by then is killed
    ping_interval: float = 2.5  # main ↔ child process liveness
    ping_timeout: float = 15.0  # a child silent this long is killed and its jobs failed
    memory_warn_mb: float = 500.0  # a job process above this many MB logs a warning; 0: never
    # a job process above this many MB is killed and its jobs failed; 0: no limit
    memory_limit_mb: float = 0.0
    # what the agent's participant may do in its rooms (put in the job token by the server)
    permissions: ParticipantPermissions = field(default_factory=ParticipantPermissions)
    version: str = __version__  # the agent's version, sent at registration and shown by GET /worker
    ws_url: str | None = None  # LiveKit server URL (ws://, wss://, http://, https://); None: $LIVEKIT_URL
    api_key: str | None = field(default=None, repr=False)  # the worker's API key; None: $LIVEKIT_API_KEY
    api_secret: str | None = field(default=None, repr=False)  # its API secret; None: $LIVEKIT_API_SECRET
    http_host: str = "127.0.0.1"  # address of the health and metrics HTTP server (0.0.0.0: every interface)
    http_port: int = 8081  # port of the health and metrics HTTP server; 0: any free port
    status_interval: float = 2.5  # seconds between load reports to the server
    assignment_timeout: float = 7.5  # the server waits 10 s for our answer, then gives up on us
    request_timeout: float = 5.0  # for request_fnc
    max_retry_delay: float = 10.0  # reconnect backoff cap
    log_level: str = "INFO"  # DEBUG, INFO, WARNING, ERROR or CRITICAL (`dev` defaults to DEBUG)

    def __post_init__(self) -> None:
        # deployment values (URL, jobs, load, ...) are checked with the environment by resolve();
        # what only code can set is checked here, so a mistake fails at start and not per job
        check_async_callable("WorkerOptions.entrypoint", self.entrypoint)
        check_async_callable("WorkerOptions.request_fnc", self.request_fnc, allow_none=True)
        if self.prewarm_fnc is not None and not callable(self.prewarm_fnc):
            raise ConfigError(f"WorkerOptions.prewarm_fnc={self.prewarm_fnc!r} must be a function")
        if self.load_fnc is not None and not callable(self.load_fnc):
            raise ConfigError(f"WorkerOptions.load_fnc={self.load_fnc!r} must be a function")
        check_choice("WorkerOptions.executor", self.executor, ("process", "inprocess"))
        check_choice("WorkerOptions.start_method", self.start_method, ("forkserver", "spawn"))
        for name in (
            "shutdown_timeout",
            "initialize_process_timeout",
            "ping_interval",
            "ping_timeout",
            "status_interval",
            "assignment_timeout",
            "request_timeout",
            "max_retry_delay",
        ):
            check_number(f"WorkerOptions.{name}", getattr(self, name), exclusive=True, unit=" seconds")

    def settings_defaults(self) -> dict[str, Any]:
        """The values this object gives to :func:`load_worker_settings` (env and flags override them)."""
        return {
            "url": self.ws_url,
            "api_key": self.api_key,
            "api_secret": self.api_secret,
            "agent_name": self.agent_name,
            "jobs_per_process": self.jobs_per_process,
            "num_idle_processes": self.num_idle_processes,
            "max_jobs": self.max_jobs,
            "load_threshold": self.load_threshold,
            "drain_timeout": self.drain_timeout,
            "http_host": self.http_host,
            "http_port": self.http_port,
            "memory_warn_mb": self.memory_warn_mb,
            "memory_limit_mb": self.memory_limit_mb,
            "log_level": self.log_level,
        }

    def resolve(self, **overrides: Any) -> WorkerSettings:
        """Settings from these options, the environment and ``overrides`` (highest precedence)."""
        return load_worker_settings(self.settings_defaults(), overrides=overrides)


class JobRequest:
    """An offer of a job by the server; answer with :meth:`accept` or :meth:`reject`."""

    def __init__(self, job: pa.Job) -> None:
        self._job = job
        self._answer: AcceptArgs | None = None
        self._answered = False

    @property
    def job(self) -> pa.Job:
        return self._job

    @property
    def id(self) -> str:
        return self._job.id

    @property
    def room_name(self) -> str:
        return self._job.room.name

    @property
    def agent_name(self) -> str:
        return self._job.agent_name

    @property
    def metadata(self) -> str:
        return self._job.metadata

    def accept(
        self,
        *,
        identity: str = "",
        name: str = "",
        metadata: str = "",
        attributes: dict[str, str] | None = None,
    ) -> None:
        """Take the job; the agent joins as ``identity`` (default ``agent-<job id>``)."""
        self._answer_once()
        self._answer = AcceptArgs(
            identity=identity or f"agent-{self._job.id}",
            name=name,
            metadata=metadata,
            attributes=dict(attributes or {}),
        )

    def reject(self) -> None:
        self._answer_once()
        self._answer = None

    def _answer_once(self) -> None:
        if self._answered:
            raise RuntimeError(f"job request {self._job.id} was already answered")
        self._answered = True

    @property
    def answered(self) -> bool:
        return self._answered

    @property
    def answer(self) -> AcceptArgs | None:
        """The accept arguments, or ``None`` when rejected (or not answered)."""
        return self._answer


async def default_request_fnc(req: JobRequest) -> None:
    req.accept()
