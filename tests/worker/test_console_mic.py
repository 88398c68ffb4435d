"""`python agent.py console` with a microphone and speakers: a private PulseAudio server provides them
(null sinks: one whose monitor is the microphone, one that is the speaker), reached through PortAudio
as a sound card would be. The user "speaks" an espeak-ng clip into the microphone and listens to the
speaker; the agent runs unchanged, with scripted fakes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from livekitex_agent.media import read_wav, resample
from livekitex_agent.testing import FakeTTS
from pulse_audio import PulseServer, Recording, loud_seconds, require_audio_stack, speak, wait_for

REPLY = "Hi! Nice to hear you."
SECOND_REPLY = "Goodbye then."

AGENT = textwrap.dedent(
    f"""
    from livekitex_agent import Agent, AgentSession, JobContext, WorkerOptions, cli
    from livekitex_agent.testing import FakeLLM, FakeSTT, FakeTTS, FakeVAD

    async def entrypoint(ctx: JobContext) -> None:
        await ctx.connect()
        session = AgentSession(
            vad=FakeVAD(),
            stt=FakeSTT(["hello there", "bye now"], default="an echo"),
            llm=FakeLLM([{REPLY!r}, {SECOND_REPLY!r}], default="I heard myself."),
            tts=FakeTTS(),
        )
        await session.start(Agent("Be nice."), room=ctx.room)
        print("session started", flush=True)

    if __name__ == "__main__":
        cli.run_app(WorkerOptions(entrypoint=entrypoint))
    """
)


@pytest.fixture
def pulse(tmp_path: Path) -> Iterator[PulseServer]:
    require_audio_stack()
    server = PulseServer(tmp_path / "pulse")
    server.start()
    try:
        yield server
    finally:
        server.stop()


class Console:
    """The agent script running ``console`` in a subprocess; its stdout collected line by line."""

    def __init__(self, cwd: Path, env: dict[str, str], *args: str) -> None:
        (cwd / "agent.py").write_text(AGENT)
        self.proc = subprocess.Popen(
            [sys.executable, "agent.py", "console", *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self.stderr = ""
        assert self.proc.stdout is not None and self.proc.stderr is not None
        out, err = self.proc.stdout, self.proc.stderr
        self._readers = [
            threading.Thread(target=lambda: self.lines.extend(line.rstrip("\n") for line in out), daemon=True),
            threading.Thread(target=lambda: setattr(self, "stderr", err.read()), daemon=True),
        ]
        for t in self._readers:
            t.start()

    def said(self, prefix: str) -> list[str]:
        return [line[len(prefix) :] for line in self.lines if line.startswith(prefix)]

    def wait_for_line(self, line: str, timeout: float = 60) -> None:
        wait_for(lambda: line in self.lines or self.proc.poll() is not None, timeout, repr(line))
        assert line in self.lines, self.output()

    def interrupt(self, timeout: float = 60) -> int:
        """Press Ctrl-C; returns the exit code."""
        self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(timeout)
        for t in self._readers:
            t.join(10)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def output(self) -> str:
        return "\n".join(self.lines) + "\n--- stderr ---\n" + self.stderr[-3000:]


def reply_loud_seconds(text: str) -> float:
    """How much of the FakeTTS reply to ``text`` is loud, measured like the speaker recording (16 kHz)."""
    tts = FakeTTS()
    frame = resample(tts._frame, 16000)
    return loud_seconds(frame.data, 16000) * tts.duration_for(text) / tts.frame_duration


def exchange(pulse: PulseServer, console: Console, recording: Recording, clip: Path, reply: str) -> float:
    """Speak ``clip`` into the microphone, wait for the agent's ``reply`` in the terminal and out of
    the speaker; returns the loud seconds the speaker has played so far."""
    before = recording.loud_seconds()
    pulse.play_into_mic(clip).wait(60)
    console.wait_for_line(f"agent: {reply}")
    expected = before + reply_loud_seconds(reply)
    wait_for(lambda: recording.loud_seconds() >= expected - 0.05, 60, f"{reply!r} out of the speaker")
    return expected


def test_console_talks_through_the_microphone_and_speaker(pulse: PulseServer, tmp_path: Path) -> None:
    speak("hello there", tmp_path / "hello.wav")
    recording = pulse.record_speaker(tmp_path / "speaker.raw")
    console = Console(tmp_path, pulse.client_env(), "--output-wav", "reply.wav")
    try:
        console.wait_for_line("session started")
        expected = exchange(pulse, console, recording, tmp_path / "hello.wav", REPLY)
        code = console.interrupt()
    finally:
        console.kill()
    heard = loud_seconds(recording.stop(), 16000)
    assert code == 0, console.output()
    assert console.said("you: ") == ["hello there"], console.output()
    assert console.said("agent: ") == [REPLY]
    assert heard == pytest.approx(expected, abs=0.1)  # the whole reply, once
    assert "console: ending the session" in console.output()
    # --output-wav also recorded the agent's voice, on the session's timeline
    recorded = read_wav(tmp_path / "reply.wav")
    assert loud_seconds(resample(recorded, 16000).data, 16000) == pytest.approx(expected, abs=0.1)


def test_the_echo_guard_keeps_the_agent_from_hearing_itself(pulse: PulseServer, tmp_path: Path) -> None:
    """Speakers next to the microphone: the agent's voice comes back into the mic. Muted while it
    speaks, the agent recognises only the user's two utterances, in order."""
    pulse.loop_speaker_into_mic()
    speak("hello there", tmp_path / "hello.wav")
    speak("bye now", tmp_path / "bye.wav")
    recording = pulse.record_speaker(tmp_path / "speaker.raw")
    console = Console(tmp_path, pulse.client_env())
    try:
        console.wait_for_line("session started")
        exchange(pulse, console, recording, tmp_path / "hello.wav", REPLY)
        exchange(pulse, console, recording, tmp_path / "bye.wav", SECOND_REPLY)
        code = console.interrupt()
    finally:
        console.kill()
    recording.stop()
    assert code == 0, console.output()
    # an echo heard as speech would have taken the second transcript (or the default "an echo")
    assert console.said("you: ") == ["hello there", "bye now"], console.output()
    assert console.said("agent: ") == [REPLY, SECOND_REPLY], console.output()


