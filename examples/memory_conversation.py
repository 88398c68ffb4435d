"""A spoken conversation in memory: scripted user audio in, the agent's voice and words out.

No network, no API key: the providers are the testing kit's fakes, the room is ``MemoryIO`` and the
clock is virtual, so three turns of talk run in well under a second. Run it:

    python examples/memory_conversation.py
"""

from __future__ import annotations

import asyncio

import numpy as np

from livekitex_agent import Agent, RunContext, function_tool
from livekitex_agent.media import AudioFrame
from livekitex_agent.metrics import TurnMetrics
from livekitex_agent.session import AgentSession
from livekitex_agent.testing import (
    FakeLLM,
    FakeLLMResponse,
    FakeSTT,
    FakeToolCall,
    FakeTTS,
    FakeVAD,
    MemoryIO,
    run_virtual,
)


class Concierge(Agent):
    def __init__(self) -> None:
        super().__init__("You are a hotel concierge. Be brief.")

    @function_tool
    async def get_weather(self, ctx: RunContext, city: str) -> str:
        """Current weather for a city."""
        return f"Sunny and 22 degrees in {city}."

    @function_tool
    async def book_table(self, guests: int, time: str) -> str:
        """Book a restaurant table."""
        return f"Table for {guests} at {time} is booked."


def speech(seconds: float) -> AudioFrame:
    t = np.arange(round(seconds * 16000)) / 16000
    return AudioFrame.from_float(0.3 * np.sin(2 * np.pi * 300 * t), 16000)


async def main() -> None:
    user_lines = ["What's the weather in Paris?", "Book a table for two at seven.", "Thanks, bye!"]
    llm = FakeLLM(
        [
            FakeLLMResponse(tool_calls=[FakeToolCall("get_weather", {"city": "Paris"})]),
            "It's sunny and 22 degrees in Paris.",
            FakeLLMResponse(tool_calls=[FakeToolCall("book_table", {"guests": 2, "time": "19:00"})]),
            "Your table for two at seven is booked.",
            "Goodbye, enjoy your stay!",
        ]
    )
    io = MemoryIO()
    session = AgentSession(vad=FakeVAD(), stt=FakeSTT(user_lines), llm=llm, tts=FakeTTS())
    loop = asyncio.get_running_loop()

    session.on("user_input_transcribed", lambda e: print(f"[{loop.time():6.2f}s] user:  {e.transcript}"))
    session.on(
        "function_tools_executed",
        lambda e: [
            print(f"[{loop.time():6.2f}s] tool:  {c.name}({c.arguments}) -> {o.output}")
            for c, o in zip(e.function_calls, e.function_call_outputs, strict=True)
        ],
    )
    session.on(
        "conversation_item_added",
        lambda e: (
            print(f"[{loop.time():6.2f}s] agent: {e.item.content}")
            if getattr(e.item, "role", None) == "assistant"
            else None
        ),
    )
    session.on(
        "metrics_collected",
        lambda e: (
            print(
                f"          e2e {e.metrics.e2e_latency * 1000:.0f} ms "
                f"(end of utterance {e.metrics.end_of_utterance_delay * 1000:.0f} ms)"
            )
            if isinstance(e.metrics, TurnMetrics)
            else None
        ),
    )
    await session.start(Concierge(), io=io)
    for _ in user_lines:
        io.push_audio(speech(1.5))
        io.push_silence(5.0)
    io.end_input()
    await session.wait_closed()
    print(
        f"agent spoke {sum(s.duration for s in io.audio_output.segments):.1f} s of audio "
        f"in {len(io.audio_output.segments)} replies (in-memory I/O, fake providers, virtual time)"
    )


if __name__ == "__main__":
    run_virtual(main())
