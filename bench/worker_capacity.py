"""Worker capacity: memory and CPU per added session, and dispatch latency, on a local livekit-server.

A worker (process executor, forkserver) registers with a local ``livekit-server --dev``. A caller
process (``bench/capacity_caller.py``, so the worker's numbers hold only the agents) joins
``--sessions`` rooms and, once its agent is there, says an espeak-ng clip every ``--cycle``
seconds. The bench dispatches the agent to the rooms one after the other. Each job runs a full
``AgentSession`` (``bench/capacity_agent.py``): Silero VAD (loaded once per process by the
prewarm function) and the testing fakes for STT, LLM and TTS with zero delays, through the
LiveKit room I/O. Measured:

- dispatch latency: offer accepted → entrypoint running (in its job process), p50/p95;
- memory per added session (``mem_per_session_mb``): what one more session costs a worker whose job
  process has room for it. The sessions are dispatched in steps; the first job process takes the
  first ``--jobs-per-process`` of them. The worker tree's PSS (main process, forkserver, job
  processes: PSS sums to the physical memory the tree uses) is measured with a quarter, half,
  three quarters and all of that process's sessions in conversation; the slope of the tree's PSS
  against the sessions (least squares) is the cost of an added session (the process, its SDK
  runtime and the spare process started beside it exist at every step). Printed beside it: the whole-load average
  (``mem_tree_per_session_mb``: tree PSS with every session in conversation minus the idle worker's,
  per session; it also counts the job processes started for the sessions, an amortized
  ``mem_per_process_mb / jobs_per_process`` each) and what a job process costs on its own;
- CPU per session: CPU time of the process tree over ``--window`` seconds, loaded minus idle, in %
  of one core;
- turns answered: replies the callers saw finish (the agent's ``lk.agent.state`` went back to
  listening) against the clips they said: the agents really converse.

``--compare`` runs the same load with one job per process first (the livekit-agents default).
By default the forkserver loads the Silero model (``WorkerOptions.preload_local``), so job processes
share it; ``--no-preload`` measures without that (each job process loads its own).
``--entrypoint silent`` uses a session-less entrypoint that only publishes paced silence;
``--entrypoint module:function`` another one (with the module's ``prewarm(proc)``, if it has one).

Usage: ``python bench/worker_capacity.py [--sessions 12] [--jobs-per-process 6] [--compare] [--no-preload]``
Last line: ``RESULT worker_capacity sessions=... mem_per_session_mb=... cpu_pct_per_session=...
dispatch_p50_ms=... dispatch_p95_ms=... mem_tree_per_session_mb=... mem_per_process_mb=... job_uss_mb=...``
(``job_uss_mb``: an idle prewarmed job process's own memory, psutil's USS)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from capacity_agent import prewarm, silent_voice_session, voice_agent_session
from livekit import api

from livekitex_agent.config import load_worker_settings
from livekitex_agent.metrics import percentile
from livekitex_agent.testing.livekit_server import LiveKitServer, start_livekit_server
from livekitex_agent.worker import Worker, WorkerOptions

MB = 1024 * 1024
HERE = Path(__file__).resolve().parent
CALLER = HERE / "capacity_caller.py"


# -- measuring -------------------------------------------------------------------------------------
@dataclass
class Sample:
    pss_mb: float
    uss_mb: float
    cpu_pct: float  # of one core
    hosts: list[tuple[int, float, float]] = field(default_factory=list)  # job processes: (jobs, private dirty MB, USS MB)


@dataclass
class RunResult:
    jobs_per_process: int
    sessions: int
    processes: int
    idle: Sample
    loaded: Sample
    dispatch_ms: list[float]
    steps: list[tuple[int, Sample]]  # (sessions, tree sample) while the first job process fills up
    said: int = 0
    replies: int = 0
    largest: list[tuple[str, float]] = field(default_factory=list)  # the busiest job process's, MB

    @property
    def mem_per_session_mb(self) -> float:
        """Tree PSS growth per session added to a job process that already hosts sessions: the
        least-squares slope of tree PSS against sessions over the steps (one step is noise)."""
        return self._slope([s.pss_mb for _, s in self.steps])

    @property
    def uss_per_added_session_mb(self) -> float:
        """The same slope for the tree's USS (memory no other process shares)."""
        return self._slope([s.uss_mb for _, s in self.steps])

    def _slope(self, ys: list[float]) -> float:
        if len(self.steps) < 2:
            return float("nan")
        xs = [float(n) for n, _ in self.steps]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)

    @property
    def mem_tree_per_session_mb(self) -> float:
        """Tree PSS with every session in conversation minus the idle worker's, per session."""
        return (self.loaded.pss_mb - self.idle.pss_mb) / self.sessions

    @property
    def mem_per_process_mb(self) -> float:
        """What each job process started for the load costs beyond its sessions' own memory."""
        added = len(self.loaded.hosts) - len(self.idle.hosts)
        if added <= 0:
            return float("nan")
        beyond = self.loaded.pss_mb - self.idle.pss_mb - self.sessions * self.mem_per_session_mb
        return beyond / added

    @property
    def uss_per_session_mb(self) -> float:
        return (self.loaded.uss_mb - self.idle.uss_mb) / self.sessions

    @property
    def cpu_pct_per_session(self) -> float:
        return max(0.0, self.loaded.cpu_pct - self.idle.cpu_pct) / self.sessions

    def split(self) -> tuple[float, float] | None:
        """(private dirty MB per job inside a busy process, that of an idle prewarmed process)."""
        idle = [h for h in self.idle.hosts if h[0] == 0]
        busy = [h for h in self.loaded.hosts if h[0] > 0]
        if not idle or not busy:
            return None
        idle_mb = sum(h[1] for h in idle) / len(idle)
        per_job = sum((h[1] - idle_mb) / h[0] for h in busy) / len(busy)
        return per_job, idle_mb

    def job_uss_mb(self) -> tuple[float, float] | None:
        """(USS of an idle prewarmed job process, USS of the busiest job process), MB."""
        idle = [h[2] for h in self.idle.hosts if h[0] == 0]
        busy = max(self.loaded.hosts, key=lambda h: h[0], default=None)
        if not idle or busy is None:
            return None
        return sum(idle) / len(idle), busy[2]


