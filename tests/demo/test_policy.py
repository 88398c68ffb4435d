"""The demo's offline rule-based policy: the right tool calls, answers from tool results, graceful
answers to anything else — on its own and through the framework's tool-calling path."""

from __future__ import annotations

import json

import pytest

from livekitex_agent.chat import ChatContext, FunctionCall, FunctionCallOutput
from livekitex_agent.demo.agent import BistroConcierge
from livekitex_agent.demo.policy import (
    ASK_BOOKING,
    CAPABILITIES,
    DESCRIPTION,
    RuleBasedPolicy,
    parse_city,
    parse_guests,
    parse_time,
    spoken_time,
)
from livekitex_agent.demo.script import CALL_SCRIPT
from livekitex_agent.session import AgentSession

TOOLS = {"get_weather", "book_table", "find_dishes"}


def ask(*user_lines: str, offered: set[str] = TOOLS) -> tuple[str, list[FunctionCall]]:
    ctx = ChatContext()
    ctx.set_instructions("instructions")
    for line in user_lines:
        ctx.add_message("user", line)
        if line is not user_lines[-1]:
            text, _ = RuleBasedPolicy().decide(ctx.items, offered)
            ctx.add_message("assistant", text)
    return RuleBasedPolicy().decide(ctx.items, offered)


@pytest.mark.parametrize("line", CALL_SCRIPT, ids=lambda line: line.text)
def test_each_scripted_request_gets_its_tool_call(line: object) -> None:
    text, calls = ask(line.text)  # type: ignore[attr-defined]
    expected = line.expected_call  # type: ignore[attr-defined]
    if expected is None:
        assert calls == [] and text == "You're welcome. Goodbye!"
    else:
        assert [(c.name, json.loads(c.arguments)) for c in calls] == [(expected.name, expected.arguments)]
        assert text == ""


@pytest.mark.parametrize(
    ("line", "name", "args"),
    [
        ("Is it raining in London?", "get_weather", {"city": "London"}),
        ("weather in new york tomorrow please", "get_weather", {"city": "New York"}),
        ("I'd like to reserve for 2 at 7:30", "book_table", {"guests": 2, "time": "19:30"}),
        ("Could you book six guests at nine o'clock", "book_table", {"guests": 6, "time": "21:00"}),
        ("Book a table for three at eleven in the morning", "book_table", {"guests": 3, "time": "11:00"}),
        ("Anything vegan on the menu?", "find_dishes", {"diet": "vegan"}),
        ("What food do you have?", "find_dishes", {"diet": "any"}),
    ],
)
def test_other_phrasings(line: str, name: str, args: dict[str, object]) -> None:
    _, calls = ask(line)
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [(name, args)]


def test_unknown_input_gets_a_polite_answer_and_no_tool_call() -> None:
    text, calls = ask("Can you sing me a song about trains?")
    assert calls == []
    assert text.startswith("Sorry") and CAPABILITIES in text


def test_a_booking_without_details_asks_then_books_with_the_answer() -> None:
    text, calls = ask("I would like to book a table")
    assert (text, calls) == (ASK_BOOKING, [])
    text, calls = ask("I would like to book a table", "four people at seven")
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [
        ("book_table", {"guests": 4, "time": "19:00"})
    ]


def test_a_tool_that_is_not_offered_is_not_called() -> None:
    text, calls = ask("What's the weather like in Paris today?", offered=set())
    assert calls == [] and "can't" in text


def test_tool_results_become_the_spoken_answer() -> None:
    ctx = ChatContext()
    ctx.add_message("user", "weather in Paris and a vegetarian menu")
    ctx.append(call := FunctionCall(name="get_weather", arguments='{"city": "Paris"}'))
    ctx.append(
        FunctionCallOutput(
            call_id=call.call_id,
            name="get_weather",
            output=json.dumps({"city": "Paris", "condition": "sunny", "temperature_c": 22}),
        )
    )
    ctx.append(FunctionCallOutput(call_id="x", name="book_table", output="we are full", is_error=True))
    text, calls = RuleBasedPolicy().decide(ctx.items, TOOLS)
    assert calls == []
    assert text == "It's sunny and 22 degrees in Paris today. Sorry, that did not work: we are full."


def test_parsers() -> None:
    assert parse_city("what's the weather like in paris today") == "Paris"
    assert parse_city("what's the weather") is None
    assert parse_guests("a table for four people") == 4
    assert parse_guests("for tonight, eight guests") == 8
    assert parse_guests("a table please") is None
    assert parse_time("at eight tonight") == "20:00"
    assert parse_time("at 12:15") == "12:15"
    assert parse_time("at seven thirty in the morning") == "07:30"
    assert parse_time("look at the table") is None
    assert [spoken_time(t) for t in ("20:00", "19:30", "12:00", "09:05")] == [
        "8 PM",
        "7:30 PM",
        "12 PM",
        "9:05 AM",
    ]


def test_it_says_what_it_is() -> None:
    assert DESCRIPTION == "offline rule-based policy (example), not an AI model"
    assert RuleBasedPolicy.description == DESCRIPTION


async def test_through_the_framework_the_tools_run_and_the_answer_uses_their_results() -> None:
    agent = BistroConcierge(greet=False)
    session = AgentSession(llm=RuleBasedPolicy())
    await session.start(agent)
    try:
        result = await session.run(user_input="Book a table for four people at eight tonight.")
        assert [(c.name, json.loads(c.arguments)) for c in result.function_calls] == [
            ("book_table", {"guests": 4, "time": "20:00"})
        ]
        assert json.loads(result.function_outputs[0].output) == {
            "booking_number": 417,
            "guests": 4,
            "time": "20:00",
        }
        assert result.reply == "Done: a table for 4 at 8 PM tonight. Your booking number is 417."
        assert agent.bookings == [{"booking_number": 417, "guests": 4, "time": "20:00"}]

        result = await session.run(user_input="Book a table for thirteen at eight")
        assert result.function_calls == [] and result.reply == ASK_BOOKING  # "thirteen" is no number it knows

        result = await session.run(user_input="What's the weather like in Atlantis today?")
        assert result.function_outputs[0].is_error
        assert result.reply.startswith("Sorry, that did not work: no weather data for 'Atlantis'")
    finally:
        await session.aclose()


def test_a_tool_result_of_another_shape_is_read_out() -> None:
    ctx = ChatContext()
    ctx.add_message("user", "weather in Paris")
    ctx.append(FunctionCallOutput(call_id="c1", name="get_weather", output='{"summary": "mild"}'))
    ctx.append(FunctionCallOutput(call_id="c2", name="other_tool", output="plain text."))
    text, _ = RuleBasedPolicy().decide(ctx.items, TOOLS)
    assert text == 'Here is what I found: {"summary": "mild"}. Here is what I found: plain text.'
