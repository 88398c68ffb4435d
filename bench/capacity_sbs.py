"""Capacity side by side: live calls per core and per GB, livekitex_agent against livekit-agents, one run.

A local ``livekit-server --dev``; callers in their own process (``bench/capacity_caller.py``: an
espeak-ng clip every ``--cycle`` seconds per room, the agent's reply timed from the end of the clip
to its first audible frame); and a worker of each framework in turn, in its own process tree, doing
the same work: Silero VAD, an STT and an LLM that answer at once with a fixed line, a TTS of fixed
length (0.05 s per character), endpointing 0.5-3.0 s, no preemptive generation
(``capacity_sbs_ours.py``; ``capacity_sbs_peer.py``, run in a virtualenv this benchmark creates under
``.tools/livekit-agents-1.8`` with ``livekit-agents`` and ``livekit-plugins-silero`` 1.8.x, which pin
their own ``livekit``). Each framework keeps its own process model: ours packs
``--jobs-per-process`` calls into a job process, livekit-agents runs one job per process.

For each step of ``--steps`` (concurrent calls), a fresh worker takes that many calls; over
``--window`` seconds, once the calls settled, the worker tree's CPU time and memory (PSS of every
process, USS of the job processes) are read; when the callers hang up they report every reply's
delay, how many replies were heard shorter than the TTS audio, and the clips said. A step passes if
the reply delay p95 is within ``--p95-margin`` ms (150) of the one-call step's and no audio was
dropped (every clip answered, every reply heard whole); a failing step is run again once (other
work on a shared machine can spoil one window), and fails if it fails twice. A framework's capacity
is its largest passing step before the first failing one, per core the worker may use: with two or more CPUs the
worker tree is pinned to the last one (``os.sched_setaffinity``) and the server, the callers and
this process to the others, so the callers do not count as the worker's cost.

Usage: ``python bench/capacity_sbs.py [--steps 1,2,4,6,8,12,16] [--window 20] [--frameworks both]``
(``--prepare`` only builds the livekit-agents virtualenv). Last lines:
``RESULT capacity_sbs framework=... calls_per_core=... cpu_pct_per_call=... mem_mb_per_call=...
job_uss_mb=... reply_p95_ms=... limited_by=...`` per framework, then
``RESULT capacity_sbs_ratio calls_per_core_x=... mem_per_call_x=...`` (ours / theirs).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from livekit import api
from worker_capacity import CallerProcess, hang_up, start_server

from livekitex_agent.metrics import percentile
from livekitex_agent.testing.livekit_server import LiveKitServer

MB = 1024 * 1024
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PEER_VENV = ROOT / ".tools" / "livekit-agents-1.8"
PEER_PACKAGES = ("livekit-agents>=1.8,<1.9", "livekit-plugins-silero>=1.8,<1.9")
REPLY_SECONDS = len("It is noon in Paris.") * 0.05  # both TTSs: 0.05 s per character
FRAMEWORKS = ("livekitex_agent", "livekit-agents")


# -- the livekit-agents virtualenv ------------------------------------------------------------------
def peer_python() -> Path:
    """The livekit-agents virtualenv's Python, created (and cached under ``.tools``) on first use."""
    python = PEER_VENV / "bin" / "python"
    check = [str(python), "-c", "import livekit.agents, livekit.plugins.silero"]
    if python.exists() and subprocess.run(check, capture_output=True, timeout=120).returncode == 0:
        return python
    print(f"creating the livekit-agents virtualenv in {PEER_VENV} ...", flush=True)
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--clear", str(PEER_VENV)], check=True, timeout=300)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, *PEER_PACKAGES], check=True, timeout=1200)
    done = subprocess.run(check, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"the livekit-agents virtualenv does not import: {done.stderr[-2000:]}")
    return python


