"""Everything the demo call produced: turns, a readable log, the caller's events, and the session's
own recording (its events and both sides' audio: :class:`~livekitex_agent.session.SessionReport`).

:class:`CallRecorder` listens to an :class:`AgentSession` (``attach``) and to the caller
(``begin_request``); the live view and the report writers read it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..chat import ChatMessage
from ..events import EVENT_NAMES, EventName
from ..metrics import TurnMetrics
from ..session.recording import SessionReport
from .script import ScriptLine

SESSION_EVENTS: tuple[EventName, ...] = EVENT_NAMES  # every event a session emits


@dataclass
class EventRecord:
    """One of the demo's own events (the caller's); the session's are in its report."""

    t: float  # seconds since the call started
    type: str
    data: dict[str, Any]


@dataclass
class LogEntry:
    """One line of the human-readable call log (live view and Markdown transcript)."""

    t: float
    who: str  # caller, agent, heard, tool, latency, info, error
    text: str


@dataclass
class ToolCallRecord:
    name: str
    arguments: Any  # the decoded JSON arguments (the raw text if they were not JSON)
    output: str
    is_error: bool


@dataclass
class TurnRecord:
    """Turn 0 is the agent's greeting; turn ``i`` ≥ 1 is the caller's ``i``-th scripted line."""

    index: int
    line: ScriptLine | None
    started: float
    heard: list[str] = field(default_factory=list)
    tool_calls: list[ToolCallRecord] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)
    metrics: TurnMetrics | None = None
    replied: bool = False  # the agent finished a reply in this turn


@dataclass
class CallInfo:
    """How the call was set up (shown at the top of the view and of the reports)."""

    transport: str
    llm: str
    stt: str
    tts: str
    vad: str
    notices: list[str] = field(default_factory=list)


Listener = Callable[[str, Any], None]  # ("log", LogEntry) | ("state", CallRecorder)


class CallRecorder:
    """Collects one call. Times are seconds on the event-loop clock since :meth:`start`."""

    def __init__(self, info: CallInfo, script: tuple[ScriptLine, ...]) -> None:
        self.info = info
        self.script = script
        self.events: list[EventRecord] = []
        self.log: list[LogEntry] = []
        self.turns: list[TurnRecord] = [TurnRecord(0, None, 0.0)]
        self.session_report: SessionReport | None = None  # the session's recording, once it closed
        self.agent_state = "initializing"
        self.user_state = "listening"
        self.started_at = time.time()  # wall clock, for the reports
        self.origin = 0.0
        self.duration = 0.0
        self.listeners: list[Listener] = []
        self._started = False

    # -- clock ----------------------------------------------------------------------------------------
    def start(self) -> None:
        self.origin = asyncio.get_running_loop().time()
        self.started_at = time.time()
        self._started = True

    def now(self) -> float:
        return asyncio.get_running_loop().time() - self.origin if self._started else 0.0

    def finish(self) -> None:
        self.duration = self.now()

    @property
    def current(self) -> TurnRecord:
        return self.turns[-1]

    # -- inputs ---------------------------------------------------------------------------------------
    def attach(self, session: Any) -> None:
        """Record every event of ``session`` (an :class:`AgentSession`)."""
        for name in SESSION_EVENTS:
            session.on(name, lambda payload, _name=name: self._on_event(_name, payload))

    def begin_request(self, index: int, line: ScriptLine) -> None:
        """The caller starts saying scripted line ``index`` (1-based): a new turn."""
        self.turns.append(TurnRecord(index, line, self.now()))
        self.add_event("caller_speaking", {"index": index, "text": line.text})
        self.note("caller", line.text)
        self._notify("state", self)

    def reply_finished(self) -> None:
        self.current.replied = True

    def note(self, who: str, text: str) -> None:
        entry = LogEntry(self.now(), who, text)
        self.log.append(entry)
        self._notify("log", entry)

    def add_event(self, type_: str, data: dict[str, Any]) -> None:
        self.events.append(EventRecord(self.now(), type_, data))

    # -- session events -------------------------------------------------------------------------------
    def _on_event(self, name: str, payload: Any) -> None:
        turn = self.current
        if name == "agent_state_changed":
            self.agent_state = str(payload.new_state)
            self._notify("state", self)
        elif name == "user_state_changed":
            self.user_state = str(payload.new_state)
            self._notify("state", self)
        elif name == "user_input_transcribed" and payload.is_final and payload.transcript.strip():
            turn.heard.append(payload.transcript.strip())
            self.note("heard", payload.transcript.strip())
        elif name == "conversation_item_added":
            item = payload.item
            if isinstance(item, ChatMessage) and item.role == "assistant" and item.content.strip():
                turn.answers.append(item.content.strip())
                self.note("agent", item.content.strip() + (" [interrupted]" if item.interrupted else ""))
        elif name == "function_tools_executed":
            for call, out in zip(payload.function_calls, payload.function_call_outputs, strict=False):
                rec = ToolCallRecord(call.name, _decode(call.arguments), out.output, out.is_error)
                turn.tool_calls.append(rec)
                args = json.dumps(rec.arguments) if not isinstance(rec.arguments, str) else rec.arguments
                self.note("tool", f"{call.name}({args}) -> {out.output}")
        elif name == "metrics_collected" and isinstance(payload.metrics, TurnMetrics):
            turn.metrics = payload.metrics
            self.note("latency", format_metrics(payload.metrics))
        elif name == "error":
            self.note("error", f"{payload.source}: {payload.error}")
        elif name == "close":
            self.note("info", f"session closed ({payload.reason})")

    def _notify(self, kind: str, value: Any) -> None:
        for listener in list(self.listeners):
            listener(kind, value)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f}"


def format_metrics(m: TurnMetrics) -> str:
    return (
        f"end of utterance {_ms(m.end_of_utterance_delay)} ms, STT {_ms(m.transcription_delay)} ms, "
        f"LLM {_ms(m.llm_ttft)} ms, TTS {_ms(m.tts_ttfb)} ms, end-to-end {_ms(m.e2e_latency)} ms"
    )


def _decode(arguments: str) -> Any:
    try:
        return json.loads(arguments)
    except ValueError:
        return arguments