async def sample(worker: Worker, window: float) -> Sample:
    """The worker's tree: its main process, the forkserver and the job processes (jobs ≥ 0).

    Memory is read at the end of ``window``, CPU is averaged over it."""
    main = psutil.Process()
    procs: list[tuple[int, psutil.Process]] = [(-1, main)]
    for h in worker.manager.hosts:
        with contextlib.suppress(psutil.Error):
            if h.pid:
                proc = psutil.Process(h.pid)
                procs.append((len(h.job_ids), proc))
                parent = proc.ppid()
                if parent != main.pid and all(p.pid != parent for _, p in procs):
                    procs.append((-1, psutil.Process(parent)))  # the forkserver
    before = {p.pid: sum(p.cpu_times()[:2]) for _, p in procs}
    start = time.monotonic()
    await asyncio.sleep(window)
    elapsed = time.monotonic() - start
    result = Sample(0.0, 0.0, 0.0)
    for jobs, p in procs:
        with contextlib.suppress(psutil.Error):
            info = p.memory_full_info()
            pss, uss = getattr(info, "pss", info.rss) / MB, info.uss / MB
            result.pss_mb += pss
            result.uss_mb += uss
            result.cpu_pct += (sum(p.cpu_times()[:2]) - before[p.pid]) / elapsed * 100.0
            if jobs >= 0:
                result.hosts.append((jobs, private_dirty_mb(p.pid), uss))
    return result


