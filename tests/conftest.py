from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest

from livekitex_agent.testing.livekit_server import (
    LiveKitServer,
    LiveKitServerNotFound,
    find_livekit_server,
    start_livekit_server,
)
from livekitex_agent.testing.toxiproxy import Toxiproxy, ToxiproxyNotFound, find_toxiproxy_server


@pytest.fixture(scope="session")
def livekit_server() -> Iterator[LiveKitServer]:
    """A real livekit-server on free loopback ports, shared by the whole test session.

    Missing binary: a failure in CI (it must be installed by .ci/run), a skip on a developer machine.
    """
    if find_livekit_server() is None:
        if os.environ.get("CI"):
            raise LiveKitServerNotFound("livekit-server missing in CI: .ci/run must install it")
        pytest.skip("livekit-server not installed (run scripts/install-livekit-server.sh)")
    server = start_livekit_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def toxiproxy() -> AsyncIterator[Toxiproxy]:
    """A real toxiproxy-server on a free loopback port (a failure in CI when missing, a skip elsewhere)."""
    if find_toxiproxy_server() is None:
        if os.environ.get("CI"):
            raise ToxiproxyNotFound("toxiproxy-server missing in CI: .ci/run must install it")
        pytest.skip("toxiproxy-server not installed (run scripts/install-toxiproxy.sh)")
    async with await Toxiproxy.start() as proxy_server:
        yield proxy_server
