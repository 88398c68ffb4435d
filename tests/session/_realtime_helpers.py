"""Shared bits of the realtime session tests: a fast-retrying model, a pipeline of fakes, a spoken turn
(the fixtures are in conftest.py)."""

from __future__ import annotations

from _helpers import utterance

from livekitex_agent import Agent, RunContext, function_tool
from livekitex_agent.plugins.openai.realtime import RealtimeModel
from livekitex_agent.providers.base import RetryPolicy
from livekitex_agent.testing import FakeLLM, FakeSTT, FakeTTS, FakeVAD, MemoryIO
from livekitex_agent.testing.realtime_server import RealtimeTestServer

FAST = RetryPolicy(max_retries=2, base_delay=0.02, max_delay=0.05, timeout=None)


def model(server: RealtimeTestServer, **kwargs: object) -> RealtimeModel:
    kwargs.setdefault("retry_policy", FAST)
    return RealtimeModel(api_key=server.api_key, base_url=server.base_url, heartbeat=None, **kwargs)  # type: ignore[arg-type]


def pipeline(**kw: object) -> dict[str, object]:
    return {
        "vad": FakeVAD(),
        "stt": kw.pop("stt", FakeSTT()),
        "llm": kw.pop("llm", FakeLLM()),
        "tts": FakeTTS(),
        **kw,
    }


async def say(io: MemoryIO, seconds: float = 0.6, silence: float = 1.0) -> None:
    io.push_audio(utterance(seconds))
    io.push_silence(silence)


class WeatherAgent(Agent):
    def __init__(self) -> None:
        super().__init__("You tell the weather.")
        self.asked: list[str] = []

    @function_tool
    async def get_weather(self, ctx: RunContext, city: str) -> str:
        """Weather for a city."""
        self.asked.append(city)
        return f"Sunny in {city}."
