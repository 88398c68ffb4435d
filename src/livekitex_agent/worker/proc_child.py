"""The main function of a job process: prewarm once, then host jobs as the main process says.

The process ignores SIGINT/SIGTERM (the main process drains and stops it) and exits on its own
when the main process goes away (end of file on its channel).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import signal
import socket
from dataclasses import dataclass

from livekit.protocol import agent as pa

from ..log import configure_logging, install_redaction, redact
from ..metrics import TurnMetrics
from . import ipc
from .job import JobInfo, JobOutcome, JobProcess, import_room_io
from .jobhost import JobHost
from .options import Entrypoint, PrewarmFnc
from .protocol import AcceptArgs

logger = logging.getLogger("livekitex_agent.worker.process")


@dataclass(frozen=True)
class ProcessInit:
    """What a job process needs to start (pickled: the callables must be module-level functions)."""

    entrypoint: Entrypoint
    prewarm_fnc: PrewarmFnc | None
    shutdown_timeout: float
    log_level: str
    json_logs: bool = False
    secrets: tuple[str, ...] = ()  # redacted from this process's logs (e.g. a secret given in code)


def process_main(sock: socket.socket, init: ProcessInit) -> None:
    """Entry point of the child process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    configure_logging(init.log_level, json=init.json_logs)
    install_redaction(init.secrets)
    asyncio.run(_Runtime(sock, init).run())


class _Runtime:
    def __init__(self, sock: socket.socket, init: ProcessInit) -> None:
        self._sock = sock
        self._init = init

    async def run(self) -> None:
        chan = await ipc.Channel.open(self._sock)
        proc = JobProcess(pid=os.getpid(), executor="process")
        import_room_io()  # before taking jobs, so the first job does not pay for it
        error = await _prewarm(self._init.prewarm_fnc, proc)
        chan.send(ipc.ProcessReady(proc.pid, error))
        if error:
            await chan.drain()
            await chan.aclose()
            return

        def on_ended(job_id: str, outcome: JobOutcome) -> None:
            chan.send(ipc.JobEnded(job_id, outcome.status, outcome.error, outcome.reason))

        def on_metrics(job_id: str, m: TurnMetrics) -> None:
            chan.send(ipc.TurnMetricsObserved(job_id, m))

        host = JobHost(
            proc,
            self._init.entrypoint,
            shutdown_timeout=self._init.shutdown_timeout,
            on_running=lambda job_id: chan.send(ipc.JobRunning(job_id)),
            on_ended=on_ended,
            on_metrics=on_metrics,
        )
        exit_reason = "main process gone"
        while True:
            try:
                msg = await chan.recv()
            except EOFError:
                break
            if isinstance(msg, ipc.StartJob):
                host.start(_job_info(msg))
            elif isinstance(msg, ipc.ShutdownJob):
                host.shutdown(msg.job_id, msg.reason)
            elif isinstance(msg, ipc.Ping):
                chan.send(ipc.Pong(msg.seq))
            elif isinstance(msg, ipc.Exit):
                exit_reason = msg.reason
                break
            else:
                logger.warning("job process %d: unexpected message %s ignored", proc.pid, type(msg).__name__)
        await host.aclose(exit_reason, timeout=self._init.shutdown_timeout + 5.0)
        await chan.drain()
        await chan.aclose()


def _job_info(msg: ipc.StartJob) -> JobInfo:
    job = pa.Job()
    job.ParseFromString(msg.job)
    accept = AcceptArgs(msg.identity, msg.name, msg.metadata, dict(msg.attributes))
    return JobInfo(job, msg.url, msg.token, accept)


async def _prewarm(fnc: PrewarmFnc | None, proc: JobProcess) -> str:
    if fnc is None:
        return ""
    try:
        result = fnc(proc)
        if inspect.isawaitable(result):
            await result
    except Exception as e:
        logger.exception("prewarm_fnc failed in job process %d", proc.pid)
        return redact(f"prewarm failed: {type(e).__name__}: {e}")
    return ""
