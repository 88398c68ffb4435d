"""WorkerManager without a server: jobs that never connect, in process and in-process modes."""

from __future__ import annotations

import asyncio
import json
import logging
import multiprocessing.forkserver
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import worker_entrypoints as ep
from livekit.protocol import agent as pa
from livekit.protocol import models
from worker_helpers import eventually

from livekitex_agent.config import load_worker_settings
from livekitex_agent.errors import ConfigError
from livekitex_agent.events import MetricsCollectedEvent
from livekitex_agent.metrics import TurnMetrics
from livekitex_agent.worker import JobInfo, JobOutcome, WorkerManager, WorkerOptions
from livekitex_agent.worker.hosts import ProcessStartError
from livekitex_agent.worker.manager import ManagedJob, ManagerCallbacks

TIMEOUT = float(os.environ.get("TEST_TIMEOUT", "20"))


class Recorder:
    """Collects job starts and ends reported by the manager."""

    def __init__(self) -> None:
        self.running: dict[str, asyncio.Future[None]] = {}
        self.ended: dict[str, asyncio.Future[JobOutcome]] = {}
        self.metrics: list[tuple[str, TurnMetrics]] = []

    def _fut(self, table: dict[str, Any], job_id: str) -> asyncio.Future[Any]:
        if job_id not in table:
            table[job_id] = asyncio.get_running_loop().create_future()
        return table[job_id]

    def callbacks(self) -> ManagerCallbacks:
        def on_running(job_id: str, record: ManagedJob) -> None:
            self._fut(self.running, job_id).set_result(None)

        def on_ended(job_id: str, outcome: JobOutcome, record: ManagedJob) -> None:
            self._fut(self.ended, job_id).set_result(outcome)

        return ManagerCallbacks(
            on_running=on_running,
            on_ended=on_ended,
            on_metrics=lambda job_id, m: self.metrics.append((job_id, m)),
        )

    async def wait_running(self, job_id: str) -> None:
        await asyncio.wait_for(self._fut(self.running, job_id), TIMEOUT)

    async def wait_ended(self, job_id: str) -> JobOutcome:
        return await asyncio.wait_for(self._fut(self.ended, job_id), TIMEOUT)


def job_info(job_id: str, out: Path, room: str | None = None) -> JobInfo:
    job = pa.Job(id=job_id, type=pa.JT_ROOM, room=models.Room(name=room or f"room-{job_id}"))
    job.metadata = json.dumps({"dir": str(out)})
    return JobInfo(job, "ws://127.0.0.1:9", "not-a-real-token")


def read(out: Path, job_id: str, event: str) -> dict[str, Any]:
    return json.loads((out / f"{job_id}.{event}.json").read_text())


async def wait_file(out: Path, job_id: str, event: str) -> dict[str, Any]:
    await eventually((out / f"{job_id}.{event}.json").exists, TIMEOUT)
    return read(out, job_id, event)


@pytest.fixture
async def make_manager() -> AsyncIterator[Callable[..., Any]]:
    managers: list[WorkerManager] = []

    async def make(entrypoint: Any, rec: Recorder, **opts: Any) -> WorkerManager:
        settings_keys = {
            "jobs_per_process",
            "num_idle_processes",
            "max_jobs",
            "memory_limit_mb",
            "memory_warn_mb",
        }
        settings = load_worker_settings(
            {k: v for k, v in opts.items() if k in settings_keys}, env={}, require_server=False
        )
        options = WorkerOptions(
            entrypoint=entrypoint, **{k: v for k, v in opts.items() if k not in settings_keys}
        )
        manager = WorkerManager(options, settings, rec.callbacks())
        managers.append(manager)
        await manager.start()
        return manager

    yield make
    for m in managers:
        await m.aclose(timeout=5.0)


