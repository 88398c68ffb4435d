"""The stand-alone server of ``python -m livekitex_agent playground``: the page and its token, on loopback."""

from __future__ import annotations

import aiohttp
import pytest

from livekitex_agent.errors import ConfigError
from livekitex_agent.playground import PlaygroundConfig, PlaygroundServer

CONFIG = PlaygroundConfig("ws://127.0.0.1:7880", "devkey", "a-rather-long-test-secret-value-0123456789")


async def test_serves_the_page_and_tokens_for_any_worker() -> None:
    server = PlaygroundServer(CONFIG, port=0)
    await server.start()
    try:
        assert server.url == f"http://127.0.0.1:{server.port}/playground/"
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{server.port}/") as resp:
                assert resp.status == 200 and str(resp.url) == server.url  # redirected to the page
            async with http.post(server.url + "token", json={"room": "r1"}) as resp:
                body = await resp.json()
                assert resp.status == 200 and body["room"] == "r1" and body["agent_name"] == ""
    finally:
        await server.aclose()


def test_binds_to_loopback_only() -> None:
    with pytest.raises(ConfigError, match="'0.0.0.0'"):
        PlaygroundServer(CONFIG, host="0.0.0.0")
