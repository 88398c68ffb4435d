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

Each step is N concurrent calls on a fresh worker; over ``--window`` seconds, once the calls
settled, the worker tree's CPU time and memory (PSS of every process, USS of the job processes) are
read; when the callers hang up they report every reply's delay, how many replies were heard shorter
than the TTS audio, and the clips said. The search (``capacity_search.py``) starts with one call
(that framework's own reply p95: the base), climbs ``--steps`` until a step fails, then bisects down
to one call: a step passes if its reply p95 is within ``--p95-margin`` ms (150) of the base and no
audio was dropped (every clip answered, every reply heard whole, every call taken). A marginal
step (p95 within ``--marginal`` ms of the bound, or audio dropped) runs once more and is judged on
both runs. The frameworks take turns, one step each (A, B, A, B...), so that other work on a shared
machine hits both alike; the whole search stops at ``--budget`` seconds, and each framework runs at
most ``--max-runs`` steps. A framework's capacity is its largest passing step, per core the worker
may use: with two or more CPUs the worker tree is pinned to the last one (``os.sched_setaffinity``)
and the server, the callers and this process to the others, so the callers do not count as the
worker's cost (the callers' own CPU is printed with each step).

Usage: ``python bench/capacity_sbs.py [--steps 1,4,8,16,24] [--window 20] [--budget 840] [--frameworks both]``
(``--prepare`` only builds the livekit-agents virtualenv). Last lines:
``RESULT capacity_sbs framework=... calls_per_core=... cpu_pct_per_call=... mem_mb_per_call=...
job_uss_mb=... reply_p95_ms=... limited_by=... failed_at=...`` per framework (``failed_at``: the
smallest failing step, 0 if none failed), then
``RESULT capacity_sbs_ratio calls_per_core_x=... mem_per_call_x=...`` (ours / theirs).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import time
from dataclasses import dataclass
from typing import Any

import psutil
from capacity_search import CapacitySearch, Run, Verdict, p95
from capacity_tree import Sample, WorkerTree, peer_python, sample
from livekit import api
from worker_capacity import CallerProcess, hang_up, start_server

from livekitex_agent.testing.livekit_server import LiveKitServer

REPLY_SECONDS = len("It is noon in Paris.") * 0.05  # both TTSs: 0.05 s per character
BENCH_TIMEOUT = 1020  # seconds scripts/collect_bench.py gives this benchmark: --budget (840) and start-up
FRAMEWORKS = ("livekitex_agent", "livekit-agents")


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
    caller_cpu_pct: float = 0.0  # the caller process, over the window, of one core
    load: float = 0.0  # the machine's 1-minute load average at the end of the window

    @property
    def p95_ms(self) -> float:
        return p95(self.delays_ms)

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
            f"job USS {self.job_uss_mb:.1f} MB in {len(self.loaded.job_uss_mb)} process(es); "
            f"callers {self.caller_cpu_pct:.0f}% of a core; load {self.load:.1f}"
        )


@dataclass
class Plan:
    window: float
    settle: float
    cycle: float
    worker_cpus: set[int]
    jobs_per_process: int


async def run_step(server: LiveKitServer, framework: str, calls: int, plan: Plan, window: float) -> Step:
    tag = "ours" if framework == "livekitex_agent" else "peer"
    agent_name = f"sbs-{tag}-{calls}-{os.getpid()}"
    rooms = [f"{agent_name}-{i}" for i in range(calls)]
    tree = WorkerTree(framework, server, agent_name, plan.worker_cpus, plan.jobs_per_process)
    seconds = 120.0 + calls * 3.0 + plan.settle + window  # the callers' own bound
    callers = CallerProcess(server, rooms, plan.cycle, seconds, min_reply=0.9 * REPLY_SECONDS)
    counts: dict[str, Any] = {}
    not_started = calls
    caller_cpu = 0.0
    try:
        await tree.start()
        await asyncio.sleep(2.0)  # the idle process prewarms
        idle = await sample(tree, min(plan.window, 3.0))
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
            caller = psutil.Process(callers.pid) if callers.pid else None
            caller_before = sum(caller.cpu_times()[:2]) if caller else 0.0
            started = time.monotonic()
            loaded = await sample(tree, window)
            if caller is not None:
                with contextlib.suppress(psutil.Error):
                    caller_cpu = (sum(caller.cpu_times()[:2]) - caller_before) / (time.monotonic() - started)
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
        caller_cpu * 100.0,
        os.getloadavg()[0],
    )


