"""The one turn every cell of the fault matrix plays, and how its answer is judged.

The user asks a question (optionally one that needs the ``get_weather`` tool). Both the realtime
test server and the pipeline's fake LLM answer it the way a real model does after a cut: they read
the conversation and *continue* an answer the user already partly heard, so an answer that is
restarted from the top, asked twice or lost shows up in what the user heard and in the history.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ...agent import Agent
from ...chat import ChatContext, ChatMessage, FunctionCall, FunctionCallOutput
from ...tools import RunContext, function_tool
from ..fakes import FakeLLMResponse, FakeToolCall, LLMRequest
from ..realtime_server import ScriptContext, ScriptedFunctionCall, ScriptItem

QUESTION = "what is the weather in paris"
REPLY = "It is sunny in Paris today with a light breeze from the west."
TOOL_OUTPUT = "sunny, 24 degrees"
SECONDS_PER_CHAR = 0.015  # both voices (the test server's and the fake TTS) speak this fast


def remainder(said: str) -> str:
    """What is left of :data:`REPLY` once ``said`` (its first words, as heard) was spoken."""
    words, heard = REPLY.split(), said.split()
    if heard and words[: len(heard)] == heard:
        return " ".join(words[len(heard) :])
    return REPLY


def _realtime_said(items: Sequence[dict[str, Any]]) -> tuple[bool, str]:
    """(tool output present, assistant text) after the last user message, in server items."""
    start = max((i for i, it in enumerate(items) if it.get("role") == "user"), default=-1)
    has_output, said = False, []
    for item in items[start + 1 :]:
        if item.get("type") == "function_call_output":
            has_output = True
        elif item.get("type") == "message" and item.get("role") == "assistant":
            said += [str(p.get("transcript") or p.get("text") or "") for p in item.get("content") or []]
    return has_output, " ".join(s for s in said if s)


def _pipeline_said(chat: ChatContext) -> tuple[bool, str]:
    items = chat.items
    start = max((i for i, it in enumerate(items) if isinstance(it, ChatMessage) and it.role == "user"), default=-1)
    has_output, said = False, []
    for item in items[start + 1 :]:
        if isinstance(item, FunctionCallOutput):
            has_output = True
        elif isinstance(item, ChatMessage) and item.role == "assistant" and item.content:
            said.append(item.content)
    return has_output, " ".join(said)


def server_script(*, tool: bool) -> Any:
    """The realtime test server's model: calls the tool first when asked to, then continues the answer."""

    def script(ctx: ScriptContext) -> ScriptItem:
        has_output, said = _realtime_said(ctx.items)
        if tool and not has_output:
            return ScriptedFunctionCall("get_weather", {"city": "Paris"})
        return remainder(said)

    return script


def pipeline_reply(*, tool: bool) -> Any:
    """The pipeline's fake LLM, with the same behaviour as :func:`server_script`."""

    def reply(request: LLMRequest) -> FakeLLMResponse:
        has_output, said = _pipeline_said(request.chat_ctx)
        if tool and not has_output:
            return FakeLLMResponse(tool_calls=[FakeToolCall("get_weather", {"city": "Paris"})])
        return FakeLLMResponse(text=remainder(said))

    return reply


class WeatherAgent(Agent):
    """Answers about the weather; its tool tells the cell when it runs and may be held."""

    def __init__(self) -> None:
        super().__init__("You tell the weather.")
        self.calls = 0
        self.called = asyncio.Event()
        self.release = asyncio.Event()
        self.release.set()  # a cell clears it to hold the tool while it injects a fault
        self.before_return: list[Any] = []  # coroutine functions run just before the tool returns

    @function_tool
    async def get_weather(self, ctx: RunContext, city: str) -> str:
        """The current weather in a city."""
        self.calls += 1
        self.called.set()
        async with asyncio.timeout(10):
            await self.release.wait()
        for hook in self.before_return:
            await hook()
        return TOOL_OUTPUT


@dataclass
class Verdict:
    """What the user noticed of one turn."""

    heard: str  # the assistant's words for the turn, in order, as the history holds them
    complete: bool  # the whole answer was said
    duplicated: bool  # some of it was said twice (or the tool ran twice)
    history_ok: bool  # the question once; every assistant message but the last marked interrupted
    problems: list[str] = field(default_factory=list)


def judge(history: ChatContext, *, audio_seconds: float, tool: bool, tool_calls: int) -> Verdict:
    """Compare the turn's history and the agent audio played after it with the answer said once."""
    problems: list[str] = []
    messages = [m for m in history.messages() if m.role != "system"]
    answers = [m for m in messages if m.role == "assistant" and m.content]
    questions = [m for m in messages if m.role == "user" and m.content]
    heard_words = " ".join(m.content for m in answers).split()
    words = REPLY.split()
    complete = heard_words == words
    duplicated = len(heard_words) > len(words) or any(
        i and m.content.split()[:2] == words[:2] for i, m in enumerate(answers)
    )
    if not complete:
        problems.append(f"heard {' '.join(heard_words)!r}, expected {REPLY!r} once")
    # the agent's audio for the turn: the answer once, give or take the word cut in the middle
    longest_word = max(len(w) + 1 for w in words) * SECONDS_PER_CHAR
    expected = len(REPLY) * SECONDS_PER_CHAR
    if audio_seconds > expected + longest_word + 0.1:
        duplicated = True
        problems.append(f"{audio_seconds:.2f}s of agent audio for a {expected:.2f}s answer")
    if tool and tool_calls != 1:
        duplicated = duplicated or tool_calls > 1
        problems.append(f"the tool ran {tool_calls} times")
    calls = [i for i in history.items if isinstance(i, FunctionCall)]
    if tool and len(calls) != 1:
        problems.append(f"{len(calls)} function calls in the history")
    history_ok = True
    if len(questions) != 1:
        history_ok = False
        problems.append(f"the question is {len(questions)} times in the history")
    if answers and (any(not m.interrupted for m in answers[:-1]) or answers[-1].interrupted):
        history_ok = False
        flags = [(m.content[:20], m.interrupted) for m in answers]
        problems.append(f"assistant messages (start, interrupted): {flags}")
    return Verdict(" ".join(heard_words), complete, duplicated, history_ok, problems)
