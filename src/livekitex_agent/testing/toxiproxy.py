"""A real fault proxy for tests: start ``toxiproxy-server`` on 127.0.0.1 and drive it over its HTTP API.

Put it between a client and its server, then cut, stall, slow or truncate the connection at the
moment a test chooses::

    async with await Toxiproxy.start() as toxiproxy:
        proxy = await toxiproxy.create_proxy("realtime", upstream=f"127.0.0.1:{server.port}")
        model = openai.RealtimeModel(base_url=f"http://{proxy.listen}/v1", ...)
        ...
        await proxy.reset_peer()          # the next bytes from the server reset the connection
        await proxy.timeout(stream="downstream")  # the server's bytes stop arriving (a stall)
        await proxy.remove_toxic("timeout_downstream")

The binary is found like ``livekit-server``: ``$TOXIPROXY_SERVER_BIN``, the project's
``.tools/bin`` (``scripts/install-toxiproxy.sh`` builds it there), or ``PATH``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import aiohttp

from .livekit_server import free_port

Stream = Literal["upstream", "downstream"]  # client → server, server → client
ToxicType = Literal["latency", "bandwidth", "slow_close", "timeout", "reset_peer", "slicer", "limit_data"]


class ToxiproxyNotFound(RuntimeError):
    """No ``toxiproxy-server`` binary: run ``scripts/install-toxiproxy.sh``."""


class ToxiproxyError(RuntimeError):
    """The toxiproxy API refused a request (the message holds its status and answer)."""


def find_toxiproxy_server() -> str | None:
    """The ``toxiproxy-server`` binary: $TOXIPROXY_SERVER_BIN, the project's .tools/bin, or PATH."""
    env = os.environ.get("TOXIPROXY_SERVER_BIN")
    if env and Path(env).is_file():
        return env
    for parent in Path(__file__).resolve().parents:
        candidate = parent / ".tools" / "bin" / "toxiproxy-server"
        if candidate.is_file():
            return str(candidate)
    return shutil.which("toxiproxy-server")


@dataclass
class Toxic:
    """One toxic on a proxy, as the API reports it."""

    name: str
    type: str
    stream: Stream
    toxicity: float = 1.0
    attributes: dict[str, Any] = field(default_factory=dict)


class Proxy:
    """One TCP proxy: clients connect to :attr:`listen`, it forwards to ``upstream`` through its toxics."""

    def __init__(self, api: Toxiproxy, name: str, listen: str, upstream: str) -> None:
        self._api = api
        self.name = name
        self.listen = listen  # "127.0.0.1:port", the port chosen by the server
        self.upstream = upstream

    @property
    def host(self) -> str:
        return self.listen.rsplit(":", 1)[0]

    @property
    def port(self) -> int:
        return int(self.listen.rsplit(":", 1)[1])

    async def add_toxic(
        self,
        type: ToxicType,
        *,
        stream: Stream = "downstream",
        name: str | None = None,
        toxicity: float = 1.0,
        **attributes: Any,
    ) -> Toxic:
        """Add a toxic (named ``<type>_<stream>`` unless ``name`` says otherwise); it acts at once."""
        body = {"name": name or f"{type}_{stream}", "type": type, "stream": stream, "toxicity": toxicity,
                "attributes": attributes}
        data = await self._api.request("POST", f"/proxies/{self.name}/toxics", body)
        return _toxic(data)

    async def remove_toxic(self, name: str) -> None:
        await self._api.request("DELETE", f"/proxies/{self.name}/toxics/{name}")

    async def toxics(self) -> list[Toxic]:
        return [_toxic(t) for t in await self._api.request("GET", f"/proxies/{self.name}/toxics")]

    async def remove_toxics(self) -> None:
        for toxic in await self.toxics():
            await self.remove_toxic(toxic.name)

    # the toxics a fault test uses, with the API's units (milliseconds, bytes); ``name`` as in add_toxic
    async def reset_peer(self, timeout_ms: int = 0, *, stream: Stream = "downstream", name: str | None = None) -> Toxic:
        """Reset the connection (TCP RST) ``timeout_ms`` after the next data flows on ``stream``."""
        return await self.add_toxic("reset_peer", stream=stream, name=name, timeout=timeout_ms)

    async def timeout(self, timeout_ms: int = 0, *, stream: Stream = "downstream", name: str | None = None) -> Toxic:
        """Stop all data on ``stream``; close the connection after ``timeout_ms`` (0: never — a stall).

        Removing this toxic closes the connections it stalled (toxiproxy's behaviour)."""
        return await self.add_toxic("timeout", stream=stream, name=name, timeout=timeout_ms)

    async def latency(self, latency_ms: int, jitter_ms: int = 0, *, stream: Stream = "downstream", name: str | None = None) -> Toxic:
        """Delay every chunk on ``stream`` by ``latency_ms`` (± ``jitter_ms``)."""
        return await self.add_toxic("latency", stream=stream, name=name, latency=latency_ms, jitter=jitter_ms)

    async def limit_data(self, nbytes: int, *, stream: Stream = "downstream", name: str | None = None) -> Toxic:
        """Close the connection once ``nbytes`` more have passed on ``stream`` (a truncated transfer)."""
        return await self.add_toxic("limit_data", stream=stream, name=name, bytes=nbytes)

    async def slow_close(self, delay_ms: int, *, stream: Stream = "downstream", name: str | None = None) -> Toxic:
        """Delay the close of the connection on ``stream`` by ``delay_ms``."""
        return await self.add_toxic("slow_close", stream=stream, name=name, delay=delay_ms)

    async def disable(self) -> None:
        """Close every connection and stop listening (new connections are refused)."""
        await self._api.request("POST", f"/proxies/{self.name}", {"enabled": False})

    async def enable(self) -> None:
        """Listen again on the same address."""
        await self._api.request("POST", f"/proxies/{self.name}", {"enabled": True})

    async def delete(self) -> None:
        await self._api.request("DELETE", f"/proxies/{self.name}")
        self._api.proxies.pop(self.name, None)