async def test_inprocess_job_ends_on_shutdown_and_runs_callbacks(make_manager: Any, tmp_path: Path) -> None:
    rec = Recorder()
    manager = await make_manager(ep.wait_for_shutdown, rec, executor="inprocess", prewarm_fnc=ep.prewarm)
    await manager.launch(job_info("J1", tmp_path))
    await rec.wait_running("J1")
    started = await wait_file(tmp_path, "J1", "started")
    assert started["prewarm"]["prewarm_calls"] == 1
    assert manager.job_count == 1

    manager.shutdown_job("J1", "terminated by the server")
    outcome = await rec.wait_ended("J1")
    assert outcome.status == pa.JS_SUCCESS
    assert read(tmp_path, "J1", "shutdown")["reason"] == "terminated by the server"
    assert manager.job_count == 0


async def test_entrypoint_returning_without_connecting_ends_the_job(
    make_manager: Any, tmp_path: Path
) -> None:
    rec = Recorder()
    manager = await make_manager(ep.return_at_once, rec, executor="inprocess")
    await manager.launch(job_info("J1", tmp_path))
    outcome = await rec.wait_ended("J1")
    assert outcome.status == pa.JS_SUCCESS
    assert outcome.reason == "entrypoint returned without connecting"


async def test_crash_fails_only_its_job_and_is_logged_once(
    make_manager: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rec = Recorder()

    async def entry(ctx: Any) -> None:
        if ctx.job.id == "BAD":
            await ep.crash(ctx)
        else:
            await ep.wait_for_shutdown(ctx)

    manager = await make_manager(entry, rec, executor="inprocess")
    with caplog.at_level(logging.ERROR, logger="livekitex_agent"):
        await manager.launch(job_info("GOOD", tmp_path))
        await manager.launch(job_info("BAD", tmp_path))
        outcome = await rec.wait_ended("BAD")
    assert outcome.status == pa.JS_FAILED
    assert outcome.error == "RuntimeError: boom in the entrypoint"
    logged = [r for r in caplog.records if "boom" in r.getMessage() + (r.exc_text or "") + str(r.exc_info)]
    assert [r.getMessage() for r in logged] == ["job BAD: entrypoint failed"]  # once, with its traceback
    assert "GOOD" not in rec.ended
    assert [j.id for j in manager.running_jobs] == ["GOOD"]
    manager.shutdown_job("GOOD", "test over")
    assert (await rec.wait_ended("GOOD")).status == pa.JS_SUCCESS


async def test_slow_shutdown_callback_is_bounded(make_manager: Any, tmp_path: Path) -> None:
    rec = Recorder()
    manager = await make_manager(ep.slow_shutdown_callback, rec, executor="inprocess", shutdown_timeout=0.3)
    await manager.launch(job_info("J1", tmp_path))
    await rec.wait_running("J1")
    manager.shutdown_job("J1", "bye")
    outcome = await rec.wait_ended("J1")
    assert outcome.status == pa.JS_SUCCESS
    assert read(tmp_path, "J1", "shutdown")["reason"] == "bye"  # the other callback still ran


async def test_two_jobs_share_a_prewarmed_process_but_not_their_context(
    make_manager: Any, tmp_path: Path
) -> None:
    rec = Recorder()
    manager = await make_manager(
        ep.isolation, rec, prewarm_fnc=ep.prewarm, jobs_per_process=2, num_idle_processes=1, max_jobs=4
    )
    await manager.launch(job_info("A", tmp_path))
    await manager.launch(job_info("B", tmp_path))
    a, b = await rec.wait_ended("A"), await rec.wait_ended("B")
    assert (a.status, b.status) == (pa.JS_SUCCESS, pa.JS_SUCCESS)
    started = {j: read(tmp_path, j, "started") for j in ("A", "B")}
    checked = {j: read(tmp_path, j, "checked") for j in ("A", "B")}
    # one job process (not this one), prewarmed once, hosting both jobs
    assert started["A"]["pid"] == started["B"]["pid"] != os.getpid()
    assert started["A"]["prewarm"] == {"prewarm_pid": started["A"]["pid"], "prewarm_calls": 1}
    assert started["A"]["proc_userdata_id"] == started["B"]["proc_userdata_id"]
    # ... but each job sees its own context and userdata
    assert checked["A"] == checked["A"] | {"same_context": True, "userdata_room": "room-A"}
    assert checked["B"] == checked["B"] | {"same_context": True, "userdata_room": "room-B"}


@pytest.mark.skipif(not os.path.exists("/proc/self/smaps"), reason="needs Linux /proc")
async def test_job_processes_share_the_sdk_library_loaded_by_the_forkserver(
    make_manager: Any, tmp_path: Path
) -> None:
    """Relocated once in the forkserver, the SDK library's data pages are not copied per process."""
    rec = Recorder()
    manager = await make_manager(ep.native_library_pages, rec, jobs_per_process=1, num_idle_processes=1)
    await manager.launch(job_info("lib", tmp_path))
    seen = await wait_file(tmp_path, "lib", "started")
    assert seen["pid"] != os.getpid()
    assert seen["rss_kb"] > 1000  # the library is mapped and in use
    # loaded in each job process instead, its relocated data costs ~800 KB of private memory
    assert seen["private_dirty_kb"] < 200, seen


@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="needs Linux /proc")
@pytest.mark.parametrize("preload_local", [True, False])
async def test_forkserver_loads_the_silero_model_before_any_job(
    make_manager: Any, tmp_path: Path, preload_local: bool
) -> None:
    """By default a job process starts with the Silero library and 16 kHz model already loaded
    (shared with its forkserver), so its sessions' ``SileroVAD`` loads nothing of its own."""
    multiprocessing.forkserver._forkserver._stop()  # type: ignore[attr-defined]  # one per pytest process
    rec = Recorder()
    manager = await make_manager(
        ep.local_models_at_start, rec, jobs_per_process=1, num_idle_processes=1, preload_local=preload_local
    )
    await manager.launch(job_info("vad", tmp_path))
    seen = await wait_file(tmp_path, "vad", "started")
    assert seen["forkserver_maps_silero"] is preload_local
    assert seen["models_loaded"] == ([16000] if preload_local else [])