def largest_private_mb(pid: int, count: int = 8) -> list[tuple[str, float]]:
    """A process's largest private (USS) costs by mapping name (Linux ``smaps``), MB, largest first."""
    sizes: dict[str, float] = {}
    name = "?"
    try:
        with open(f"/proc/{pid}/smaps") as f:
            for line in f:
                head = line.split(maxsplit=5)
                if head and not head[0].endswith(":"):  # a mapping's header line
                    name = head[5].strip() if len(head) > 5 else "[anonymous]"
                    name = os.path.basename(name) if name.startswith("/") else name
                elif head and head[0] in ("Private_Clean:", "Private_Dirty:"):
                    sizes[name] = sizes.get(name, 0.0) + int(head[1]) / 1024
    except OSError:
        return []
    return sorted(sizes.items(), key=lambda kv: -kv[1])[:count]


def private_dirty_mb(pid: int) -> float:
    """Pages only this process wrote (Linux ``smaps_rollup``): its own memory, without shared code."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Private_Dirty:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


async def wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


# -- the caller process ----------------------------------------------------------------------------
class CallerProcess:
    """``capacity_caller.py`` in a child process, spoken to over its stdin/stdout."""

    def __init__(
        self, server: LiveKitServer, rooms: list[str], cycle: float, seconds: float, min_reply: float = 0.0
    ) -> None:
        self._args = [
            sys.executable, str(CALLER), "--url", server.url, "--rooms", ",".join(rooms),
            "--cycle", str(cycle), "--seconds", str(seconds), "--min-reply", str(min_reply),
        ]  # fmt: skip
        self._env = {**os.environ, "LIVEKIT_API_KEY": server.api_key, "LIVEKIT_API_SECRET": server.api_secret}
        self._proc: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int | None:
        """The caller process's id, while it runs."""
        return self._proc.pid if self._proc is not None else None

    async def start(self, timeout: float = 60.0) -> None:
        self._proc = await asyncio.create_subprocess_exec(
            *self._args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=self._env
        )
        msg = await asyncio.wait_for(self._read(), timeout)
        if msg.get("event") != "ready":
            raise RuntimeError(f"the caller process did not get ready: {msg}")

    async def _read(self) -> dict[str, Any]:
        assert self._proc is not None and self._proc.stdout is not None
        line = await self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the caller process ended (exit code {await self._proc.wait()})")
        result: dict[str, Any] = json.loads(line)
        return result

    async def stop(self, timeout: float = 30.0) -> dict[str, Any]:
        """Ask the callers to hang up; their counts of said clips and finished replies."""
        proc = self._proc
        if proc is None:
            return {}
        try:
            assert proc.stdin is not None
            with contextlib.suppress(OSError):
                proc.stdin.write(b"stop\n")
                await proc.stdin.drain()
                proc.stdin.close()
            return await asyncio.wait_for(self._read(), timeout)
        finally:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
            await proc.wait()
            self._proc = None


async def hang_up(lk: api.LiveKitAPI, callers: CallerProcess, rooms: list[str]) -> dict[str, Any]:
    """The callers hang up (their counts), then the rooms are deleted, which ends the agents' jobs."""
    counts = await callers.stop()
    for room in rooms:
        with contextlib.suppress(Exception):
            await lk.room.delete_room(api.DeleteRoomRequest(room=room))
    return counts


# -- one run ---------------------------------------------------------------------------------------
@dataclass
class Plan:
    entrypoint: Any
    prewarm_fnc: Any
    sessions: int
    window: float
    settle: float
    cycle: float
    preload_local: bool = True


