"""Start a real ``livekit-server`` in dev mode on free loopback ports (for tests and the demo)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

DEV_API_KEY = "devkey"
DEV_API_SECRET = "secret"  # livekit-server --dev's built-in key pair


class LiveKitServerNotFound(RuntimeError):
    pass


def find_livekit_server() -> str | None:
    """The ``livekit-server`` binary: $LIVEKIT_SERVER_BIN, the project's .tools/bin, or PATH."""
    env = os.environ.get("LIVEKIT_SERVER_BIN")  # a livekit-server binary for the tests and the demo
    if env and Path(env).is_file():
        return env
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / ".tools" / "bin" / "livekit-server"
        if candidate.is_file():
            return str(candidate)
    return shutil.which("livekit-server")


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveKitServer:
    """A running ``livekit-server --dev`` process bound to 127.0.0.1."""

    process: subprocess.Popen[bytes]
    port: int
    rtc_tcp_port: int
    rtc_udp_port: int
    log_path: Path
    api_key: str = DEV_API_KEY
    api_secret: str = DEV_API_SECRET

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def is_running(self) -> bool:
        return self.process.poll() is None

    def logs(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=5)

    def restart(self, timeout: float = 20.0) -> None:
        """Stop and start again on the same ports (for reconnect tests)."""
        self.stop()
        fresh = start_livekit_server(
            port=self.port, rtc_tcp_port=self.rtc_tcp_port, rtc_udp_port=self.rtc_udp_port, timeout=timeout
        )
        self.process, self.log_path = fresh.process, fresh.log_path


def _config_body(port: int, tcp: int, udp: int) -> str:
    return (
        f"port: {port}\n"
        "rtc:\n"
        f"  tcp_port: {tcp}\n"
        f"  udp_port: {udp}\n"
        "  use_external_ip: false\n"
        "  enable_loopback_candidate: true\n"
        # An IP literal: the default STUN servers are host names, which clients would resolve
        # (a DNS query to the internet, and a resolver thread blocked per query without it).
        f"  stun_servers: [\"127.0.0.1:{udp}\"]\n"
    )


def start_livekit_server(
    *,
    port: int | None = None,
    rtc_tcp_port: int | None = None,
    rtc_udp_port: int | None = None,
    timeout: float = 20.0,
) -> LiveKitServer:
    """Start the server and wait until its HTTP port answers; raises with its log if it does not."""
    binary = find_livekit_server()
    if binary is None:
        raise LiveKitServerNotFound(
            "livekit-server is not installed: run scripts/install-livekit-server.sh (or `make setup`)"
        )
    port = port or free_port()
    tcp = rtc_tcp_port or free_port()
    udp = rtc_udp_port or free_port(socket.SOCK_DGRAM)
    log_file = tempfile.NamedTemporaryFile(prefix="livekit-server-", suffix=".log", delete=False)  # noqa: SIM115
    cmd = [
        binary,
        "--dev",
        "--bind",
        "127.0.0.1",
        "--node-ip",
        "127.0.0.1",
        "--config-body",
        _config_body(port, tcp, udp),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEKIT_")}
    proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    log_file.close()
    server = LiveKitServer(proc, port, tcp, udp, Path(log_file.name))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"livekit-server exited with code {proc.returncode}:\n{server.logs()[-4000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return server
        time.sleep(0.05)
    server.kill()
    raise TimeoutError(
        f"livekit-server did not answer on port {port} within {timeout}s:\n{server.logs()[-4000:]}"
    )