async def test_crash_in_a_job_process_leaves_the_sibling_job_running(
    make_manager: Any, tmp_path: Path
) -> None:
    rec = Recorder()
    manager = await make_manager(ep.crash_if_bad, rec, jobs_per_process=2, num_idle_processes=1)
    await manager.launch(job_info("GOOD", tmp_path))
    await rec.wait_running("GOOD")
    await manager.launch(job_info("BAD", tmp_path))
    outcome = await rec.wait_ended("BAD")
    assert outcome.status == pa.JS_FAILED
    assert outcome.error == "RuntimeError: boom in the entrypoint"
    good, bad = read(tmp_path, "GOOD", "started"), read(tmp_path, "BAD", "started")
    assert good["pid"] == bad["pid"]  # same process, which survived the crash
    assert [j.id for j in manager.running_jobs] == ["GOOD"]
    assert "GOOD" not in rec.ended
    manager.shutdown_job("GOOD", "test over")
    assert (await rec.wait_ended("GOOD")).status == pa.JS_SUCCESS


async def test_unresponsive_process_is_killed_and_its_job_failed(make_manager: Any, tmp_path: Path) -> None:
    rec = Recorder()
    manager = await make_manager(
        ep.block_event_loop,
        rec,
        num_idle_processes=1,
        jobs_per_process=1,
        ping_interval=0.2,
        ping_timeout=2.0,
    )
    await manager.launch(job_info("J1", tmp_path))
    pid = (await wait_file(tmp_path, "J1", "started"))["pid"]
    outcome = await rec.wait_ended("J1")
    assert outcome.status == pa.JS_FAILED
    assert f"job process {pid} unresponsive" in outcome.error
    assert pid not in [h.pid for h in manager.hosts]
    assert manager.healthy


async def test_process_over_memory_limit_is_killed(make_manager: Any, tmp_path: Path) -> None:
    rec = Recorder()
    manager = await make_manager(
        ep.allocate_memory,
        rec,
        num_idle_processes=1,
        memory_warn_mb=150,
        memory_limit_mb=250,
        ping_interval=0.2,
    )
    await manager.launch(job_info("J1", tmp_path))
    outcome = await rec.wait_ended("J1")
    assert outcome.status == pa.JS_FAILED
    assert "over the limit of 250 MB" in outcome.error


