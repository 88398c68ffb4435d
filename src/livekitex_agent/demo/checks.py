"""Did the call go as scripted? Per request: understood, the right tool call, a spoken answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .policy import normalize
from .record import CallRecorder, ToolCallRecord, TurnRecord
from .script import ExpectedCall


@dataclass
class TurnCheck:
    index: int
    request: str
    heard: str
    understood: bool
    expected_call: ExpectedCall | None
    tool_calls: list[ToolCallRecord]
    tool_ok: bool
    answer: str

    @property
    def answered(self) -> bool:
        return bool(self.answer)

    @property
    def ok(self) -> bool:
        return self.understood and self.tool_ok and self.answered


def _same(expected: Any, actual: Any) -> bool:
    if isinstance(expected, str) and isinstance(actual, str):
        return expected.strip().casefold() == actual.strip().casefold()
    if isinstance(expected, int | float) and isinstance(actual, int | float) and not isinstance(actual, bool):
        return float(expected) == float(actual)
    return bool(expected == actual)


def call_matches(expected: ExpectedCall, call: ToolCallRecord) -> bool:
    """Same tool, and every expected argument equal (strings ignoring case and spaces around)."""
    if call.name != expected.name or call.is_error or not isinstance(call.arguments, dict):
        return False
    return all(k in call.arguments and _same(v, call.arguments[k]) for k, v in expected.arguments.items())


def check_turn(turn: TurnRecord) -> TurnCheck:
    assert turn.line is not None, "the greeting turn has no request to check"
    heard = " ".join(turn.heard)
    expected = turn.line.expected_call
    if expected is None:
        tool_ok = not turn.tool_calls
    else:
        tool_ok = any(call_matches(expected, c) for c in turn.tool_calls)
    return TurnCheck(
        index=turn.index,
        request=turn.line.text,
        heard=heard,
        understood=normalize(heard) == normalize(turn.line.text),
        expected_call=expected,
        tool_calls=list(turn.tool_calls),
        tool_ok=tool_ok,
        answer=" ".join(turn.answers),
    )


def check_call(recorder: CallRecorder) -> list[TurnCheck]:
    """One check per scripted line (a line the caller never got to counts as failed)."""
    by_index = {t.index: t for t in recorder.turns if t.line is not None}
    checks = []
    for i, line in enumerate(recorder.script, start=1):
        turn = by_index.get(i) or TurnRecord(i, line, recorder.duration)
        checks.append(check_turn(turn))
    return checks


@dataclass(frozen=True)
class Summary:
    requests: int
    understood: int
    tools_expected: int  # requests that should call a tool
    tools_ok: int  # ... and called it with the right arguments
    unexpected_tools: int  # requests that should not call a tool but did
    answered: int

    @property
    def passed(self) -> bool:
        return (
            self.understood == self.requests
            and self.tools_ok == self.tools_expected
            and self.unexpected_tools == 0
            and self.answered == self.requests
        )

    def text(self) -> str:
        extra = f" ({self.unexpected_tools} unexpected tool calls)" if self.unexpected_tools else ""
        return (
            f"{self.understood}/{self.requests} requests understood, "
            f"{self.tools_ok}/{self.tools_expected} tools called with the right arguments{extra}, "
            f"{self.answered}/{self.requests} answered"
        )


def summarize(checks: list[TurnCheck]) -> Summary:
    return Summary(
        requests=len(checks),
        understood=sum(c.understood for c in checks),
        tools_expected=sum(c.expected_call is not None for c in checks),
        tools_ok=sum(c.tool_ok for c in checks if c.expected_call is not None),
        unexpected_tools=sum(not c.tool_ok for c in checks if c.expected_call is None),
        answered=sum(c.answered for c in checks),
    )
