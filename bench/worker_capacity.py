"""Worker capacity: memory and CPU per added session, and dispatch latency, on a local livekit-server.

A worker (process executor) registers with a local ``livekit-server --dev``; the bench dispatches
``--sessions`` rooms one after the other and measures

- dispatch latency: offer accepted → entrypoint running (in its job process), p50/p95;
- memory per added session: PSS (and USS) of the worker's process tree, all sessions running,
  minus the same with the worker idle (prewarmed), divided by the number of sessions;
- CPU per session: CPU time of the process tree over a window, same difference, in % of one core.

The default entrypoint joins the room and publishes a microphone track fed with paced silence
(the shape of a voice agent without its models); ``--entrypoint module:function`` plugs in another
one (e.g. a full AgentSession once the caller audio is scripted). ``--compare`` also runs the same
load with one job per process (the livekit-agents default) for reference.

Usage: ``python bench/worker_capacity.py [--sessions 12] [--jobs-per-process 6] [--compare]``
Last line: ``RESULT worker_capacity sessions=... mem_per_session_mb=... cpu_pct_per_session=...
dispatch_p50_ms=... dispatch_p95_ms=...``
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import time
from dataclasses import dataclass
from typing import Any

import psutil
from livekit import api, rtc

from livekitex_agent.config import load_worker_settings
from livekitex_agent.metrics import percentile
from livekitex_agent.testing.livekit_server import LiveKitServer, start_livekit_server
from livekitex_agent.worker import JobContext, Worker, WorkerOptions

MB = 1024 * 1024
MAX_SESSION_SECONDS = 600  # the default entrypoint's loop is bounded


async def silent_voice_session(ctx: JobContext) -> None:
    """Join, publish a microphone track and feed it paced 20 ms frames of silence until shut down."""
    await ctx.connect()
    source = rtc.AudioSource(48000, 1)
    track = rtc.LocalAudioTrack.create_audio_track("agent-voice", source)
    options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
    await ctx.room.local_participant.publish_track(track, options)
    frame = rtc.AudioFrame.create(48000, 1, 960)
    for _ in range(MAX_SESSION_SECONDS * 50):
        if ctx.is_shutting_down:
            break
        await source.capture_frame(frame)  # waits while the source's queue is full: real-time pacing


@dataclass
class Sample:
    pss_mb: float
    uss_mb: float
    cpu_pct: float  # of one core


@dataclass
class RunResult:
    jobs_per_process: int
    sessions: int
    processes: int
    idle: Sample
    loaded: Sample
    dispatch_ms: list[float]

    @property
    def mem_per_session_mb(self) -> float:
        return (self.loaded.pss_mb - self.idle.pss_mb) / self.sessions

    @property
    def uss_per_session_mb(self) -> float:
        return (self.loaded.uss_mb - self.idle.uss_mb) / self.sessions

    @property
    def cpu_pct_per_session(self) -> float:
        return max(0.0, self.loaded.cpu_pct - self.idle.cpu_pct) / self.sessions


def tree_pids(worker: Worker) -> list[int]:
    return [os.getpid(), *(h.pid for h in worker.manager.hosts if h.pid)]


async def sample(worker: Worker, window: float) -> Sample:
    procs = []
    for pid in tree_pids(worker):
        try:
            procs.append(psutil.Process(pid))
        except psutil.Error:
            pass
    before = {p.pid: sum(p.cpu_times()[:2]) for p in procs}
    start = time.monotonic()
    await asyncio.sleep(window)
    elapsed = time.monotonic() - start
    pss = uss = cpu = 0.0
    for p in procs:
        try:
            info = p.memory_full_info()
            pss += getattr(info, "pss", info.rss) / MB
            uss += info.uss / MB
            cpu += (sum(p.cpu_times()[:2]) - before[p.pid]) / elapsed * 100.0
        except psutil.Error:
            pass
    return Sample(pss, uss, cpu)


async def wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def run_once(
    server: LiveKitServer, entrypoint: Any, sessions: int, jobs_per_process: int, window: float
) -> RunResult:
    agent_name = f"capacity-{jobs_per_process}"
    options = WorkerOptions(
        entrypoint=entrypoint,
        agent_name=agent_name,
        jobs_per_process=jobs_per_process,
        num_idle_processes=1,
        max_jobs=sessions * 2,
        load_threshold=1.0,
        ws_url=server.url,
        api_key=server.api_key,
        api_secret=server.api_secret,
        http_port=0,
        memory_warn_mb=0,
    )
    worker = Worker(options, load_worker_settings(options.settings_defaults(), env={}))
    dispatch_ms: list[float] = []

    def on_started(job_id: str, record: Any) -> None:
        dispatch_ms.append((record.running_at - record.accepted_at) * 1000.0)

    worker.on("job_started", on_started)
    await worker.start()
    try:
        await worker.wait_registered(20)
        await asyncio.sleep(1.0)
        idle = await sample(worker, window)
        rooms = [f"cap-{jobs_per_process}-{i}" for i in range(sessions)]
        async with api.LiveKitAPI(server.http_url, server.api_key, server.api_secret) as lk:
            for i, room in enumerate(rooms):
                await lk.agent_dispatch.create_dispatch(
                    api.CreateAgentDispatchRequest(agent_name=agent_name, room=room)
                )

                async def started(n: int = i + 1) -> bool:
                    return len(dispatch_ms) >= n

                await wait_for(started, 30, f"job {i + 1} to start")

            async def all_joined() -> bool:
                for room in rooms:
                    resp = await lk.room.list_participants(api.ListParticipantsRequest(room=room))
                    if not any(
                        p.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT for p in resp.participants
                    ):
                        return False
                return True

            await wait_for(all_joined, 60, "every agent to join its room")
            await asyncio.sleep(2.0)  # let the media settle
            loaded = await sample(worker, window)
            processes = len([h for h in worker.manager.hosts if h.job_ids])
            for room in rooms:
                await lk.room.delete_room(api.DeleteRoomRequest(room=room))
    finally:
        await worker.aclose()
    return RunResult(jobs_per_process, sessions, processes, idle, loaded, dispatch_ms)


def report(r: RunResult) -> None:
    print(
        f"jobs_per_process={r.jobs_per_process}: {r.sessions} sessions in {r.processes} process(es); "
        f"idle PSS {r.idle.pss_mb:.0f} MB, loaded PSS {r.loaded.pss_mb:.0f} MB "
        f"(USS {r.idle.uss_mb:.0f} → {r.loaded.uss_mb:.0f} MB); "
        f"per session: {r.mem_per_session_mb:.1f} MB PSS, {r.uss_per_session_mb:.1f} MB USS, "
        f"{r.cpu_pct_per_session:.2f}% CPU; dispatch p50 {percentile(r.dispatch_ms, 50):.0f} ms, "
        f"p95 {percentile(r.dispatch_ms, 95):.0f} ms"
    )


def load_entrypoint(spec: str | None) -> Any:
    if not spec:
        return silent_voice_session
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=12)
    parser.add_argument("--jobs-per-process", type=int, default=6)
    parser.add_argument("--window", type=float, default=5.0, help="seconds of CPU measurement")
    parser.add_argument("--entrypoint", default=None, help="module:function (default: silent voice session)")
    parser.add_argument("--compare", action="store_true", help="also run with one job per process")
    args = parser.parse_args()
    if not 1 <= args.sessions <= 200 or args.jobs_per_process < 1:
        parser.error(f"--sessions={args.sessions} must be in 1..200 and --jobs-per-process ≥ 1")
    logging.basicConfig(level=logging.WARNING)
    entrypoint = load_entrypoint(args.entrypoint)
    server = start_livekit_server()
    try:
        if args.compare:
            report(await run_once(server, entrypoint, args.sessions, 1, args.window))
        result = await run_once(server, entrypoint, args.sessions, args.jobs_per_process, args.window)
        report(result)
    finally:
        server.stop()
    print(
        f"RESULT worker_capacity sessions={result.sessions} mem_per_session_mb={result.mem_per_session_mb:.1f} "
        f"cpu_pct_per_session={result.cpu_pct_per_session:.2f} "
        f"dispatch_p50_ms={percentile(result.dispatch_ms, 50):.0f} "
        f"dispatch_p95_ms={percentile(result.dispatch_ms, 95):.0f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
