"""The stand-alone playground server of ``python -m livekitex_agent playground``, for any running worker."""

from __future__ import annotations

import logging

from aiohttp import web

from ..errors import ConfigError
from .guard import is_loopback_host
from .routes import PLAYGROUND_PATH, PlaygroundConfig, add_playground_routes

logger = logging.getLogger("livekitex_agent.playground")


class PlaygroundServer:
    """Serves the page and the token endpoint on a loopback address (``port=0`` picks a free port)."""

    def __init__(self, config: PlaygroundConfig, host: str = "127.0.0.1", port: int = 8082) -> None:
        if not is_loopback_host(host):
            raise ConfigError(f"--host={host!r}: the playground mints tokens, so it only binds to loopback")
        self._config = config
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        """The page's address (after :meth:`start`)."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}{PLAYGROUND_PATH}"

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024)
        app.router.add_get("/", _to_page)
        add_playground_routes(app, self._config)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, self._host, self._port).start()
        addresses = self._runner.addresses
        self.port = int(addresses[0][1]) if addresses else self._port

    async def aclose(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


async def _to_page(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound(PLAYGROUND_PATH)