# -- a worker in its own process tree ---------------------------------------------------------------
class WorkerTree:
    """One framework's worker process (and everything it starts), pinned to ``cpus``."""

    def __init__(
        self, framework: str, server: LiveKitServer, agent_name: str, cpus: set[int], jpp: int
    ) -> None:
        self.framework = framework
        self._pids = tempfile.NamedTemporaryFile(prefix="sbs-pids-", delete=False)  # noqa: SIM115
        self._pids.close()
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env.update(
            LIVEKIT_URL=server.url,
            LIVEKIT_API_KEY=server.api_key,
            LIVEKIT_API_SECRET=server.api_secret,
            SBS_AGENT_NAME=agent_name,
            SBS_PIDS_FILE=self._pids.name,
        )
        if framework == "livekitex_agent":
            env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(HERE)])
            self._cmd = [sys.executable, str(HERE / "capacity_sbs_ours.py"), "--jobs-per-process", str(jpp)]
            self._ready = "registered"
        else:
            self._cmd = [str(peer_python()), str(HERE / "capacity_sbs_peer.py"), "start"]
            self._ready = "registered worker"
        self._env = env
        self._cpus = cpus
        self.proc: asyncio.subprocess.Process | None = None
        self._tail: deque[str] = deque(maxlen=40)
        self._reader: asyncio.Task[None] | None = None

    async def start(self, timeout: float = 90.0) -> None:
        cpus = self._cpus
        self.proc = await asyncio.create_subprocess_exec(
            *self._cmd,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=self._env,
            preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
        )
        registered = asyncio.get_running_loop().create_future()
        self._reader = asyncio.get_running_loop().create_task(self._read(registered))
        try:
            await asyncio.wait_for(registered, timeout)
        except (TimeoutError, RuntimeError) as e:
            raise RuntimeError(f"{self.framework} worker did not register ({e}):\n{self.log()}") from None

    async def _read(self, registered: asyncio.Future[None]) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            text = line.decode(errors="replace").rstrip()
            self._tail.append(text)
            if self._ready in text and not registered.done():
                registered.set_result(None)
        if not registered.done():
            registered.set_exception(RuntimeError(f"exited with {await self.proc.wait()}"))

    def log(self) -> str:
        """The worker's last lines of output."""
        return "\n".join(self._tail)

    def processes(self) -> list[psutil.Process]:
        if self.proc is None:
            return []
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(self.proc.pid)
            return [root, *root.children(recursive=True)]
        return []

    def job_pids(self) -> set[int]:
        with open(self._pids.name) as f:
            return {int(line) for line in f if line.strip()}

    def jobs_started(self) -> int:
        with open(self._pids.name) as f:
            return sum(1 for line in f if line.strip())

    async def stop(self) -> None:
        procs = self.processes()
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(OSError):
                assert self.proc.stdin is not None
                self.proc.stdin.close()
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(self.proc.wait(), 15.0)
            except TimeoutError:
                pass
        for p in procs:  # what is left of the tree (by pid: only what this worker started)
            with contextlib.suppress(psutil.Error):
                p.kill()
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                await self.proc.wait()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        os.unlink(self._pids.name)


@dataclass
class Sample:
    cpu_pct: float = 0.0  # of one core, the whole tree
    pss_mb: float = 0.0  # the whole tree
    job_uss_mb: list[float] = field(default_factory=list)


async def sample(tree: WorkerTree, window: float) -> Sample:
    procs = tree.processes()
    before: dict[int, float] = {}
    for p in procs:
        with contextlib.suppress(psutil.Error):
            before[p.pid] = sum(p.cpu_times()[:2])
    start = time.monotonic()
    await asyncio.sleep(window)
    elapsed = time.monotonic() - start
    jobs = tree.job_pids()
    result = Sample()
    for p in procs:
        with contextlib.suppress(psutil.Error):
            if p.pid in before:
                result.cpu_pct += (sum(p.cpu_times()[:2]) - before[p.pid]) / elapsed * 100.0
            info = p.memory_full_info()
            result.pss_mb += getattr(info, "pss", info.rss) / MB
            if p.pid in jobs:
                result.job_uss_mb.append(info.uss / MB)
    return result


