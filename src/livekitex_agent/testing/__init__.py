"""The public testing kit: scripted fakes, in-memory I/O, a virtual-time loop, local test servers.

Test an agent in a few lines::

    from livekitex_agent.testing import FakeLLM, FakeLLMResponse, FakeToolCall, run_virtual

    async def main():
        llm = FakeLLM([FakeLLMResponse(tool_calls=[FakeToolCall("get_weather", {"city": "Paris"})]),
                       "It is sunny in Paris."])
        session = AgentSession(llm=llm)
        await session.start(Assistant())
        result = await session.run(user_input="Weather in Paris?")
        assert result.function_calls[0].name == "get_weather"
        await session.aclose()

    run_virtual(main())
"""

from __future__ import annotations

from ..lazy import lazy_getattr
from ..rooms.memory import MemoryAudioInput, MemoryAudioOutput, MemoryIO, MemoryTextOutput
from .fake_turn import FakeTurnDetector, TurnQuestion
from .fakes import (
    FakeLLM,
    FakeLLMResponse,
    FakeSTT,
    FakeToolCall,
    FakeTTS,
    FakeVAD,
    LLMRequest,
)
from .virtual_time import VirtualTimeLoop, run_virtual, virtual_time
from .waiting import wait_until

# servers load lazily: they pull in aiohttp web machinery that most tests don't need
_LAZY = {
    "RealtimeTestServer": ".realtime_server",
    "OpenAITestServer": ".openai_http",
    "start_livekit_server": ".livekit_server",
    "LiveKitServer": ".livekit_server",
    "Toxiproxy": ".toxiproxy",
    "ToxiproxyNotFound": ".toxiproxy",
}

__all__ = [
    "FakeLLM",
    "FakeLLMResponse",
    "FakeSTT",
    "FakeTTS",
    "FakeToolCall",
    "FakeTurnDetector",
    "FakeVAD",
    "LLMRequest",
    "MemoryAudioInput",
    "MemoryAudioOutput",
    "MemoryIO",
    "MemoryTextOutput",
    "TurnQuestion",
    "VirtualTimeLoop",
    "run_virtual",
    "virtual_time",
    "wait_until",
    *_LAZY,
]


__getattr__ = lazy_getattr(__name__, _LAZY)
