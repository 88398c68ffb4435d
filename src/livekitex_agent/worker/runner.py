"""Run a worker until a signal: SIGTERM/SIGINT drains (report full, let jobs end, exit 0), a second one exits at once.

Also :func:`run_in_room`: run one job directly in a named room (``connect`` mode), no dispatch needed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal

from livekit.protocol import agent as pa
from livekit.protocol import models

from ..config import WorkerSettings
from ..log import redact
from .hosts import ProcessStartError
from .job import JobContext, JobInfo, JobOutcome, JobProcess, run_job
from .options import WorkerOptions
from .proc_child import _prewarm
from .protocol import AcceptArgs
from .tokens import agent_room_token, check_secret_strength
from .worker import Worker

logger = logging.getLogger("livekitex_agent.worker")


async def run_worker(
    options: WorkerOptions, settings: WorkerSettings, *, json_logs: bool = False, playground: bool = False
) -> int:
    """Run until SIGTERM/SIGINT, then drain for up to ``settings.drain_timeout``; returns the exit code.

    ``playground``: serve the browser playground on the HTTP server and print its address (dev mode).
    """
    check_secret_strength(settings.api_secret)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    worker = Worker(options, settings, json_logs=json_logs, playground=playground)
    signals_seen = 0

    def on_signal(signum: int) -> None:
        nonlocal signals_seen
        signals_seen += 1
        if signals_seen == 1:
            logger.info("%s: draining (send it again to exit at once)", signal.Signals(signum).name)
            stop.set()
            return
        logger.warning("%s again: exiting now", signal.Signals(signum).name)
        for host in worker.manager.hosts:
            host.kill("worker exiting at once")
        os._exit(1)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        try:
            await worker.start()
        except (OSError, ProcessStartError) as e:  # port in use, prewarm failing...
            logger.error("the worker cannot start: %s", redact(str(e)))
            return 1
        if worker.playground_url:
            print(f"playground: open {worker.playground_url} to talk to your agent", flush=True)
        await stop.wait()
        await worker.drain(settings.drain_timeout)
    finally:
        await worker.aclose()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    return 0


async def run_in_room(
    options: WorkerOptions,
    settings: WorkerSettings,
    room: str,
    *,
    participant_identity: str | None = None,
    agent_identity: str | None = None,
) -> JobOutcome:
    """Run the entrypoint once, in this process, in ``room`` (joined with a token minted here).

    ``participant_identity`` becomes the job's participant (the person the agent serves).
    The job ends like any other: room left, ``ctx.shutdown()``, or the entrypoint failing.
    """
    check_secret_strength(settings.api_secret)
    job_id = "SJ_" + secrets.token_hex(6)
    identity = agent_identity or f"agent-{job_id}"
    job = pa.Job(id=job_id, type=pa.JT_ROOM, room=models.Room(name=room), agent_name=settings.agent_name)
    if participant_identity:
        job.participant.CopyFrom(models.ParticipantInfo(identity=participant_identity))
    token = agent_room_token(
        settings.api_key,
        settings.api_secret,
        room=room,
        identity=identity,
        attributes={"lk.agent_name": settings.agent_name},
    )
    proc = JobProcess(executor="inprocess")
    error = await _prewarm(options.prewarm_fnc, proc)
    if error:
        return JobOutcome(pa.JS_FAILED, error, "prewarm failed")
    ctx = JobContext(JobInfo(job, settings.ws_url, token, AcceptArgs(identity=identity)), proc)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, ctx.shutdown, f"{signal.Signals(sig).name} received")
    try:
        outcome = await run_job(ctx, options.entrypoint, shutdown_timeout=options.shutdown_timeout)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    return outcome
