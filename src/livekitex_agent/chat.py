"""The conversation history shared by both engines: ordered messages, function calls and results.

A :class:`ChatContext` can be bounded by item count and by an approximate token budget. Trimming
drops the oldest turns first, always keeps the leading system instructions, and never leaves a
function result without the call that produced it.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant"]
INSTRUCTIONS_ID = "instructions"

_ids = itertools.count(1)


def _new_id(prefix: str) -> str:
    return f"{prefix}_{next(_ids):06d}"


def estimate_tokens(text: str) -> int:
    """A cheap token estimate (~4 characters a token) used for the history budget."""
    return max(1, (len(text) + 3) // 4)


@dataclass
class ChatMessage:
    """A message of the conversation: ``role`` (system, user, assistant) and its text; ``interrupted``
    when the user cut the agent off."""

    role: Role
    content: str
    interrupted: bool = False
    id: str = field(default_factory=lambda: _new_id("msg"))
    created_at: float = field(default_factory=time.time)
    type: Literal["message"] = "message"

    @property
    def text(self) -> str:
        return self.content


@dataclass
class FunctionCall:
    """A tool call the model made: the tool's name and its JSON arguments."""

    name: str
    arguments: str  # JSON text exactly as the model produced it
    call_id: str = field(default_factory=lambda: _new_id("call"))
    id: str = field(default_factory=lambda: _new_id("fc"))
    created_at: float = field(default_factory=time.time)
    type: Literal["function_call"] = "function_call"


@dataclass
class FunctionCallOutput:
    """A tool's result (or its error, ``is_error``) for the call with the same ``call_id``."""

    call_id: str
    name: str
    output: str
    is_error: bool = False
    id: str = field(default_factory=lambda: _new_id("fco"))
    created_at: float = field(default_factory=time.time)
    type: Literal["function_call_output"] = "function_call_output"


ChatItem = ChatMessage | FunctionCall | FunctionCallOutput


def _is_system(item: ChatItem) -> bool:
    return isinstance(item, ChatMessage) and item.role == "system"


def item_tokens(item: ChatItem) -> int:
    if isinstance(item, ChatMessage):
        return estimate_tokens(item.content) + 4
    if isinstance(item, FunctionCall):
        return estimate_tokens(item.name + item.arguments) + 4
    return estimate_tokens(item.output) + 4


