"""The live view (terminal and plain modes), the ``demo`` subcommand and its set-up checks."""

from __future__ import annotations

import asyncio
import dataclasses
import io
from pathlib import Path
from typing import Any

import pytest

from livekitex_agent import cli
from livekitex_agent.demo import run as demo_run
from livekitex_agent.demo.env import DemoSetupError, Environment, require_ready
from livekitex_agent.demo.record import CallInfo, CallRecorder
from livekitex_agent.demo.script import CALL_SCRIPT
from livekitex_agent.demo.view import LiveView


def _recorder() -> CallRecorder:
    recorder = CallRecorder(CallInfo("memory", "policy", "stt", "tts", "vad"), CALL_SCRIPT)
    recorder.start()
    return recorder


async def test_plain_view_writes_lines_without_escape_codes() -> None:
    out = io.StringIO()
    view = LiveView(out)  # a StringIO is no terminal
    assert not view.tty
    recorder = _recorder()
    view.follow(recorder)
    recorder.begin_request(1, CALL_SCRIPT[0])
    recorder.note("tool", 'get_weather({"city": "Paris"}) -> sunny')
    await view.stop()
    view.message("done", style="32")
    text = out.getvalue()
    assert "\x1b" not in text
    lines = text.splitlines()
    assert lines[0].endswith("caller     “What's the weather like in Paris today?”")
    assert lines[1].endswith('tool     get_weather({"city": "Paris"}) -> sunny')
    assert lines[2] == "done"


async def test_terminal_view_redraws_a_status_line_under_the_log() -> None:
    out = io.StringIO()
    view = LiveView(out, tty=True)
    recorder = _recorder()
    view.follow(recorder)
    recorder.reply_finished()  # the greeting is over
    recorder.begin_request(1, CALL_SCRIPT[0])
    recorder.agent_state = "thinking"
    assert "0/4 requests" in view.status_text() and "thinking" in view.status_text()
    recorder.reply_finished()
    assert "[█░░░] 1/4 requests" in view.status_text()
    await view.stop()
    text = out.getvalue()
    assert "\x1b[2K\r" in text and "\x1b[36m" in text  # status line cleared/redrawn; the caller in cyan
    assert text.endswith("\x1b[2K\r")  # stop() removes the status line


def test_demo_help_works_without_an_agent_script(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["demo", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "--transport {auto,livekit,memory}" in out and "--llm {auto,openai,offline}" in out


def test_missing_espeak_is_a_clear_message_and_exit_code_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setattr("livekitex_agent.demo.env.shutil.which", lambda name: None)
    code = cli.main(["demo", "--output", str(tmp_path / "out"), "--plain"])
    assert code == 2
    err = capsys.readouterr().err
    assert "espeak-ng (text to speech): `sudo apt-get install espeak-ng`" in err and "make setup" in err
    assert not (tmp_path / "out").exists()


def test_transport_and_llm_choices() -> None:
    no_server = Environment(livekit_server=None, openai_key=False, matplotlib=True)
    kind, notices = demo_run.choose_transport("auto", no_server)
    assert kind == "memory" and "livekit-server is not installed" in notices[0]
    with pytest.raises(DemoSetupError, match="install-livekit-server"):
        demo_run.choose_transport("livekit", no_server)
    server = Environment(livekit_server="/bin/livekit-server", openai_key=False, matplotlib=True)
    assert demo_run.choose_transport("auto", server) == ("livekit", [])
    assert demo_run.choose_transport("memory", server) == ("memory", [])

    llm, label, notices = demo_run.choose_llm("auto", no_server)
    assert label == "offline rule-based policy (example), not an AI model"
    assert "OPENAI_API_KEY is not set" in notices[0]
    with pytest.raises(DemoSetupError, match="OPENAI_API_KEY"):
        demo_run.choose_llm("openai", no_server)


def test_openai_is_used_when_a_key_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    env = Environment(livekit_server=None, openai_key=True, matplotlib=True)
    llm, label, notices = demo_run.choose_llm("auto", env)
    assert label.startswith("OpenAI gpt-4o-mini (if it fails: the offline rule-based policy")
    assert [p.label for p in llm.providers] == ["openai.LLM", "RuleBasedPolicy"]  # type: ignore[attr-defined]
    assert notices == [] and "sk-test" not in label


def test_require_ready_lists_everything_missing() -> None:
    env = Environment(None, False, True, missing=["a (x): `install a`", "b (y): `install b`"])
    with pytest.raises(DemoSetupError) as exc:
        require_ready(env)
    assert "  - a (x): `install a`\n  - b (y): `install b`" in str(exc.value)


async def test_when_openai_fails_the_policy_answers_through_the_same_tools(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from livekitex_agent.demo.agent import BistroConcierge
    from livekitex_agent.session import AgentSession
    from livekitex_agent.testing.livekit_server import free_port

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{free_port()}/v1")  # nothing listens there
    llm, _, _ = demo_run.choose_llm("openai", Environment(None, True, True))
    failures: list[str] = []
    llm.on("availability_changed", lambda e: failures.append(e.provider.label))  # type: ignore[attr-defined]
    session = AgentSession(llm=llm)
    await session.start(BistroConcierge(greet=False))
    try:
        result = await session.run(user_input="What's the weather like in Paris today?", timeout=30)
    finally:
        await session.aclose()
        await llm.aclose()
    assert failures == ["openai.LLM"]
    assert [c.name for c in result.function_calls] == ["get_weather"]
    assert result.reply == "It's sunny and 22 degrees in Paris today."


async def test_a_livekit_server_that_does_not_start_falls_back_to_memory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LIVEKIT_SERVER_BIN", "/bin/false")  # "installed", but exits at once

    async def hang_up_at_once(line: Any, recorder: Any, clips: Any, *, reply_timeout: float) -> None:
        await line.hang_up()

    monkeypatch.setattr(demo_run, "run_caller", hang_up_at_once)
    out = io.StringIO()
    options = demo_run.DemoOptions(output=tmp_path, transport="auto", llm="offline", tty=False)
    result = await asyncio.wait_for(demo_run.run_demo(options, stream=out), 60)
    assert "the local LiveKit server could not start (livekit-server exited with code 1:)" in out.getvalue()
    assert result.recorder.info.transport.startswith("in-memory I/O")
    assert not result.summary.passed  # the caller said nothing

    with pytest.raises(DemoSetupError, match="could not start: livekit-server exited with code 1"):
        await demo_run.run_demo(dataclasses.replace(options, transport="livekit"), stream=io.StringIO())


def test_an_output_folder_that_cannot_be_made_fails_before_the_call(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "taken"
    blocker.write_text("a file, not a folder")
    assert cli.main(["demo", "--transport", "memory", "--output", str(blocker / "out"), "--plain"]) == 2
    err = capsys.readouterr().err
    assert f"cannot write the reports to --output '{blocker / 'out'}'" in err
