"""The agent the browser tests talk to: local Silero VAD, PocketSphinx (biased to the test's phrases)
and espeak-ng, with a scripted LLM that decides from the conversation (weather → a tool call; "story"
→ a long answer to interrupt)."""

from __future__ import annotations

import asyncio

from livekitex_agent import Agent, JobContext, RunContext, function_tool
from livekitex_agent.plugins import local
from livekitex_agent.session import AgentSession
from livekitex_agent.testing import FakeLLM, FakeLLMResponse, FakeToolCall, LLMRequest

AGENT_NAME = "playground-test"
GREETING = "Hello, I am the playground agent."
QUESTION = "what is the weather in paris"
CHAT = "please tell me a story"
WEATHER_REPLY = "It is sunny in Paris today."
STORY = (  # sentences: the transcript shows each one as its audio starts
    "Once upon a time, in a small village by the sea, there lived an old fisherman. "
    "He went out every morning before the sun came up. "
    "Every evening he told the children about the fish that got away. "
    "He told them about the storms he had seen. "
    "And he told them about the lighthouse keeper who sang to the waves."
)
AGENT_RATE = 185


class PlaygroundAgent(Agent):
    def __init__(self) -> None:
        super().__init__("You answer questions about the weather and tell stories.")

    async def on_enter(self) -> None:
        self.session.say(GREETING)

    @function_tool
    async def get_weather(self, ctx: RunContext, city: str) -> str:
        """Today's weather for a city (with markup, which the page must show as text)."""
        return f"<b>Sunny</b> in {city}."


def policy(request: LLMRequest) -> str | FakeLLMResponse:
    items = request.chat_ctx.items
    if items and items[-1].type == "function_call_output":
        return WEATHER_REPLY
    said = (request.last_user_message or "").lower()
    if "weather" in said:
        return FakeLLMResponse(tool_calls=[FakeToolCall("get_weather", {"city": "Paris"})])
    if "story" in said:
        return STORY
    return "Sorry, I did not catch that."


async def entrypoint(ctx: JobContext) -> None:
    await ctx.connect()
    session = AgentSession(
        vad=local.SileroVAD(),
        stt=local.PocketSphinxSTT(phrases=[QUESTION, CHAT], phrase_margin=0.0, streaming=True),
        llm=FakeLLM(default=policy),
        tts=local.EspeakTTS(rate=AGENT_RATE, sample_rate=24000),
    )
    closed = asyncio.Event()
    session.on("close", lambda _e: closed.set())
    await session.start(PlaygroundAgent(), room=ctx.room)
    await closed.wait()