def test_without_the_guard_the_agent_hears_itself(pulse: PulseServer, tmp_path: Path) -> None:
    """The same room with --allow-barge-in: the agent's own voice starts a turn (what the guard prevents)."""
    pulse.loop_speaker_into_mic()
    speak("hello there", tmp_path / "hello.wav")
    console = Console(tmp_path, pulse.client_env(), "--allow-barge-in")
    try:
        console.wait_for_line("session started")
        pulse.play_into_mic(tmp_path / "hello.wav").wait(60)
        wait_for(lambda: len(console.said("you: ")) >= 2, 60, "the agent's echo to be recognised")
        code = console.interrupt()
    finally:
        console.kill()
    assert code == 0, console.output()
    assert console.said("you: ")[:2] == ["hello there", "bye now"], console.output()


def test_a_bad_device_is_a_clear_error(pulse: PulseServer, tmp_path: Path) -> None:
    console = Console(tmp_path, pulse.client_env(), "--input-device", "no-such-mic")
    code = console.proc.wait(60)
    for t in console._readers:
        t.join(10)
    assert code == 2
    assert "--input-device='no-such-mic' matches no input device" in console.stderr
    assert "'pulse'" in console.stderr  # the devices there are


def test_list_devices_shows_the_microphone_and_speaker(pulse: PulseServer, tmp_path: Path) -> None:
    (tmp_path / "agent.py").write_text(AGENT)
    proc = subprocess.run(
        [sys.executable, "agent.py", "console", "--list-devices"],
        cwd=tmp_path,
        env=pulse.client_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "pulse" in proc.stdout and "default input" in proc.stdout
    # listing devices needs no agent script
    bare = subprocess.run(
        [sys.executable, "-m", "livekitex_agent", "console", "--list-devices"],
        env=pulse.client_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bare.returncode == 0, bare.stderr
    assert bare.stdout == proc.stdout


def test_no_sound_device_at_all_is_a_clear_error(tmp_path: Path) -> None:
    require_audio_stack()
    # no sound server to reach, and (on a machine without a sound card, like CI) no device at all
    (tmp_path / "client.conf").write_text("autospawn = no\n")
    env = {
        **os.environ,
        "PULSE_SERVER": f"unix:{tmp_path / 'nothing-here'}",
        "PULSE_CLIENTCONFIG": str(tmp_path / "client.conf"),
    }
    probe = subprocess.run(
        [sys.executable, "-c", "import sounddevice as sd; print(sum(d['max_input_channels'] > 0 for d in sd.query_devices()))"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if probe.stdout.strip() != "0":
        pytest.skip("this machine has a sound card")
    console = Console(tmp_path, env)
    code = console.proc.wait(60)
    for t in console._readers:
        t.join(10)
    assert code == 2
    assert "no input device found (no microphone?)" in console.stderr
    assert "--input-device" in console.stderr and "--input-wav" in console.stderr
