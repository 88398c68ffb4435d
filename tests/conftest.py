from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from livekitex_agent.testing.livekit_server import (
    LiveKitServer,
    LiveKitServerNotFound,
    find_livekit_server,
    start_livekit_server,
)


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
