"""Fixtures of the session tests: a RealtimeTestServer, and closing every session a test started
(``pytestmark = pytest.mark.usefixtures("close_sessions")``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from livekitex_agent.session import AgentSession
from livekitex_agent.testing.realtime_server import RealtimeTestServer


@pytest.fixture
async def server() -> AsyncIterator[RealtimeTestServer]:
    async with RealtimeTestServer(audio_ms_per_char=15) as srv:
        yield srv


@pytest.fixture
async def close_sessions(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    """Close every session a test started (even a failing one) before its server goes away."""
    started: list[AgentSession] = []
    original = AgentSession.start

    async def start(self: AgentSession, *args: object, **kwargs: object) -> None:
        started.append(self)
        await original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(AgentSession, "start", start)
    yield
    for session in started:
        async with asyncio.timeout(10):
            await session.aclose()