async def run_once(server: LiveKitServer, plan: Plan, jobs_per_process: int) -> RunResult:
    agent_name = f"capacity-{jobs_per_process}"
    options = WorkerOptions(
        entrypoint=plan.entrypoint,
        prewarm_fnc=plan.prewarm_fnc,
        preload_local=plan.preload_local,
        agent_name=agent_name,
        jobs_per_process=jobs_per_process,
        num_idle_processes=1,
        max_jobs=plan.sessions * 2,
        load_threshold=1.0,
        ws_url=server.url,
        api_key=server.api_key,
        api_secret=server.api_secret,
        http_port=0,
        memory_warn_mb=0,
        log_level="WARNING",
    )
    worker = Worker(options, load_worker_settings(options.settings_defaults(), env={}))
    dispatch_ms: list[float] = []
    steps: list[tuple[int, Sample]] = []
    worker.on(
        "job_started",
        lambda _id, record: dispatch_ms.append((record.running_at - record.accepted_at) * 1000.0),
    )
    rooms = [f"cap-{jobs_per_process}-{os.getpid()}-{i}" for i in range(plan.sessions)]
    seconds = 90.0 + plan.sessions * 2.0 + plan.settle + plan.window  # the callers' own bound
    callers = CallerProcess(server, rooms, plan.cycle, seconds)
    counts: dict[str, Any] = {}
    await worker.start()
    try:
        await worker.wait_registered(20)
        await asyncio.sleep(1.0)
        idle = await sample(worker, plan.window)
        await callers.start()
        # the first job process fills up in steps (a quarter of it, then each next quarter); the
        # tree is measured after each
        full = min(jobs_per_process, plan.sessions)
        marks = {max(1, round(full * k / 4)) for k in range(1, 5)} if full > 1 else set()
        async with api.LiveKitAPI(server.http_url, server.api_key, server.api_secret) as lk:
            for i, room in enumerate(rooms):
                await lk.agent_dispatch.create_dispatch(
                    api.CreateAgentDispatchRequest(agent_name=agent_name, room=room)
                )

                async def started(n: int = i + 1) -> bool:
                    return len(dispatch_ms) >= n

                await wait_for(started, 30, f"job {i + 1} to start")
                if i + 1 in marks:
                    await asyncio.sleep(plan.settle)  # the agents join, subscribe and converse
                    steps.append((i + 1, await sample(worker, plan.window / 4)))
            await asyncio.sleep(plan.settle)  # agents join, subscribe and start talking
            loaded = await sample(worker, plan.window)
            processes = len([h for h in worker.manager.hosts if h.job_ids])
            busiest = max(worker.manager.hosts, key=lambda h: len(h.job_ids), default=None)
            largest = largest_private_mb(busiest.pid) if busiest is not None and busiest.pid else []
            counts = await hang_up(lk, callers, rooms)
    finally:
        await callers.stop()
        await worker.aclose()
    said = sum(counts.get("said", {}).values())
    replies = sum(counts.get("replies", {}).values())
    return RunResult(
        jobs_per_process, plan.sessions, processes, idle, loaded, dispatch_ms, steps, said, replies, largest
    )


def report(r: RunResult) -> None:
    print(
        f"jobs_per_process={r.jobs_per_process}: {r.sessions} sessions in {r.processes} process(es); "
        f"tree PSS {r.idle.pss_mb:.0f} → {r.loaded.pss_mb:.0f} MB, USS {r.idle.uss_mb:.0f} → "
        f"{r.loaded.uss_mb:.0f} MB; per session of the load: {r.mem_tree_per_session_mb:.1f} MB PSS, "
        f"{r.uss_per_session_mb:.1f} MB USS, {r.cpu_pct_per_session:.2f}% CPU; "
        f"dispatch p50 {percentile(r.dispatch_ms, 50):.0f} ms, p95 {percentile(r.dispatch_ms, 95):.0f} ms; "
        f"turns answered {r.replies} of {r.said} clips said"
    )
    if len(r.steps) > 1:
        steps = ", ".join(f"{n}: {s.pss_mb:.1f}" for n, s in r.steps)
        print(
            f"  one job process filling up (sessions: tree PSS MB) {steps}; "
            f"{r.mem_per_session_mb:.1f} MB PSS ({r.uss_per_added_session_mb:.1f} MB USS) per added session; "
            f"each job process started for the load: "
            f"{r.mem_per_process_mb:.1f} MB beyond its sessions"
        )
    split = r.split()
    if split is not None:
        print(
            f"  private dirty memory: {split[0]:.1f} MB per session inside a job process; "
            f"an idle prewarmed job process: {split[1]:.1f} MB"
        )
    uss = r.job_uss_mb()
    if uss is not None:
        busy = max(h[0] for h in r.loaded.hosts)
        print(f"  job process USS: {uss[0]:.1f} MB idle and prewarmed, {uss[1]:.1f} MB with {busy} session(s)")
    if r.largest:
        print("  its largest private costs (MB): " + ", ".join(f"{n} {mb:.1f}" for n, mb in r.largest))


