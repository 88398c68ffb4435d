"""Function tools inside a conversation: concurrency, failures, bad arguments, hand-offs, step limits."""

from __future__ import annotations

import asyncio
import json

from livekitex_agent import Agent, RunContext, ToolError, function_tool
from livekitex_agent.chat import FunctionCall, FunctionCallOutput
from livekitex_agent.session import AgentSession
from livekitex_agent.testing import FakeLLM, FakeLLMResponse, FakeToolCall, virtual_time


class Concierge(Agent):
    def __init__(self) -> None:
        super().__init__("You book things.")
        self.calls: list[str] = []

    @function_tool
    async def get_weather(self, ctx: RunContext, city: str) -> str:
        """Weather for a city."""
        await asyncio.sleep(1.0)
        self.calls.append(f"weather:{city}")
        return f"Sunny in {city}."

    @function_tool
    async def book_table(self, guests: int, time: str) -> dict[str, object]:
        """Book a table."""
        if guests > 8:
            raise ToolError("We cannot seat more than 8 guests.")
        self.calls.append(f"book:{guests}@{time}")
        return {"confirmed": True, "guests": guests, "time": time}

    @function_tool(timeout=2.0)
    async def check_calendar(self) -> str:
        """A slow backend."""
        await asyncio.sleep(30)
        return "free"

    @function_tool
    async def broken(self) -> str:
        """A bug."""
        return str(1 / 0)


@virtual_time
async def test_concurrent_tools_with_one_failing_and_one_timing_out_then_the_conversation_goes_on() -> None:
    loop = asyncio.get_running_loop()
    agent = Concierge()
    llm = FakeLLM(
        [
            FakeLLMResponse(
                tool_calls=[
                    FakeToolCall("get_weather", {"city": "Paris"}),
                    FakeToolCall("book_table", {"guests": 12, "time": "19:00"}),
                    FakeToolCall("check_calendar", {}),
                    FakeToolCall("broken", {}),
                ]
            ),
            "Paris is sunny; I could not book for 12 and the calendar is slow.",
            "Anything else?",
        ]
    )
    session = AgentSession(llm=llm)
    await session.start(agent)
    t0 = loop.time()
    result = await session.run(user_input="Weather in Paris and a table for 12?")
    assert loop.time() - t0 == 2.0  # all four ran at once; the slowest is the 2 s timeout

    outputs = {o.name: o for o in result.function_outputs}
    assert outputs["get_weather"].output == "Sunny in Paris." and not outputs["get_weather"].is_error
    assert outputs["book_table"].output == "We cannot seat more than 8 guests."
    assert outputs["check_calendar"].is_error and "timed out" in outputs["check_calendar"].output
    assert outputs["broken"].is_error and "internal error" in outputs["broken"].output
    assert result.reply.startswith("Paris is sunny")
    # the second LLM request carried every call and its result
    second = llm.requests[1].chat_ctx.items
    assert [i.name for i in second if isinstance(i, FunctionCall)] == [
        "get_weather",
        "book_table",
        "check_calendar",
        "broken",
    ]
    assert len([i for i in second if isinstance(i, FunctionCallOutput)]) == 4
    assert llm.requests[1].tools == ["get_weather", "book_table", "check_calendar", "broken"]

    # and the session takes the next turn normally
    nxt = await session.run(user_input="Thanks")
    assert nxt.reply == "Anything else?"
    await session.aclose()


@virtual_time
async def test_invalid_arguments_from_the_llm_are_reported_back_to_it() -> None:
    agent = Concierge()
    llm = FakeLLM(
        [
            FakeLLMResponse(tool_calls=[FakeToolCall("book_table", {"guests": "many", "time": "7pm"})]),
            FakeLLMResponse(tool_calls=[FakeToolCall("book_table", '{"guests": 2, "time": ')]),
            FakeLLMResponse(tool_calls=[FakeToolCall("book_table", {"guests": 2, "time": "19:00"})]),
            "Booked for two at seven.",
        ]
    )
    session = AgentSession(llm=llm)
    await session.start(agent)
    result = await session.run(user_input="Table for two at seven")
    first, second, third = result.function_outputs
    assert first.is_error and "guests" in first.output and "many" in first.output
    assert second.is_error and "not valid JSON" in second.output
    assert json.loads(third.output) == {"confirmed": True, "guests": 2, "time": "19:00"}
    assert agent.calls == ["book:2@19:00"]
    assert result.reply == "Booked for two at seven."
    await session.aclose()


@virtual_time
async def test_tool_steps_are_capped() -> None:
    loop_call = FakeLLMResponse(tool_calls=[FakeToolCall("book_table", {"guests": 1, "time": "now"})])
    llm = FakeLLM([loop_call, loop_call, "Done looping."])
    session = AgentSession(llm=llm, max_tool_steps=2)
    await session.start(Concierge())
    result = await session.run(user_input="go")
    assert len(result.function_calls) == 2
    assert llm.requests[2].tools == []  # the last step may only answer in words
    assert llm.requests[2].tool_choice == "none"
    assert result.reply == "Done looping."
    await session.aclose()


class Receptionist(Agent):
    def __init__(self) -> None:
        super().__init__("You greet people and transfer them.")

    @function_tool
    async def transfer_to_billing(self, ctx: RunContext) -> Agent:
        """Send the caller to billing."""
        return Billing(topic=ctx.userdata["topic"])


class Billing(Agent):
    def __init__(self, topic: str) -> None:
        super().__init__(f"You handle billing questions about {topic}.")
        self.entered = False

    async def on_enter(self) -> None:
        self.entered = True
        self.session.generate_reply(instructions="Introduce yourself as billing.")

    @function_tool
    async def refund(self, amount: float) -> str:
        """Refund an amount."""
        return f"Refunded {amount:.2f}."


@virtual_time
async def test_handoff_to_another_agent_keeps_history_and_swaps_tools() -> None:
    llm = FakeLLM(
        [
            FakeLLMResponse(text="Transferring you.", tool_calls=[FakeToolCall("transfer_to_billing")]),
            "Hi, billing here. How can I help with your invoice?",
        ]
    )
    session = AgentSession(llm=llm, userdata={"topic": "invoices"})
    await session.start(Receptionist())
    result = await session.run(user_input="I have a billing question")
    billing = session.current_agent
    assert isinstance(billing, Billing) and billing.entered
    assert session.history.instructions == "You handle billing questions about invoices."
    assert result.function_outputs[0].output == "Transferred the conversation to Billing."
    # the new agent's greeting ran with its own tools and the whole history
    greet = llm.requests[1]
    assert greet.tools == ["refund"]
    assert "I have a billing question" in [m.content for m in greet.chat_ctx.messages()]
    assert greet.chat_ctx.messages()[-1].content == "Introduce yourself as billing."
    assert result.reply == "Hi, billing here. How can I help with your invoice?"
    await session.aclose()
