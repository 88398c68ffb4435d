"""A private PulseAudio server with virtual devices, for tests of the microphone/speaker console.

Two null sinks: ``mic`` (what a test plays into it comes out of its monitor, the default source:
the "microphone") and ``speaker`` (the default sink; a test records its monitor). Everything lives
in a temporary directory (socket, runtime and state files) and clients find it through
``PULSE_SERVER``, so a user's own sound server is never touched. PortAudio reaches it through
ALSA's pulse plugin (device ``pulse``, and ``default`` when the server runs before PortAudio starts).

Missing tools (``pulseaudio``, ``pactl``, ``paplay``, ``parec``, the PortAudio library): a failure
when ``CI`` is set (``scripts/setup.sh`` installs them), a skip otherwise.
"""

from __future__ import annotations

import contextlib
import ctypes.util
import os
import shutil
import subprocess
import time
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

TOOLS = ("pulseaudio", "pactl", "paplay", "parec", "espeak-ng")
RECORD_RATE = 16000
LOUD = 1000  # int16 level that counts as sound (the test tones and speech are far above it)


def require_audio_stack() -> None:
    """Fail (in CI) or skip (elsewhere) unless PulseAudio, its tools and PortAudio are installed."""
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if ctypes.util.find_library("portaudio") is None:
        missing.append("libportaudio2")
    if not missing:
        return
    message = f"audio test tools missing: {', '.join(missing)} (scripts/setup.sh installs them)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


class PulseServer:
    """``start()`` runs the daemon; ``env`` is what a client process needs to reach it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.socket = root / "native"
        self.env = {
            "PULSE_SERVER": f"unix:{self.socket}",
            "PULSE_RUNTIME_PATH": str(root / "runtime"),
            "PULSE_STATE_PATH": str(root / "state"),
            "PULSE_CLIENTCONFIG": str(root / "client.conf"),
            "PULSE_COOKIE": str(root / "cookie"),
            "XDG_RUNTIME_DIR": str(root),
        }
        self._daemon: subprocess.Popen[bytes] | None = None
        self._anchors: list[subprocess.Popen[bytes]] = []

    def client_env(self) -> dict[str, str]:
        return {**os.environ, **self.env}

    def start(self, timeout: float = 20.0) -> None:
        (self.root / "runtime").mkdir(parents=True, exist_ok=True)
        (self.root / "state").mkdir(exist_ok=True)
        (self.root / "client.conf").write_text("autospawn = no\n")
        config = self.root / "server.pa"
        config.write_text(
            f"load-module module-native-protocol-unix auth-anonymous=1 socket={self.socket}\n"
            "load-module module-null-sink sink_name=mic sink_properties=device.description=mic\n"
            "load-module module-null-sink sink_name=speaker sink_properties=device.description=speaker\n"
            "set-default-sink speaker\n"
            "set-default-source mic.monitor\n"
        )
        env = {**self.client_env(), "HOME": str(self.root)}
        self._daemon = subprocess.Popen(
            ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--use-pid-file=no",
             "--disallow-module-loading=no", f"--file={config}", f"--log-target=file:{self.root / 'pulse.log'}"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while True:
            if self._daemon.poll() is not None:
                raise RuntimeError(f"pulseaudio exited with {self._daemon.returncode}: {self.log()}")
            if self.socket.exists() and self.pactl("info", check=False).returncode == 0:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"pulseaudio did not come up in {timeout} s: {self.log()}")
            time.sleep(0.1)
        # A null sink renders in blocks as long as its clients' requested latency, up to 2 s when
        # none asks: keep one 20 ms listener on each so both tick in small steps, like a sound card.
        for source in ("mic.monitor", "speaker.monitor"):
            self._anchors.append(self._parec(source, None))

    def log(self) -> str:
        path = self.root / "pulse.log"
        return path.read_text()[-2000:] if path.exists() else "(no log)"

    def pactl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["pactl", *args], env=self.client_env(), capture_output=True, text=True, timeout=10, check=check
        )

    def play_into_mic(self, wav: Path) -> subprocess.Popen[bytes]:
        """Start playing ``wav`` into the microphone (returns the player; wait() for it to end)."""
        return subprocess.Popen(
            ["paplay", "--latency-msec=20", "--device=mic", str(wav)], env=self.client_env()
        )

    def record_speaker(self, path: Path) -> Recording:
        """Record what comes out of the speaker (16 kHz mono) until :meth:`Recording.stop`.

        Returns once the recorder runs (its first samples are in the file), so nothing is missed.
        """
        recording = Recording(self._parec("speaker.monitor", path), path)
        wait_for(lambda: recording.samples().size >= RECORD_RATE // 50, 20, "the speaker recorder to start")
        return recording

    def loop_speaker_into_mic(self) -> None:
        """Put the speaker's sound back into the microphone, like speakers heard by a laptop's mic."""
        self.pactl("load-module", "module-loopback", "source=speaker.monitor", "sink=mic", "latency_msec=20")

    def _parec(self, source: str, path: Path | None) -> subprocess.Popen[bytes]:
        out = open(path, "wb") if path is not None else subprocess.DEVNULL  # noqa: SIM115 - closed by the child's exit
        try:
            return subprocess.Popen(
                ["parec", f"--device={source}", "--latency-msec=20", "--format=s16le",
                 f"--rate={RECORD_RATE}", "--channels=1", "--raw"],
                env=self.client_env(),
                stdout=out,
            )
        finally:
            if path is not None:
                out.close()  # type: ignore[union-attr]

    def stop(self) -> None:
        for proc in [*self._anchors, self._daemon]:
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
        self._anchors.clear()


class Recording:
    def __init__(self, proc: subprocess.Popen[bytes], path: Path) -> None:
        self._proc = proc
        self.path = path

    def samples(self) -> np.ndarray:
        return np.fromfile(self.path, dtype=np.int16) if self.path.exists() else np.zeros(0, np.int16)

    def loud_seconds(self) -> float:
        return loud_seconds(self.samples(), RECORD_RATE)

    def stop(self) -> np.ndarray:
        if self._proc.poll() is None:
            self._proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(5)
        return self.samples()


def loud_seconds(samples: np.ndarray, rate: int) -> float:
    """Seconds of ``samples`` above the :data:`LOUD` level (a tone is loud in most of its samples)."""
    return float(np.count_nonzero(np.abs(samples.astype(np.int32)) > LOUD)) / rate


def speak(text: str, path: Path, *, lead_silence: float = 0.5, tail_silence: float = 0.5) -> float:
    """Write ``text`` spoken by espeak-ng (with silence around it) to ``path``; returns its loud seconds."""
    raw = path.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-w", str(raw), text], check=True, capture_output=True, timeout=30)
    with wave.open(str(raw), "rb") as w:
        rate = w.getframerate()
        voice = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    signal = np.concatenate(
        [np.zeros(round(lead_silence * rate), np.int16), voice, np.zeros(round(tail_silence * rate), np.int16)]
    )
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(signal.tobytes())
    return loud_seconds(voice, rate)


def wait_for(condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.1) -> None:
    """Poll ``condition()`` until true; fail the test naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)