# -- one step: N calls on a fresh worker ------------------------------------------------------------
@dataclass
class Step:
    framework: str
    calls: int
    idle: Sample
    loaded: Sample
    said: int
    replies: int
    delays_ms: list[float]
    short: int
    not_started: int = 0  # calls whose agent never started

    @property
    def p95_ms(self) -> float:
        return percentile(self.delays_ms, 95) if self.delays_ms else float("nan")

    @property
    def dropped(self) -> int:
        """Clips never answered (no audible reply), replies heard shorter than the TTS audio, and calls
        whose agent never started."""
        return max(0, self.said - len(self.delays_ms)) + self.short + self.not_started

    @property
    def cpu_pct_per_call(self) -> float:
        return self.loaded.cpu_pct / self.calls

    @property
    def mem_mb_per_call(self) -> float:
        return self.loaded.pss_mb / self.calls

    @property
    def job_uss_mb(self) -> float:
        uss = self.loaded.job_uss_mb
        return sum(uss) / len(uss) if uss else float("nan")

    def line(self) -> str:
        return (
            f"  {self.framework} {self.calls} call(s): reply p95 {self.p95_ms:.0f} ms, "
            f"{len(self.delays_ms)} replies to {self.said} clips, {self.short} short, dropped {self.dropped}; "
            f"tree CPU {self.loaded.cpu_pct:.0f}% of a core (idle {self.idle.cpu_pct:.1f}%), "
            f"PSS {self.loaded.pss_mb:.0f} MB (idle {self.idle.pss_mb:.0f}), "
            f"job USS {self.job_uss_mb:.1f} MB in {len(self.loaded.job_uss_mb)} process(es)"
        )


@dataclass
class Plan:
    window: float
    settle: float
    cycle: float
    worker_cpus: set[int]
    jobs_per_process: int


async def run_step(server: LiveKitServer, framework: str, calls: int, plan: Plan) -> Step:
    tag = "ours" if framework == "livekitex_agent" else "peer"
    agent_name = f"sbs-{tag}-{calls}-{os.getpid()}"
    rooms = [f"{agent_name}-{i}" for i in range(calls)]
    tree = WorkerTree(framework, server, agent_name, plan.worker_cpus, plan.jobs_per_process)
    seconds = 120.0 + calls * 3.0 + plan.settle + plan.window  # the callers' own bound
    callers = CallerProcess(server, rooms, plan.cycle, seconds, min_reply=0.9 * REPLY_SECONDS)
    counts: dict[str, Any] = {}
    not_started = calls
    try:
        await tree.start()
        await asyncio.sleep(2.0)  # the idle process prewarms
        idle = await sample(tree, min(plan.window, 4.0))
        await callers.start()
        async with api.LiveKitAPI(server.http_url, server.api_key, server.api_secret) as lk:
            for room in rooms:
                await lk.agent_dispatch.create_dispatch(
                    api.CreateAgentDispatchRequest(agent_name=agent_name, room=room)
                )
            deadline = time.monotonic() + 30.0 + calls * 3.0
            while tree.jobs_started() < calls and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.2)  # the job processes write the file; nothing to wait on here
            not_started = calls - tree.jobs_started()
            if not_started:  # the worker could not take them all: the step fails (those calls drop)
                logging.warning("%s: %d of %d calls never got an agent", framework, not_started, calls)
            await asyncio.sleep(plan.settle)  # the agents join, subscribe and converse
            loaded = await sample(tree, plan.window)
            counts = await hang_up(lk, callers, rooms)
    finally:
        await callers.stop()
        await tree.stop()
    return Step(
        framework,
        calls,
        idle,
        loaded,
        sum(counts.get("said", {}).values()),
        sum(counts.get("replies", {}).values()),
        list(counts.get("delays_ms", [])),
        int(counts.get("short", 0)),
        not_started,
    )


@dataclass
class Capacity:
    framework: str
    best: Step | None
    limited_by: str
    cores: int

    @property
    def calls_per_core(self) -> float:
        return (self.best.calls if self.best else 0) / self.cores


async def ramp(
    server: LiveKitServer, framework: str, steps: list[int], plan: Plan, margin_ms: float
) -> Capacity:
    base: float | None = None
    best: Step | None = None
    cores = max(1, len(plan.worker_cpus) or (os.cpu_count() or 1))
    for calls in steps:
        for attempt in (1, 2):  # a failing step runs again once: the machine may be shared
            step = await run_step(server, framework, calls, plan)
            print(step.line(), flush=True)
            if base is None:
                base = step.p95_ms
            failed = "dropped" if step.dropped else "p95" if step.p95_ms > base + margin_ms else ""
            if not failed:
                break
            if attempt == 2:
                return Capacity(framework, best, failed, cores)
        best = step
    return Capacity(framework, best, "top_step", cores)


