from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from livekitex_agent.testing.openai_http import OpenAITestServer


@pytest.fixture
async def server() -> AsyncIterator[OpenAITestServer]:
    """A fresh OpenAITestServer on a free loopback port, closed after the test."""
    async with OpenAITestServer() as s:
        yield s
