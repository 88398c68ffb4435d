"""The worker trees of ``bench/capacity_sbs.py``: each framework's worker in its own process tree
(pinned to the worker's CPUs), the livekit-agents virtualenv it runs in, and the tree's CPU and
memory over a window."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from livekitex_agent.testing.livekit_server import LiveKitServer

MB = 1024 * 1024
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PEER_VENV = ROOT / ".tools" / "livekit-agents-1.8"
PEER_PACKAGES = ("livekit-agents>=1.8,<1.9", "livekit-plugins-silero>=1.8,<1.9")


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
