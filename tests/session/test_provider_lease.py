"""Who closes providers: a session closes what it used when no other running session uses it, and
a closed provider works again on its next use — so nothing leaks and nothing breaks."""

from __future__ import annotations

import asyncio
import gc
import logging
import warnings

import pytest

from livekitex_agent import Agent
from livekitex_agent.plugins import openai
from livekitex_agent.session import AgentSession
from livekitex_agent.testing.openai_http import OpenAITestServer

KEY = "sk-test-very-secret-key-0123456789"


async def one_call(llm: openai.LLM) -> str:
    session = AgentSession(llm=llm)
    await session.start(Agent("Be brief."))
    result = await session.run(user_input="hi", timeout=10)
    await session.aclose()
    return str(result.events[-1]) if result.events else ""


async def test_many_sessions_leave_no_unclosed_http_session(caplog: pytest.LogCaptureFixture) -> None:
    async with OpenAITestServer() as server:
        shared = openai.LLM(api_key=KEY, base_url=server.base_url)
        with warnings.catch_warnings(record=True) as seen, caplog.at_level(logging.ERROR, logger="asyncio"):
            warnings.simplefilter("always", ResourceWarning)
            for _ in range(25):  # an LLM built per call, as the README's entrypoint does
                await one_call(openai.LLM(api_key=KEY, base_url=server.base_url))
            for _ in range(10):  # one LLM shared by calls one after the other: reopens after each
                await one_call(shared)
            # and by calls at the same time: the first to end must not cut the others off
            results = await asyncio.gather(*(one_call(shared) for _ in range(5)))
            gc.collect()
        assert len(results) == 5
        assert len([r for r in server.requests if r.endpoint == "chat"]) == 40  # every call got its reply
        unclosed = [str(w.message) for w in seen if "Unclosed" in str(w.message)]
        assert unclosed == [] and "Unclosed client session" not in caplog.text