async def test_prewarm_failure_is_reported(make_manager: Any) -> None:
    with pytest.raises(ProcessStartError, match="prewarm failed: ValueError: model file missing"):
        await make_manager(ep.wait_for_shutdown, Recorder(), prewarm_fnc=ep.bad_prewarm, num_idle_processes=1)


async def test_unpicklable_entrypoint_is_a_config_error(make_manager: Any) -> None:
    async def local_entry(ctx: Any) -> None:
        pass

    with pytest.raises(ConfigError, match="local_entry.*executor='inprocess'"):
        await make_manager(local_entry, Recorder())


async def test_load_counts_accepted_and_running_jobs(make_manager: Any, tmp_path: Path) -> None:
    rec = Recorder()
    manager = await make_manager(
        ep.wait_for_shutdown, rec, executor="inprocess", max_jobs=4, load_fnc=lambda: 0.1
    )
    manager.sample_cpu()
    assert manager.load() == pytest.approx(0.1)  # CPU share when no job runs
    manager.reserve("J1", timeout=30)
    assert manager.load() == pytest.approx(0.25)
    await manager.launch(job_info("J1", tmp_path))
    await manager.launch(job_info("J2", tmp_path))
    assert manager.load() == pytest.approx(0.5)
    manager.reserve("J3", timeout=0.0)  # its assignment never comes
    await asyncio.sleep(0.01)
    assert manager.load() == pytest.approx(0.5)


@pytest.mark.parametrize("executor", ["process", "inprocess"])
async def test_turn_metrics_reach_the_main_process(make_manager: Any, tmp_path: Path, executor: str) -> None:
    rec = Recorder()
    manager = await make_manager(ep.report_turn_metrics, rec, executor=executor, num_idle_processes=1)
    await manager.launch(job_info("J1", tmp_path))
    assert (await rec.wait_ended("J1")).status == pa.JS_SUCCESS
    [(job_id, metrics)] = rec.metrics
    assert (job_id, metrics.speech_id, metrics.e2e_latency, metrics.llm_ttft) == ("J1", "J1-turn", 0.42, 0.12)


async def test_attached_session_ends_the_job_and_feeds_metrics(make_manager: Any, tmp_path: Path) -> None:
    from livekitex_agent import Agent, AgentSession
    from livekitex_agent.testing import FakeLLM

    rec = Recorder()

    async def entry(ctx: Any) -> None:
        session = AgentSession(llm=FakeLLM(default="hello there"))
        await session.start(Agent(instructions="be brief"))
        ctx.attach_session(session)
        await session.run(user_input="hi")
        # a spoken turn would emit this; a text turn has no speech latencies to report
        session.emit("metrics_collected", MetricsCollectedEvent(metrics=TurnMetrics("s1", e2e_latency=0.3)))
        await session.aclose()

    manager = await make_manager(entry, rec, executor="inprocess")
    await manager.launch(job_info("J1", tmp_path))
    outcome = await rec.wait_ended("J1")
    assert (outcome.status, outcome.reason) == (pa.JS_SUCCESS, "session closed (user_requested)")
    assert [(job_id, m.speech_id, m.e2e_latency) for job_id, m in rec.metrics] == [("J1", "s1", 0.3)]


async def test_job_shutdown_closes_the_attached_session(make_manager: Any, tmp_path: Path) -> None:
    from livekitex_agent import Agent, AgentSession
    from livekitex_agent.events import CloseReason
    from livekitex_agent.testing import FakeLLM

    rec = Recorder()
    closes: list[CloseReason] = []
    attached = asyncio.Event()

    async def entry(ctx: Any) -> None:
        session = AgentSession(llm=FakeLLM(default="ok"))
        session.on("close", lambda ev: closes.append(ev.reason))
        await session.start(Agent(instructions="be brief"))
        ctx.attach_session(session)
        attached.set()
        await asyncio.Event().wait()

    manager = await make_manager(entry, rec, executor="inprocess")
    await manager.launch(job_info("J1", tmp_path))
    await asyncio.wait_for(attached.wait(), TIMEOUT)
    manager.shutdown_job("J1", "terminated by the server")
    assert (await rec.wait_ended("J1")).status == pa.JS_SUCCESS
    assert closes == [CloseReason.JOB_SHUTDOWN]