class ChatContext:
    """Ordered conversation items, optionally bounded.

    ``max_items`` and ``max_tokens`` bound the history; the oldest items are trimmed on every add.
    """

    def __init__(
        self,
        items: Iterable[ChatItem] = (),
        *,
        max_items: int | None = None,
        max_tokens: int | None = None,
    ) -> None:
        if max_items is not None and max_items < 2:
            raise ValueError(f"max_items must be at least 2, got {max_items!r}")
        if max_tokens is not None and max_tokens < 16:
            raise ValueError(f"max_tokens must be at least 16, got {max_tokens!r}")
        self._items: list[ChatItem] = list(items)
        self.max_items = max_items
        self.max_tokens = max_tokens
        self._tokens = sum(item_tokens(i) for i in self._items)
        self.trimmed_count = 0  # how many items trimming has dropped so far
        self._trim()

    # -- reading --------------------------------------------------------------------------------
    @property
    def items(self) -> list[ChatItem]:
        return self._items

    def __iter__(self) -> Iterator[ChatItem]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    @property
    def token_estimate(self) -> int:
        return self._tokens

    def messages(self) -> list[ChatMessage]:
        return [i for i in self._items if isinstance(i, ChatMessage)]

    def get(self, item_id: str) -> ChatItem | None:
        for item in self._items:
            if item.id == item_id:
                return item
        return None

    def last_message(self, role: Role | None = None) -> ChatMessage | None:
        for item in reversed(self._items):
            if isinstance(item, ChatMessage) and (role is None or item.role == role):
                return item
        return None

    @property
    def instructions(self) -> str | None:
        first = self._items[0] if self._items else None
        if isinstance(first, ChatMessage) and first.id == INSTRUCTIONS_ID:
            return first.content
        return None

    # -- writing --------------------------------------------------------------------------------
    def add_message(self, role: Role, content: str, *, interrupted: bool = False) -> ChatMessage:
        if role not in ("system", "user", "assistant"):
            raise ValueError(f"role must be 'system', 'user' or 'assistant', got {role!r}")
        msg = ChatMessage(role=role, content=content, interrupted=interrupted)
        self.append(msg)
        return msg

    def append(self, item: ChatItem) -> None:
        self._items.append(item)
        self._tokens += item_tokens(item)
        self._trim()

    def insert_after(self, anchor_id: str | None, item: ChatItem) -> None:
        """Insert ``item`` right after the item ``anchor_id`` (append if it is gone or None)."""
        if anchor_id is not None:
            for idx in range(len(self._items) - 1, -1, -1):
                if self._items[idx].id == anchor_id:
                    self._items.insert(idx + 1, item)
                    self._tokens += item_tokens(item)
                    self._trim()
                    return
        self.append(item)

    @property
    def last_id(self) -> str | None:
        return self._items[-1].id if self._items else None

    def extend(self, items: Iterable[ChatItem]) -> None:
        for item in items:
            self._items.append(item)
            self._tokens += item_tokens(item)
        self._trim()

    def set_instructions(self, instructions: str) -> None:
        """Set (or replace) the leading system message that holds the agent's instructions."""
        first = self._items[0] if self._items else None
        if isinstance(first, ChatMessage) and first.id == INSTRUCTIONS_ID:
            self._tokens += estimate_tokens(instructions) - estimate_tokens(first.content)
            first.content = instructions
        else:
            msg = ChatMessage(role="system", content=instructions, id=INSTRUCTIONS_ID)
            self._items.insert(0, msg)
            self._tokens += item_tokens(msg)
        self._trim()

    def update_item(self, item: ChatItem) -> None:
        """Recount the token estimate after an item was changed in place (e.g. truncated)."""
        self._tokens = sum(item_tokens(i) for i in self._items)
        self._trim()

    def remove(self, item_id: str) -> ChatItem | None:
        for idx, item in enumerate(self._items):
            if item.id == item_id:
                del self._items[idx]
                self._tokens -= item_tokens(item)
                return item
        return None

    def copy(self, *, max_items: int | None = None, max_tokens: int | None = None) -> ChatContext:
        """A shallow copy (items are shared) with its own bounds (none by default)."""
        if max_items is None and max_tokens is None:  # the common case: no recount needed
            clone = ChatContext.__new__(ChatContext)
            clone._items = list(self._items)
            clone.max_items = clone.max_tokens = None
            clone._tokens = self._tokens
            clone.trimmed_count = 0
            return clone
        return ChatContext(self._items, max_items=max_items, max_tokens=max_tokens)

    def to_dict(self) -> dict[str, Any]:
        return {"items": [asdict(i) for i in self._items]}

    # -- trimming -------------------------------------------------------------------------------
    def _over_budget(self) -> bool:
        if self.max_items is not None and len(self._items) > self.max_items:
            return True
        return self.max_tokens is not None and self._tokens > self.max_tokens

    def _trim(self) -> None:
        if not self._over_budget():
            return
        items = self._items
        head = 0
        while head < len(items) and _is_system(items[head]):
            head += 1
        last = len(items) - 1  # the newest item always stays
        count, tokens, cut = len(items), self._tokens, head
        # trim 10% below the bound, so a long conversation trims once every many turns, not every turn
        item_goal = None if self.max_items is None else self.max_items - max(0, self.max_items // 10)
        token_goal = None if self.max_tokens is None else self.max_tokens - self.max_tokens // 10
        while cut < last and (
            (item_goal is not None and count > item_goal) or (token_goal is not None and tokens > token_goal)
        ):
            tokens -= item_tokens(items[cut])
            count -= 1
            cut += 1
        if cut == head:
            return
        dropped = items[head:cut]
        gone_calls = {i.call_id for i in dropped if isinstance(i, FunctionCall)}
        kept = [i for i in items[cut:] if not (isinstance(i, FunctionCallOutput) and i.call_id in gone_calls)]
        orphans = len(items) - cut - len(kept)
        if orphans:
            gone = [i for i in items[cut:] if isinstance(i, FunctionCallOutput) and i.call_id in gone_calls]
            tokens -= sum(item_tokens(i) for i in gone)
        self._items = items[:head] + kept
        self._tokens = tokens
        self.trimmed_count += len(dropped) + orphans
