"""The playground's routes on the worker's HTTP server: served in dev mode only, on loopback only;
the token endpoint refuses other origins and hosts, and mints a short-lived token for one room."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from unittest import mock

import aiohttp
import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from livekitex_agent.config import load_worker_settings
from livekitex_agent.playground import routes
from livekitex_agent.worker import Worker, WorkerOptions

KEY, SECRET = "devkey", "a-rather-long-test-secret-value-0123456789"


async def _entry(ctx: Any) -> None:
    pass


def make_worker(*, playground: bool, http_host: str = "127.0.0.1") -> Worker:
    options = WorkerOptions(
        entrypoint=_entry,
        agent_name="helper",
        ws_url="ws://127.0.0.1:7880",
        api_key=KEY,
        api_secret=SECRET,
        http_host=http_host,
        http_port=0,
        executor="inprocess",
        load_fnc=lambda: 0.0,
    )
    return Worker(options, load_worker_settings(options.settings_defaults(), env={}), playground=playground)


@pytest.fixture
async def dev_worker() -> AsyncIterator[Worker]:
    worker = make_worker(playground=True)
    await worker._http.start()  # the HTTP endpoints alone: no server connection needed
    try:
        yield worker
    finally:
        await worker._http.aclose()


def base(worker: Worker) -> str:
    return f"http://127.0.0.1:{worker.http_port}"


async def post_token(worker: Worker, body: Any = None, **headers: str) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(base(worker) + "/playground/token", json=body or {}, headers=headers) as resp,
    ):
        return resp.status, await resp.json()


async def test_dev_mode_serves_the_page(dev_worker: Worker) -> None:
    assert dev_worker.playground_url == f"{base(dev_worker)}/playground/"
    async with aiohttp.ClientSession() as http:
        async with http.get(dev_worker.playground_url) as resp:
            assert resp.status == 200
            assert "Agent playground" in await resp.text()
            csp = resp.headers["Content-Security-Policy"]
            assert "script-src 'self'" in csp and "ws://127.0.0.1:7880" in csp
        async with http.get(base(dev_worker) + "/playground/config.json") as resp:
            assert await resp.json() == {"agent_name": "helper", "livekit_url": "ws://127.0.0.1:7880"}
        async with http.get(base(dev_worker) + "/playground/static/app.js") as resp:
            assert resp.status == 200
            assert "textContent" in await resp.text()
        async with http.get(base(dev_worker) + "/playground/static/../routes.py") as resp:
            assert resp.status in (403, 404)


async def test_a_token_for_one_room_and_the_agent(dev_worker: Worker) -> None:
    port = dev_worker.http_port
    status, body = await post_token(
        dev_worker,
        {"room": "my-room", "identity": "ada"},
        Origin=f"http://localhost:{port}",
        **{"Sec-Fetch-Site": "same-origin"},
    )
    assert status == 200, body
    assert (body["url"], body["room"], body["identity"], body["agent_name"]) == (
        "ws://127.0.0.1:7880",
        "my-room",
        "ada",
        "helper",
    )
    claims = jwt.decode(body["token"], SECRET, algorithms=["HS256"])
    assert claims["sub"] == "ada"
    assert claims["video"]["room"] == "my-room" and claims["video"]["roomJoin"] is True
    assert not claims["video"].get("roomAdmin") and not claims["video"].get("agent")
    assert claims["roomConfig"]["agents"] == [{"agentName": "helper"}]
    assert claims["exp"] - claims["nbf"] <= 300  # short-lived: it is checked at join only


async def test_refuses_other_origins(dev_worker: Worker) -> None:
    status, body = await post_token(dev_worker, Origin="https://evil.example")
    assert status == 403 and "https://evil.example" in body["error"]
    status, body = await post_token(dev_worker, **{"Sec-Fetch-Site": "cross-site"})
    assert status == 403 and "cross-site" in body["error"]


async def test_refuses_other_host_names(dev_worker: Worker) -> None:
    status, body = await post_token(dev_worker, Host=f"rebind.example:{dev_worker.http_port}")
    assert status == 403 and "rebind.example" in body["error"]


async def test_refuses_bad_names(dev_worker: Worker) -> None:
    status, body = await post_token(dev_worker, {"room": "a room/../x"})
    assert status == 400 and "a room/../x" in body["error"]
    status, body = await post_token(dev_worker, {"agent_name": 5})
    assert status == 400 and "5" in body["error"]


async def test_start_mode_has_no_playground() -> None:
    worker = make_worker(playground=False)
    await worker._http.start()
    try:
        assert worker.playground_url is None
        async with aiohttp.ClientSession() as http:
            for path in ("/playground/", "/playground/static/app.js"):
                async with http.get(base(worker) + path) as resp:
                    assert resp.status == 404
            async with http.post(base(worker) + "/playground/token", json={}) as resp:
                assert resp.status == 404
    finally:
        await worker._http.aclose()


def test_no_playground_off_loopback(caplog: pytest.LogCaptureFixture) -> None:
    # decided before binding (tests bind loopback only): a worker listening on all interfaces
    # would hand tokens to the network, so it serves no playground and says why
    worker = make_worker(playground=True, http_host="0.0.0.0")
    assert worker._http._playground_allowed() is False
    assert "playground off" in caplog.text and "0.0.0.0" in caplog.text


async def test_refuses_other_machines() -> None:
    # a peer address cannot be faked over a loopback socket: hand the handler a request from afar
    app = web.Application()
    routes.add_playground_routes(app, routes.PlaygroundConfig("ws://127.0.0.1:7880", KEY, SECRET))
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: {
        "peername": ("192.168.1.20", 50000),
        "sockname": ("0.0.0.0", 8081),
    }.get(name, default)
    request = make_mocked_request(
        "POST", "/playground/token", headers={"Host": "127.0.0.1:8081"}, transport=transport, app=app
    )
    match = await app.router.resolve(request)
    response = await match.handler(request)
    assert isinstance(response, web.Response) and response.status == 403
    assert response.text is not None and "192.168.1.20" in response.text


async def test_without_the_bundle_the_page_says_how_to_build_it(
    dev_worker: Worker, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(routes, "BUNDLE", tmp_path / "missing.js")
    async with aiohttp.ClientSession() as http, http.get(dev_worker.playground_url or "") as resp:
        assert resp.status == 503
        assert "scripts/install-playground.sh" in await resp.text()
