"""SIGTERM on a worker process (run from an agent script): drain, let the job finish, exit 0."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from livekit import api
from worker_helpers import eventually, eventually_async

from livekitex_agent.testing.livekit_server import LiveKitServer, free_port

pytestmark = pytest.mark.livekit
APP = Path(__file__).with_name("worker_app.py")
TIMEOUT = 30.0
TEST_KEY = "sk-proj-TESTkey0123456789abcdef"


class WorkerProcess:
    def __init__(self, server: LiveKitServer, out: Path) -> None:
        self.agent_name = f"drain-{uuid.uuid4().hex[:8]}"
        self.port = free_port()
        self.out = out
        self.log = (out / "worker.log").open("wb")
        env = {
            **os.environ,
            "LIVEKIT_URL": server.url,
            "LIVEKIT_API_KEY": server.api_key,
            "LIVEKIT_API_SECRET": server.api_secret,
            "LIVEKITEX_AGENT_NAME": self.agent_name,
            "LIVEKITEX_NUM_IDLE_PROCESSES": "1",
            "TEST_OUT_DIR": str(out),
            "TEST_KEY": TEST_KEY,
        }
        self.proc = subprocess.Popen(
            [sys.executable, str(APP), "start", "--http-host", "127.0.0.1", "--http-port", str(self.port)],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def logs(self) -> str:
        self.log.flush()
        return (self.out / "worker.log").read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.log.close()


@pytest.fixture
def worker_process(livekit_server: LiveKitServer, tmp_path: Path) -> Iterator[WorkerProcess]:
    wp = WorkerProcess(livekit_server, tmp_path)
    yield wp
    wp.stop()


async def get(http: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    try:
        async with http.get(url) as resp:
            return resp.status, await resp.text()
    except aiohttp.ClientConnectionError:
        return 0, ""


async def start_job(
    wp: WorkerProcess, livekit_server: LiveKitServer, http: aiohttp.ClientSession, prefix: str = "room"
) -> str:
    async def healthy() -> bool:
        return (await get(http, wp.url("/")))[0] == 200

    await eventually_async(healthy, TIMEOUT)
    room = f"{prefix}-{uuid.uuid4().hex[:8]}"
    async with api.LiveKitAPI(
        livekit_server.http_url, livekit_server.api_key, livekit_server.api_secret
    ) as lk:
        await lk.agent_dispatch.create_dispatch(
            api.CreateAgentDispatchRequest(agent_name=wp.agent_name, room=room)
        )
    try:
        await eventually((wp.out / f"{room}.started").exists, TIMEOUT)
    except TimeoutError:
        server_log = [
            line for line in livekit_server.logs().splitlines() if room in line or wp.agent_name in line
        ]
        raise AssertionError("job did not start:\n" + wp.logs() + "\n".join(server_log)[-4000:]) from None
    return room


async def test_the_agent_script_runs_once_in_the_forkserver_not_in_each_job_process(
    worker_process: WorkerProcess, livekit_server: LiveKitServer
) -> None:
    """What the script imports is loaded once and shared by every job process forked afterwards."""
    wp = worker_process
    async with aiohttp.ClientSession() as http:
        room = await start_job(wp, livekit_server, http)
    job_pid = int((wp.out / f"{room}.started").read_text())
    runs = [line.split() for line in (wp.out / "script-runs.txt").read_text().splitlines()]
    assert [name for _, name in runs] == ["__main__", "__mp_main__"], runs
    assert runs[0][0] == str(wp.proc.pid)
    assert str(job_pid) not in {pid for pid, _ in runs}


async def test_sigterm_drains_running_job_then_exits_zero(
    worker_process: WorkerProcess, livekit_server: LiveKitServer
) -> None:
    wp = worker_process
    async with aiohttp.ClientSession() as http:
        room = await start_job(wp, livekit_server, http)
        job_pid = int((wp.out / f"{room}.started").read_text())
        assert job_pid != wp.proc.pid  # the job runs in a job process

        wp.proc.send_signal(signal.SIGTERM)

        async def draining() -> bool:
            status, body = await get(http, wp.url("/worker"))
            return status == 200 and '"draining": true' in body

        await eventually_async(draining, TIMEOUT)
        # a new dispatch is not taken while draining
        late = f"late-{uuid.uuid4().hex[:8]}"
        async with api.LiveKitAPI(
            livekit_server.http_url, livekit_server.api_key, livekit_server.api_secret
        ) as lk:
            await lk.agent_dispatch.create_dispatch(
                api.CreateAgentDispatchRequest(agent_name=wp.agent_name, room=late)
            )
        await asyncio.sleep(1.0)
        assert not (wp.out / f"{late}.started").exists()
        assert wp.proc.poll() is None, wp.logs()  # still waiting for the running job

        (wp.out / f"{room}.release").write_text("")
    code = await asyncio.to_thread(wp.proc.wait, TIMEOUT)
    assert code == 0, wp.logs()
    assert (wp.out / f"{room}.finished").exists()
    assert not (wp.out / f"{late}.started").exists()


async def test_second_signal_exits_at_once(
    worker_process: WorkerProcess, livekit_server: LiveKitServer
) -> None:
    wp = worker_process
    async with aiohttp.ClientSession() as http:
        room = await start_job(wp, livekit_server, http)
        wp.proc.send_signal(signal.SIGTERM)

        async def draining() -> bool:
            return '"draining": true' in (await get(http, wp.url("/worker")))[1]

        await eventually_async(draining, TIMEOUT)
        wp.proc.send_signal(signal.SIGINT)
    code = await asyncio.to_thread(wp.proc.wait, TIMEOUT)
    assert code == 1, wp.logs()
    assert not (wp.out / f"{room}.finished").exists()  # the job did not get to finish


async def test_start_mode_writes_one_redacted_json_object_per_line(
    worker_process: WorkerProcess, livekit_server: LiveKitServer
) -> None:
    """A real worker run: an app's multi-line log and a failing job's traceback, each one JSON line."""
    wp = worker_process
    async with aiohttp.ClientSession() as http:
        await start_job(wp, livekit_server, http, prefix="fail")
        await eventually(lambda: "entrypoint failed" in wp.logs(), TIMEOUT)
    wp.proc.send_signal(signal.SIGTERM)
    assert wp.proc.wait(timeout=TIMEOUT) == 0
    wp.log.flush()
    lines = (wp.out / "worker.log").read_text().splitlines()
    entries = [json.loads(line) for line in lines]  # every line, or this fails naming the line
    assert all(isinstance(e, dict) and {"t", "level", "logger", "msg"} <= e.keys() for e in entries)
    app_line = next(e for e in entries if e["logger"] == "worker_app")
    assert app_line["msg"] == 'two lines,\nthe second with "quotes" and the key ***'
    failure = next(e for e in entries if "entrypoint failed" in e["msg"])
    assert "Traceback" in failure["exc"] and "RuntimeError: the tool failed with key ***" in failure["exc"]
    assert TEST_KEY not in "\n".join(lines)
    # the dev server's 6-byte secret: said once, at start, in our words; PyJWT's warning never
    weak = [e for e in entries if "LIVEKIT_API_SECRET is 6 bytes long" in e["msg"]]
    assert len(weak) == 1 and weak[0]["level"] == "WARNING"
    assert not any("InsecureKeyLength" in line for line in lines)
