"""Console mode: run the entrypoint once, locally, with no LiveKit server.

The job gets a stand-in room that carries console I/O (the microphone and speakers, or a WAV file
as the microphone and the agent's voice written to a WAV file; its words printed), so
``session.start(agent, room=ctx.room)`` in an unchanged entrypoint talks through the console.
Ctrl-C ends the job as a shutdown would: the session closes, every stream with it, exit code 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from livekit.protocol import agent as pa
from livekit.protocol import models as pm

from ..errors import ConfigError
from ..media.io import SessionIO
from ..rooms.console import ConsoleIO, DeviceConsoleIO
from .job import NOT_CONNECTED_REASON, JobContext, JobInfo, JobProcess, run_job
from .options import WorkerOptions
from .proc_child import _prewarm
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


@dataclass
class ConsoleOptions:
    """How ``console`` talks: WAV files (``input_wav``) or the microphone and speakers (the default)."""

    input_wav: str | None = None
    output_wav: str | None = None  # file mode: the reply file; device mode: also record the agent's voice
    input_device: str | None = None
    output_device: str | None = None
    sample_rate: int | None = None
    allow_barge_in: bool = False  # device mode: keep the microphone open while the agent speaks


def make_console_io(opts: ConsoleOptions) -> tuple[SessionIO, str]:
    """The session I/O for ``opts`` and a line telling the user what it does."""
    if opts.input_wav is not None:
        if opts.input_device is not None or opts.output_device is not None:
            raise ConfigError(
                "--input-device/--output-device are for microphone mode: drop them or drop --input-wav"
            )
        out_path = (
            Path(opts.output_wav)
            if opts.output_wav
            else Path(opts.input_wav).with_name(Path(opts.input_wav).stem + "-reply.wav")
        )
        file_io = ConsoleIO(opts.input_wav, out_path)
        return file_io, f"console: playing {opts.input_wav} to the agent, its voice goes to {out_path}"
    device_io = DeviceConsoleIO(
        input_device=opts.input_device,
        output_device=opts.output_device,
        sample_rate=opts.sample_rate,
        echo_guard=not opts.allow_barge_in,
        record_wav=opts.output_wav,
    )
    guard = (
        "the microphone is open while the agent speaks (use headphones)"
        if opts.allow_barge_in
        else "the microphone is muted while the agent speaks (with headphones, --allow-barge-in "
        "lets you interrupt it)"
    )
    lines = [
        f"console: listening on {device_io.audio_input.device}, "
        f"speaking on {device_io.speaker.device}; {guard}.",
    ]
    if opts.output_wav:
        lines.append(f"console: recording the agent's voice to {opts.output_wav}")
    lines.append("console: press Ctrl-C to end.")
    return device_io, "\n".join(lines)


def run_console(options: WorkerOptions, opts: ConsoleOptions) -> int:
    """Run the entrypoint once with console I/O; returns the exit code (0 after Ctrl-C, too).

    A bad device, file or setting raises :class:`ConfigError` (the CLI prints it, exit code 2).
    """
    try:
        io, banner = make_console_io(opts)
    except ConfigError:
        raise
    except (OSError, ValueError) as e:  # a missing or empty input file
        print(f"console: {e}")
        return 2
    print(banner, flush=True)
    proc = JobProcess(executor="console")

    async def main() -> int:
        error = await _prewarm(options.prewarm_fnc, proc)  # awaits an async prewarm_fnc, too
        if error:
            await io.aclose()
            print(f"console: {error}")
            return 1
        loop = asyncio.get_running_loop()
        ctx = ConsoleJobContext(io, proc)
        main_task = asyncio.current_task()
        interrupts = 0

        def on_interrupt() -> None:
            nonlocal interrupts
            interrupts += 1
            if interrupts == 1:
                print("\nconsole: ending the session (Ctrl-C again to force)", flush=True)
                ctx.shutdown("interrupted (Ctrl-C)")
            elif main_task is not None:
                main_task.cancel()

        with contextlib.suppress(NotImplementedError, RuntimeError):  # not on Windows: KeyboardInterrupt
            loop.add_signal_handler(signal.SIGINT, on_interrupt)
        try:
            outcome = await run_job(ctx, options.entrypoint, shutdown_timeout=options.shutdown_timeout)
        finally:
            await io.aclose()  # the session closed it already unless the entrypoint never started one
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signal.SIGINT)
        if outcome.reason == NOT_CONNECTED_REASON and not ctx._sessions:
            path = _written_path(io)
            if path is not None:
                path.unlink(missing_ok=True)  # an empty file would look like a silent agent
            print(
                "console: the entrypoint returned without calling ctx.connect() or starting a session: "
                "the agent never listened (nothing was recorded)"
            )
            return 1
        if opts.input_wav is not None or opts.output_wav:
            print(f"agent voice written to {_written_path(io)}")
        if outcome.status != JS_SUCCESS:
            print(f"console: the entrypoint failed: {outcome.error}")
            return 1
        return 0

    try:
        return asyncio.run(main())
    except asyncio.CancelledError:  # a second Ctrl-C
        return 130


def _written_path(io: SessionIO) -> Path | None:
    if isinstance(io, ConsoleIO):
        return io.audio_output.path
    if isinstance(io, DeviceConsoleIO) and io.recorder is not None:
        return io.recorder.path
    return None