def result_line(c: Capacity) -> str:
    b = c.best
    nan = float("nan")
    return (
        f"RESULT capacity_sbs framework={c.framework} calls_per_core={c.calls_per_core:.1f} "
        f"cpu_pct_per_call={b.cpu_pct_per_call if b else nan:.2f} "
        f"mem_mb_per_call={b.mem_mb_per_call if b else nan:.1f} job_uss_mb={b.job_uss_mb if b else nan:.1f} "
        f"reply_p95_ms={b.p95_ms if b else nan:.0f} limited_by={c.limited_by}"
    )


def pin(cpus: list[int]) -> tuple[set[int], str]:
    """(the worker's CPUs, what was done): the worker gets the last CPU, everything else the rest."""
    if len(cpus) < 2:
        return set(), f"not pinned: this process may use only CPU {cpus}"
    os.sched_setaffinity(0, set(cpus[:-1]))  # this process, and the server and callers it starts
    return {
        cpus[-1]
    }, f"worker tree pinned to CPU {cpus[-1]}; server, callers and the benchmark to {cpus[:-1]}"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="1,2,4,6,8,12,16", help="concurrent calls per step, ascending")
    parser.add_argument("--window", type=float, default=20.0, help="seconds of measurement per step")
    parser.add_argument(
        "--settle", type=float, default=5.0, help="seconds between the last job start and measuring"
    )
    parser.add_argument("--cycle", type=float, default=4.0, help="seconds between a caller's turns")
    parser.add_argument("--p95-margin", type=float, default=150.0, help="ms over the one-call reply p95")
    parser.add_argument(
        "--jobs-per-process", type=int, default=4, help="ours: calls per job process (our default)"
    )
    parser.add_argument("--frameworks", choices=("both", *FRAMEWORKS), default="both")
    parser.add_argument("--prepare", action="store_true", help="only build the livekit-agents virtualenv")
    args = parser.parse_args()
    try:
        steps = [int(s) for s in args.steps.split(",")]
    except ValueError:
        parser.error(f"--steps must be comma-separated integers, got {args.steps!r}")
    if not steps or steps != sorted(set(steps)) or steps[0] < 1 or steps[-1] > 64:
        parser.error(f"--steps must ascend within 1..64, got {args.steps!r}")
    if not 1.0 <= args.window <= 60.0 or not 0.0 <= args.settle <= 60.0 or not 2.0 <= args.cycle <= 30.0:
        parser.error("--window must be in 1..60 s, --settle in 0..60 s, --cycle in 2..30 s")
    if args.prepare:
        print(f"livekit-agents virtualenv ready: {peer_python()}")
        return
    logging.basicConfig(level=logging.WARNING)
    frameworks = FRAMEWORKS if args.frameworks == "both" else (args.frameworks,)
    if "livekit-agents" in frameworks:
        peer_python()  # before any measurement
    worker_cpus, pinning = pin(sorted(os.sched_getaffinity(0)))
    print(f"{pinning}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", flush=True)
    plan = Plan(args.window, args.settle, args.cycle, worker_cpus, args.jobs_per_process)
    server = start_server()
    if worker_cpus:
        os.sched_setaffinity(server.process.pid, os.sched_getaffinity(0))
    try:
        results = [await ramp(server, f, steps, plan, args.p95_margin) for f in frameworks]
    finally:
        server.stop()
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    for c in results:
        print(result_line(c))
    if len(results) == 2 and all(c.best for c in results):
        ours, peer = results
        assert ours.best is not None and peer.best is not None
        print(
            f"RESULT capacity_sbs_ratio calls_per_core_x={ours.calls_per_core / peer.calls_per_core:.2f} "
            f"mem_per_call_x={ours.best.mem_mb_per_call / peer.best.mem_mb_per_call:.2f}"
        )


if __name__ == "__main__":
    asyncio.run(main())
