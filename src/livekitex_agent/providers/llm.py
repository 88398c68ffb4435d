"""Large language model: a chat context and tools in, a stream of text and tool calls out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..chat import ChatContext, FunctionCall
from ..tools.function_tool import FunctionTool
from .base import Provider

ToolChoice = Literal["auto", "required", "none"] | str  # a tool name forces that tool


@dataclass
class CompletionUsage:
    """Tokens a completion used (``prompt``, ``completion``, ``total``)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


@dataclass
class ChatChunk:
    """A piece of the reply: a text delta, complete tool calls, or the final usage."""

    content: str = ""
    tool_calls: list[FunctionCall] = field(default_factory=list)
    usage: CompletionUsage | None = None


class LLMStream(ABC):
    """An in-flight completion. Iterate for chunks; ``aclose`` cancels the request."""

    @abstractmethod
    def __aiter__(self) -> AsyncIterator[ChatChunk]: ...

    @abstractmethod
    async def aclose(self) -> None: ...

    async def __aenter__(self) -> LLMStream:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()


class LLM(Provider, ABC):
    """A chat model that streams."""

    @abstractmethod
    def chat(
        self,
        *,
        chat_ctx: ChatContext,
        tools: Sequence[FunctionTool] = (),
        tool_choice: ToolChoice = "auto",
        temperature: float | None = None,
    ) -> LLMStream:
        """Start a completion of ``chat_ctx``; the request is sent when iteration starts."""


class GeneratorLLMStream(LLMStream):
    """An :class:`LLMStream` backed by an async generator function (the usual way to write a provider)."""

    def __init__(self, factory: Any) -> None:
        self._factory = factory
        self._gen: Any = None

    def __aiter__(self) -> AsyncIterator[ChatChunk]:
        if self._gen is not None:
            raise RuntimeError("an LLM stream can be iterated only once")
        self._gen = self._factory()
        return self._gen

    async def aclose(self) -> None:
        if self._gen is not None:
            await self._gen.aclose()
