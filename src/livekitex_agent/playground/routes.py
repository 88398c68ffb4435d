"""The playground's HTTP routes: the page, its static files and the dev-only token endpoint.

Mounted on the worker's HTTP server in ``dev`` mode (never in ``start`` mode) and on the
stand-alone server of ``python -m livekitex_agent playground``. Everything lives under
:data:`PLAYGROUND_PATH`.
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from ..errors import ConfigError
from .guard import token_request_problem
from .tokens import PLAYGROUND_TOKEN_TTL, check_name, playground_token

logger = logging.getLogger("livekitex_agent.playground")

PLAYGROUND_PATH = "/playground/"
STATIC_DIR = Path(__file__).parent / "static"
BUNDLE = STATIC_DIR / "vendor" / "livekit-client.esm.js"
BUILD_HINT = "build it once with: scripts/install-playground.sh (needs npm; part of scripts/setup.sh)"
MAX_TOKEN_REQUEST_BYTES = 4096


@dataclass(frozen=True)
class PlaygroundConfig:
    """What the playground needs to mint tokens: the LiveKit server and its (dev) key."""

    ws_url: str  # the LiveKit server the page's browser connects to (ws:// or wss://)
    api_key: str = field(repr=False)
    api_secret: str = field(repr=False)
    agent_name: str = ""  # the agent the page dispatches unless the user picks another


def bundle_missing_message() -> str:
    """What the page's route answers when the livekit-client bundle was not built."""
    return f"The playground's livekit-client bundle is missing ({BUNDLE}): {BUILD_HINT}\n"


def add_playground_routes(app: web.Application, config: PlaygroundConfig) -> None:
    """Serve the page at :data:`PLAYGROUND_PATH` and its token endpoint on ``app``."""
    handlers = _Handlers(config)
    app.router.add_get(PLAYGROUND_PATH.rstrip("/"), handlers.redirect)
    app.router.add_get(PLAYGROUND_PATH, handlers.page)
    app.router.add_get(PLAYGROUND_PATH + "config.json", handlers.page_config)
    app.router.add_post(PLAYGROUND_PATH + "token", handlers.token)
    app.router.add_static(PLAYGROUND_PATH + "static/", STATIC_DIR, append_version=False)
    app.middlewares.append(_security_headers)


@web.middleware
async def _security_headers(request: web.Request, handler: Any) -> web.StreamResponse:
    response: web.StreamResponse = await handler(request)
    if request.path.startswith(PLAYGROUND_PATH):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("Cache-Control", "no-store")
    return response


class _Handlers:
    def __init__(self, config: PlaygroundConfig) -> None:
        self._config = config
        server = urlsplit(config.ws_url)
        http_scheme = "https" if server.scheme == "wss" else "http"
        livekit = f"{server.scheme}://{server.netloc} {http_scheme}://{server.netloc}"
        # the page runs only our scripts; it talks to this server and to the LiveKit server
        self._csp = (
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src 'self' {livekit}; media-src 'self' blob: mediastream:; worker-src 'self' blob:; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        )

    async def redirect(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(PLAYGROUND_PATH)

    async def page(self, request: web.Request) -> web.StreamResponse:
        if not BUNDLE.is_file():
            return web.Response(status=503, text=bundle_missing_message())
        return web.FileResponse(
            STATIC_DIR / "index.html",
            headers={"Content-Type": "text/html; charset=utf-8", "Content-Security-Policy": self._csp},
        )

    async def page_config(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"agent_name": self._config.agent_name, "livekit_url": self._config.ws_url})

    async def token(self, request: web.Request) -> web.StreamResponse:
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        problem = token_request_problem(
            peer=request.remote,
            host_header=request.headers.get("Host"),
            origin=request.headers.get("Origin"),
            fetch_site=request.headers.get("Sec-Fetch-Site"),
            port=int(sockname[1]) if sockname else -1,
        )
        if problem:
            logger.warning("refused a playground token request: %s", problem)
            return web.json_response({"error": problem}, status=403)
        if (request.content_length or 0) > MAX_TOKEN_REQUEST_BYTES:
            return web.json_response({"error": "the request body is too large"}, status=413)
        try:
            body = await request.json() if request.can_read_body else {}
            if not isinstance(body, dict):
                raise ConfigError(f"the request body must be a JSON object, got {type(body).__name__}")
            room = check_name("room", body.get("room") or f"playground-{secrets.token_hex(4)}")
            identity = check_name("identity", body.get("identity") or f"user-{secrets.token_hex(3)}")
            agent_name = body.get("agent_name", self._config.agent_name)
            token = playground_token(
                self._config.api_key,
                self._config.api_secret,
                room=room,
                identity=identity,
                agent_name=check_name("agent name", agent_name, allow_empty=True),
            )
        except json.JSONDecodeError as e:
            return web.json_response({"error": f"the request body is not JSON: {e}"}, status=400)
        except ConfigError as e:
            return web.json_response({"error": str(e)}, status=400)
        logger.info("playground token for %s in room %s (agent %r)", identity, room, agent_name)
        return web.json_response(
            {
                "url": self._config.ws_url,
                "token": token,
                "room": room,
                "identity": identity,
                "agent_name": agent_name,
                "expires_in": int(PLAYGROUND_TOKEN_TTL.total_seconds()),
            }
        )