@dataclass
class Capacity:
    framework: str
    search: CapacitySearch[Step]
    cores: int
    errors: int = 0  # steps that could not run (a worker that did not start, callers that failed)

    @property
    def best(self) -> Step | None:
        """The last run of the largest passing step (its CPU and memory are reported)."""
        return self.search.best.runs[-1].record if self.search.best else None

    @property
    def calls_per_core(self) -> float:
        return self.search.largest_pass / self.cores


async def search_all(
    server: LiveKitServer, frameworks: tuple[str, ...], plan: Plan, args: argparse.Namespace
) -> list[Capacity]:
    """Every framework's search, one step each in turn, within ``args.budget`` seconds."""
    cores = max(1, len(plan.worker_cpus) or (os.cpu_count() or 1))
    steps = [int(c) for c in args.steps.split(",")]
    found = [
        Capacity(f, CapacitySearch(steps, args.p95_margin, args.marginal, args.max_runs), cores)
        for f in frameworks
    ]
    deadline = time.monotonic() + args.budget
    longest = 0.0  # the longest step so far, seconds: a step that would end past the deadline is not run
    for _ in range(args.max_runs + 2):  # bounded: each turn runs (or twice fails to run) a step per search
        todo = [c for c in found if c.search.next_calls() is not None]
        if not todo:
            break
        for c in todo:
            calls = c.search.next_calls()
            if calls is None:
                continue
            if time.monotonic() + longest > deadline:
                c.search.stop("budget")
                continue
            window = plan.window * (2.0 if calls == 1 else 1.0)  # the base: more replies
            began = time.monotonic()
            try:
                step = await run_step(server, c.framework, calls, plan, window)
            except (RuntimeError, TimeoutError, OSError) as e:  # once may be the machine: twice ends it
                c.errors += 1
                print(f"  {c.framework} {calls} call(s): the step could not run: {e}", flush=True)
                if c.errors >= 2:
                    c.search.stop("error")
                continue
            longest = max(longest, time.monotonic() - began)
            verdict = c.search.record(Run(calls, step.delays_ms, step.dropped, step))
            print(f"{step.line()}\n    -> {judged(verdict)}", flush=True)
    return found


def judged(verdict: Verdict[Step] | None) -> str:
    return "marginal: run again" if verdict is None else verdict.describe()


def result_line(c: Capacity) -> str:
    b = c.best
    v = c.search.best
    nan = float("nan")
    failed = c.search.failed.calls if c.search.failed else 0
    return (
        f"RESULT capacity_sbs framework={c.framework} calls_per_core={c.calls_per_core:.1f} "
        f"cpu_pct_per_call={b.cpu_pct_per_call if b else nan:.2f} "
        f"mem_mb_per_call={b.mem_mb_per_call if b else nan:.1f} job_uss_mb={b.job_uss_mb if b else nan:.1f} "
        f"reply_p95_ms={v.p95_ms if v else nan:.0f} limited_by={c.search.limited_by} failed_at={failed}"
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
    parser.add_argument(
        "--steps", default="1,4,8,16,24", help="the ladder of concurrent calls, from 1, before bisecting"
    )
    parser.add_argument("--window", type=float, default=20.0, help="seconds of measurement per step")
    parser.add_argument(
        "--settle", type=float, default=5.0, help="seconds between the last job start and measuring"
    )
    parser.add_argument("--cycle", type=float, default=4.0, help="seconds between a caller's turns")
    parser.add_argument("--p95-margin", type=float, default=150.0, help="ms over the one-call reply p95")
    parser.add_argument(
        "--marginal", type=float, default=40.0, help="ms around the bound within which a step runs again"
    )
    parser.add_argument("--budget", type=float, default=840.0, help="seconds for the whole search")
    parser.add_argument("--max-runs", type=int, default=12, help="steps at most per framework")
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
    if not steps or steps != sorted(set(steps)) or steps[0] != 1 or steps[-1] > 64:
        parser.error(f"--steps must ascend from 1 to at most 64, got {args.steps!r}")
    if not 60.0 <= args.budget <= 3600.0 or not 1 <= args.max_runs <= 30 or not 0.0 <= args.marginal <= 500.0:
        parser.error("--budget must be in 60..3600 s, --max-runs in 1..30, --marginal in 0..500 ms")
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
        results = await search_all(server, frameworks, plan, args)
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
