"""Console mode: run the entrypoint once, locally, with no LiveKit server.

The job gets a stand-in room that carries console I/O (a WAV file as the microphone, the agent's
voice written to a WAV file, its words printed), so ``session.start(agent, room=ctx.room)`` in an
unchanged entrypoint talks through the console.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from livekit.protocol import agent as pa
from livekit.protocol import models as pm

from ..media.io import SessionIO
from ..rooms.console import ConsoleIO
from .job import JobContext, JobInfo, JobProcess, run_job
from .options import WorkerOptions
from .protocol import JS_SUCCESS

logger = logging.getLogger("livekitex_agent.worker")


class ConsoleRoom:
    """Stands in for the LiveKit room: it brings the session's I/O and has nobody else in it."""

    name = "console"

    def __init__(self, session_io: SessionIO) -> None:
        self.session_io = session_io
        self.remote_participants: dict[str, Any] = {}

    def on(self, *_: Any) -> None:
        return None

    def off(self, *_: Any) -> None:
        return None

    async def disconnect(self) -> None:
        return None


class ConsoleJobContext(JobContext):
    def __init__(self, session_io: SessionIO, proc: JobProcess) -> None:
        job = pa.Job(id="console", room=pm.Room(name="console"))
        super().__init__(JobInfo(job=job, url="", token=""), proc)
        self._room = ConsoleRoom(session_io)  # type: ignore[assignment]

    async def connect(self, *, auto_subscribe: bool = True, rtc_config: Any = None) -> None:
        self._connected = True

    async def wait_for_participant(self, identity: str | None = None) -> Any:
        """The console's user is always there."""
        return None


def run_console(
    options: WorkerOptions, *, input_wav: str | None = None, output_wav: str | None = None
) -> int:
    """Talk to the agent through WAV files; returns the exit code."""
    if input_wav is None:
        print("console mode needs --input-wav FILE (a 16-bit PCM WAV of the user speaking)")
        return 2
    out_path = (
        Path(output_wav) if output_wav else Path(input_wav).with_name(Path(input_wav).stem + "-reply.wav")
    )
    try:
        io = ConsoleIO(input_wav, out_path)
    except (OSError, ValueError) as e:
        print(f"console: {e}")
        return 2
    proc = JobProcess(executor="console")
    if options.prewarm_fnc is not None:
        options.prewarm_fnc(proc)

    async def main() -> int:
        outcome = await run_job(
            ConsoleJobContext(io, proc), options.entrypoint, shutdown_timeout=options.shutdown_timeout
        )
        print(f"agent voice written to {out_path}")
        if outcome.status != JS_SUCCESS:
            print(f"console: the entrypoint failed: {outcome.error}")
            return 1
        return 0

    return asyncio.run(main())
