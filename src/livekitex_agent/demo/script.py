"""The scripted phone call: what the caller says, in which voice, and what each request should cause."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

AGENT_VOICE = "en-us"  # espeak-ng voices: the agent and the caller must sound different
AGENT_RATE = 185
CALLER_VOICE = "en-us+f3"
CALLER_RATE = 160


@dataclass(frozen=True)
class ExpectedCall:
    """A tool call the agent should make for a request (arguments compared after normalization)."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.arguments.items())
        return f"{self.name}({args})"


@dataclass(frozen=True)
class ScriptLine:
    """One thing the caller says, and the tool call it should lead to (``None``: no tool)."""

    text: str
    expected_call: ExpectedCall | None = None


CALL_SCRIPT: tuple[ScriptLine, ...] = (
    ScriptLine("What's the weather like in Paris today?", ExpectedCall("get_weather", {"city": "Paris"})),
    ScriptLine(
        "Book a table for four people at eight tonight.",
        ExpectedCall("book_table", {"guests": 4, "time": "20:00"}),
    ),
    ScriptLine("Do you have any vegetarian dishes?", ExpectedCall("find_dishes", {"diet": "vegetarian"})),
    ScriptLine("Thank you, goodbye!"),
)


def phrases(script: tuple[ScriptLine, ...] = CALL_SCRIPT) -> list[str]:
    """What the local STT is biased to: the caller's scripted lines, verbatim."""
    return [line.text for line in script]
