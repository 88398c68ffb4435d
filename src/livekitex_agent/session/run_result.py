"""What ``AgentSession.run`` returns: the events of one text turn, with helpers to assert on them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..chat import ChatMessage, FunctionCall, FunctionCallOutput
from ..events import ConversationItemAddedEvent, FunctionToolsExecutedEvent


@dataclass
class RunResult:
    events: list[Any] = field(default_factory=list)

    def of_type(self, event_type: str) -> list[Any]:
        return [e for e in self.events if getattr(e, "type", None) == event_type]

    @property
    def items(self) -> list[Any]:
        return [e.item for e in self.events if isinstance(e, ConversationItemAddedEvent)]

    @property
    def messages(self) -> list[ChatMessage]:
        return [i for i in self.items if isinstance(i, ChatMessage)]

    @property
    def function_calls(self) -> list[FunctionCall]:
        calls: list[FunctionCall] = []
        for e in self.events:
            if isinstance(e, FunctionToolsExecutedEvent):
                calls.extend(e.function_calls)
        return calls

    @property
    def function_outputs(self) -> list[FunctionCallOutput]:
        outputs: list[FunctionCallOutput] = []
        for e in self.events:
            if isinstance(e, FunctionToolsExecutedEvent):
                outputs.extend(e.function_call_outputs)
        return outputs

    @property
    def reply(self) -> str:
        """The text of the assistant's last message in this turn ('' if it said nothing)."""
        for item in reversed(self.items):
            if isinstance(item, ChatMessage) and item.role == "assistant":
                return item.content
        return ""