def start_server(attempts: int = 3) -> LiveKitServer:
    """A local livekit-server; another process may take one of its free ports first: try again."""
    for attempt in range(1, attempts + 1):
        try:
            return start_livekit_server()
        except RuntimeError as e:
            if attempt == attempts or "address already in use" not in str(e):
                raise
            logging.warning("livekit-server could not bind its ports (attempt %d); retrying", attempt)
    raise AssertionError("unreachable")


def load_entrypoint(spec: str) -> tuple[Any, Any]:
    if spec == "voice":
        return voice_agent_session, prewarm
    if spec == "silent":
        return silent_voice_session, None
    module, _, name = spec.partition(":")
    mod = importlib.import_module(module)
    return getattr(mod, name), getattr(mod, "prewarm", None)  # the module's prewarm(proc), if any


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=12)
    parser.add_argument("--jobs-per-process", type=int, default=6)
    parser.add_argument("--window", type=float, default=8.0, help="seconds of CPU measurement")
    parser.add_argument(
        "--settle", type=float, default=5.0, help="seconds between the last dispatch and measuring"
    )
    parser.add_argument("--cycle", type=float, default=4.0, help="seconds between a caller's turns")
    parser.add_argument(
        "--entrypoint", default="voice", help="voice (default: full AgentSession), silent, or module:function"
    )
    parser.add_argument("--compare", action="store_true", help="also run with one job per process")
    parser.add_argument(
        "--no-preload",
        action="store_true",
        help="no Silero model in the forkserver: each job process loads its own",
    )
    args = parser.parse_args()
    if not 1 <= args.sessions <= 100 or not 1 <= args.jobs_per_process <= 100:
        parser.error(
            f"--sessions={args.sessions} and --jobs-per-process={args.jobs_per_process} must be in 1..100"
        )
    if not 1.0 <= args.window <= 60.0 or not 0.0 <= args.settle <= 60.0 or not 2.0 <= args.cycle <= 30.0:
        parser.error("--window must be in 1..60 s, --settle in 0..60 s, --cycle in 2..30 s")
    logging.basicConfig(level=logging.WARNING)
    entrypoint, prewarm_fnc = load_entrypoint(args.entrypoint)
    plan = Plan(
        entrypoint, prewarm_fnc, args.sessions, args.window, args.settle, args.cycle, not args.no_preload
    )
    server = start_server()
    try:
        if args.compare:
            report(await run_once(server, plan, 1))
        result = await run_once(server, plan, args.jobs_per_process)
        report(result)
    finally:
        server.stop()
    print(
        f"RESULT worker_capacity sessions={result.sessions} mem_per_session_mb={result.mem_per_session_mb:.1f} "
        f"cpu_pct_per_session={result.cpu_pct_per_session:.2f} "
        f"dispatch_p50_ms={percentile(result.dispatch_ms, 50):.0f} "
        f"dispatch_p95_ms={percentile(result.dispatch_ms, 95):.0f} "
        f"mem_tree_per_session_mb={result.mem_tree_per_session_mb:.1f} "
        f"mem_per_process_mb={result.mem_per_process_mb:.1f} "
        f"job_uss_mb={(result.job_uss_mb() or (float('nan'),))[0]:.1f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
