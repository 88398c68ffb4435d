"""`python agent.py console`: the unchanged entrypoint talks through WAV files, no server."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from livekitex_agent.media import AudioFrame, read_wav, write_wav
from livekitex_agent.testing import FakeTTS
from livekitex_agent.worker import JobContext, JobProcess, WorkerOptions
from livekitex_agent.worker.console import ConsoleOptions, run_console

AGENT = textwrap.dedent(
    """
    from livekitex_agent import Agent, AgentSession, JobContext, WorkerOptions, cli
    from livekitex_agent.testing import FakeLLM, FakeSTT, FakeTTS, FakeVAD

    async def entrypoint(ctx: JobContext) -> None:
        await ctx.connect()
        session = AgentSession(vad=FakeVAD(), stt=FakeSTT(["hello there"]),
                               llm=FakeLLM(["Hi! Nice to hear you."]), tts=FakeTTS())
        await session.start(Agent("Be nice."), room=ctx.room)

    if __name__ == "__main__":
        cli.run_app(WorkerOptions(entrypoint=entrypoint))
    """
)


def test_console_runs_the_entrypoint_on_wav_files(tmp_path: Path) -> None:
    (tmp_path / "agent.py").write_text(AGENT)
    t = np.arange(16000) / 16000
    speech = AudioFrame.from_float(0.3 * np.sin(2 * np.pi * 300 * t), 16000)
    write_wav(tmp_path / "in.wav", AudioFrame(np.concatenate([np.zeros(4000, np.int16), speech.data]), 16000))
    proc = subprocess.run(
        [sys.executable, "agent.py", "console", "--input-wav", "in.wav", "--output-wav", "out.wav"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "agent: Hi! Nice to hear you." in proc.stdout
    out = read_wav(tmp_path / "out.wav")
    loud = np.flatnonzero(np.abs(out.data) > 1000) / out.sample_rate
    # user speech 0.25–1.25 s; FakeVAD ends it after 0.3 s of silence, then 0.5 s of endpointing
    assert 1.7 <= loud[0] <= 2.0
    # the whole reply is in the file, each sample once (a frame written late on a busy machine lands a
    # little later on the file's timeline, but is never lost or doubled): same loud samples as the TTS
    reply = FakeTTS()._frame.data  # one 0.1 s tone frame; the reply is 10.5 of them
    per_frame = int((np.abs(reply) > 1000).sum())
    expected = per_frame * 10 + int((np.abs(reply[: reply.size // 2]) > 1000).sum())
    assert int((np.abs(out.data) > 1000).sum()) == expected


def _console_with_prewarm(tmp_path: Path, prewarm: Any, entrypoint: Any) -> int:
    write_wav(tmp_path / "in.wav", AudioFrame.silence(0.1, 16000))
    return run_console(
        WorkerOptions(entrypoint=entrypoint, prewarm_fnc=prewarm),
        ConsoleOptions(input_wav=str(tmp_path / "in.wav"), output_wav=str(tmp_path / "out.wav")),
    )


def test_console_awaits_an_async_prewarm(tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    async def prewarm(proc: JobProcess) -> None:
        await asyncio.sleep(0)
        proc.userdata["model"] = "loaded"

    async def entrypoint(ctx: JobContext) -> None:
        seen.update(ctx.proc.userdata)
        ctx.shutdown("done")

    assert _console_with_prewarm(tmp_path, prewarm, entrypoint) == 0
    assert seen == {"model": "loaded"}


def test_console_reports_a_failing_prewarm(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def prewarm(proc: JobProcess) -> None:
        raise ValueError("model file missing")

    async def entrypoint(ctx: JobContext) -> None:
        raise AssertionError("the entrypoint must not run after a failed prewarm")

    assert _console_with_prewarm(tmp_path, prewarm, entrypoint) == 1
    assert "console: prewarm failed: ValueError: model file missing" in capsys.readouterr().out


def test_console_whose_entrypoint_never_connects_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async def entrypoint(ctx: JobContext) -> None:
        pass  # forgot ctx.connect() and the session

    write_wav(tmp_path / "in.wav", AudioFrame.silence(0.1, 16000))
    code = run_console(
        WorkerOptions(entrypoint=entrypoint),
        ConsoleOptions(input_wav=str(tmp_path / "in.wav"), output_wav=str(tmp_path / "out.wav")),
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "returned without calling ctx.connect() or starting a session" in out
    assert "agent voice written" not in out and not (tmp_path / "out.wav").exists()


def test_console_with_a_bad_log_level_is_a_configuration_error(capsys: pytest.CaptureFixture[str]) -> None:
    from livekitex_agent import cli

    async def entrypoint(ctx: JobContext) -> None:
        raise AssertionError("must not run")

    code = cli.main(["console", "--log-level", "LOUD"], WorkerOptions(entrypoint=entrypoint))
    assert code == 2
    assert "configuration error: --log-level='LOUD' is not one of DEBUG" in capsys.readouterr().err
