"""The command line: subcommand registry, flags over env, clear errors, connect, dev reload, console hook."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import uuid
from typing import Any

import pytest

from livekitex_agent import cli
from livekitex_agent.testing.livekit_server import LiveKitServer
from livekitex_agent.worker import JobContext, WorkerOptions


async def noop_entry(ctx: JobContext) -> None:
    pass


OPTIONS = WorkerOptions(entrypoint=noop_entry)
SERVER_ENV = {
    "LIVEKIT_URL": "ws://127.0.0.1:7880",
    "LIVEKIT_API_KEY": "devkey",
    "LIVEKIT_API_SECRET": "secret",
}


@pytest.fixture
def server_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("LIVEKIT_", "LIVEKITEX_")):
            monkeypatch.delenv(name)
    for name, value in SERVER_ENV.items():
        monkeypatch.setenv(name, value)


def test_module_entry_point_lists_subcommands() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "livekitex_agent", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    for name in ("start", "dev", "connect", "console"):
        assert name in out.stdout
    assert "python -m livekitex_agent" in out.stdout


def test_agent_commands_need_an_agent_script(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["start"])
    assert exit_info.value.code == 2
    assert "call cli.run_app(WorkerOptions(...))" in capsys.readouterr().err


def test_flags_override_env_which_overrides_options(
    server_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIVEKITEX_HTTP_PORT", "9100")
    monkeypatch.setenv("LIVEKITEX_JOBS_PER_PROCESS", "6")
    parser = cli.build_parser()
    args = parser.parse_args(["start", "--http-port", "9200", "--agent-name", "flagged"])
    options = WorkerOptions(entrypoint=noop_entry, jobs_per_process=2, http_port=9000, load_threshold=0.6)
    s = cli.resolve_settings(args, options)
    assert (s.http_port, s.agent_name, s.jobs_per_process, s.load_threshold) == (9200, "flagged", 6, 0.6)


def test_bad_flag_value_exits_2_naming_it(server_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.run_app(OPTIONS, ["start", "--http-port", "eighty"])
    assert exit_info.value.code == 2
    assert "configuration error: --http-port='eighty' is not an integer" in capsys.readouterr().err


def test_missing_secret_is_reported_without_starting(
    server_env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("LIVEKIT_API_SECRET")
    assert cli.main(["start"], OPTIONS) == 2
    assert "LIVEKIT_API_SECRET is not set" in capsys.readouterr().err


def test_extension_subcommands_can_register(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, Any]] = []

    def configure(p: argparse.ArgumentParser) -> None:
        p.add_argument("--level", default="easy")

    def handler(args: argparse.Namespace, options: WorkerOptions | None) -> int:
        calls.append((args.level, options))
        return 7

    monkeypatch.setitem(cli._SUBCOMMANDS, "probe", cli.Subcommand("probe", "test", configure, handler, False))
    assert cli.main(["probe", "--level", "hard"]) == 7
    assert calls == [("hard", None)]


def test_console_delegates_to_the_console_runner(monkeypatch: pytest.MonkeyPatch) -> None:
    import livekitex_agent.worker.console as console

    seen: list[tuple[Any, Any, Any]] = []

    def fake_run_console(options: WorkerOptions, opts: console.ConsoleOptions) -> int:
        seen.append((options, opts.input_wav, opts.output_wav))
        return 0

    monkeypatch.setattr(console, "run_console", fake_run_console)
    assert cli.main(["console", "--input-wav", "in.wav", "--output-wav", "out.wav"], OPTIONS) == 0
    assert seen == [(OPTIONS, "in.wav", "out.wav")]


def test_dev_restarts_the_script_under_watchfiles(
    server_env: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    import watchfiles

    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    monkeypatch.setattr(watchfiles, "run_process", lambda *a, **k: calls.append((a, k)) or 0)
    monkeypatch.setattr(sys, "orig_argv", ["python3", "agent.py", "dev", "--http-port", "0"])
    monkeypatch.setenv(cli.DEV_CHILD_ENV, "0")  # restored afterwards (the command sets it to "1")
    assert cli.main(["dev", "--http-port", "0", "--watch", str(tmp_path)], OPTIONS) == 0
    [(paths, kwargs)] = calls
    assert paths == (str(tmp_path),)
    assert kwargs["target"] == f"{sys.executable} agent.py dev --http-port 0"
    assert kwargs["target_type"] == "command"
    assert os.environ[cli.DEV_CHILD_ENV] == "1"


def test_connect_rejects_an_empty_room(server_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["connect", "--room", "  "], OPTIONS) == 2
    assert "--room='  ' is empty" in capsys.readouterr().err


joined: list[tuple[str, str, str]] = []


async def connect_entry(ctx: JobContext) -> None:
    await ctx.connect()
    joined.append((ctx.room.name, ctx.room.local_participant.identity, ctx.job.participant.identity))
    ctx.shutdown("done")


@pytest.mark.livekit
def test_connect_runs_one_job_in_the_room(livekit_server: LiveKitServer, server_env: None) -> None:
    room = f"cli-{uuid.uuid4().hex[:8]}"
    code = cli.main(
        [
            "connect",
            "--room",
            room,
            "--participant-identity",
            "caller-1",
            "--agent-identity",
            "cli-agent",
            "--url",
            livekit_server.url,
        ],
        WorkerOptions(entrypoint=connect_entry),
    )
    assert code == 0
    assert joined == [(room, "cli-agent", "caller-1")]


@pytest.mark.parametrize(("flags", "served"), [([], True), (["--no-playground"], False)])
def test_dev_serves_the_playground_unless_told_not_to(
    server_env: None, monkeypatch: pytest.MonkeyPatch, flags: list[str], served: bool
) -> None:
    import livekitex_agent.worker as worker_pkg

    seen: list[bool] = []

    async def fake_run_worker(options: Any, settings: Any, *, playground: bool = False) -> int:
        seen.append(playground)
        return 0

    monkeypatch.setattr(worker_pkg, "run_worker", fake_run_worker)
    monkeypatch.setenv("LIVEKITEX_AGENT_DATA", "")  # so that monkeypatch restores it, the command sets it
    monkeypatch.delenv("LIVEKITEX_AGENT_DATA")
    assert cli.main(["dev", "--no-reload", "--http-port", "0", *flags], OPTIONS) == 0
    assert seen == [served]
    # the page's latency and tool panels: the agent sends them in dev mode
    assert os.environ.get("LIVEKITEX_AGENT_DATA") == ("1" if served else None)


def test_playground_command_needs_no_agent_and_names_bad_values(
    server_env: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli.main(["playground", "--host", "0.0.0.0", "--port", "0"]) == 2
    assert "--host='0.0.0.0'" in capsys.readouterr().err
    monkeypatch.delenv("LIVEKIT_API_SECRET")
    assert cli.main(["playground", "--port", "0"]) == 2
    assert "LIVEKIT_API_SECRET" in capsys.readouterr().err