def _toxic(data: dict[str, Any]) -> Toxic:
    return Toxic(data["name"], data["type"], data["stream"], float(data.get("toxicity", 1.0)),
                 dict(data.get("attributes") or {}))


class Toxiproxy:
    """A ``toxiproxy-server`` process this object started, and a client of its API.

    Use :meth:`start` (or ``async with await Toxiproxy.start()``); :meth:`aclose` deletes the proxies
    it created and stops the process.
    """

    def __init__(self, process: asyncio.subprocess.Process, port: int, log_path: Path) -> None:
        self.process = process
        self.port = port
        self.log_path = log_path
        self.proxies: dict[str, Proxy] = {}
        self._http: aiohttp.ClientSession | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    async def start(cls, *, binary: str | None = None, port: int | None = None, timeout: float = 10.0) -> Toxiproxy:
        """Start the server on 127.0.0.1 (a free port) and wait until its API answers."""
        binary = binary or find_toxiproxy_server()
        if binary is None:
            raise ToxiproxyNotFound("toxiproxy-server is not installed: run scripts/install-toxiproxy.sh "
                                    "(or point TOXIPROXY_SERVER_BIN at the binary)")
        port = port or free_port()
        log = tempfile.NamedTemporaryFile(prefix="toxiproxy-", suffix=".log", delete=False)  # noqa: SIM115
        try:
            process = await asyncio.create_subprocess_exec(
                binary, "-host", "127.0.0.1", "-port", str(port), stdout=log, stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()
        self = cls(process, port, Path(log.name))
        try:
            await self._wait_ready(timeout)
        except BaseException:
            await self.aclose()
            raise
        return self

    async def _wait_ready(self, timeout: float) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            if self.process.returncode is not None:
                raise RuntimeError(f"toxiproxy-server exited with code {self.process.returncode}:\n{self.logs()}")
            with contextlib.suppress(aiohttp.ClientError, OSError, ToxiproxyError):
                await self.version()
                return
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"toxiproxy-server did not answer on port {self.port} within {timeout:g}s:\n"
                                   f"{self.logs()}")
            await asyncio.sleep(0.05)

    def logs(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    async def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Call the API; raises :class:`ToxiproxyError` naming the request on a non-2xx answer."""
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))
        async with self._http.request(method, self.api_url + path, json=body) as resp:
            text = await resp.text()
            if resp.status >= 300:
                sent = f" {body}" if body else ""
                raise ToxiproxyError(f"toxiproxy {method} {path}{sent} -> HTTP {resp.status}: {text.strip()}")
            if not text or resp.content_type != "application/json":
                return text
            return await resp.json()

    async def version(self) -> str:
        answer = await self.request("GET", "/version")  # {"version": "2.12.0"} (older servers: text)
        return str(answer.get("version") if isinstance(answer, dict) else answer).strip()

    async def create_proxy(self, name: str, *, upstream: str, listen: str = "127.0.0.1:0") -> Proxy:
        """A proxy to ``upstream`` ("host:port"), listening on ``listen`` (a free loopback port by default)."""
        data = await self.request("POST", "/proxies", {"name": name, "listen": listen, "upstream": upstream,
                                                       "enabled": True})
        proxy = Proxy(self, name, data["listen"], data["upstream"])
        self.proxies[name] = proxy
        return proxy

    async def reset(self) -> None:
        """Enable every proxy and remove every toxic."""
        await self.request("POST", "/reset")

    async def aclose(self) -> None:
        """Delete the proxies, stop the process, close the HTTP client (safe to call twice)."""
        if self.process.returncode is None:
            for proxy in list(self.proxies.values()):
                with contextlib.suppress(aiohttp.ClientError, OSError, ToxiproxyError, TimeoutError):
                    await proxy.delete()
        self.proxies.clear()
        if self._http is not None:
            await self._http.close()
            self._http = None
        if self.process.returncode is None:
            self.process.terminate()
            try:
                async with asyncio.timeout(5):
                    await self.process.wait()
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        with contextlib.suppress(OSError):
            self.log_path.unlink()

    async def __aenter__(self) -> Toxiproxy:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
