"""Runs the tool calls of one LLM step concurrently and turns every outcome into a readable result."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..chat import FunctionCall, FunctionCallOutput
from ..errors import ToolError
from .context import RunContext
from .function_tool import FunctionTool, ToolArgumentsError
from .registry import ToolRegistry

logger = logging.getLogger("livekitex_agent.tools")

GENERIC_ERROR = "An internal error occurred while running the tool {name!r}."
CANCELLED_TOOL_OUTPUT = "The call was cancelled because the user interrupted."


@dataclass
class ToolResult:
    """The outcome of one call: ``output`` goes back to the LLM; ``handoff`` is a new agent, if any."""

    call: FunctionCall
    output: FunctionCallOutput | None  # None when the call was cancelled before it finished
    handoff: Any = None
    raw: Any = None
    exception: BaseException | None = None

    @property
    def cancelled(self) -> bool:
        return self.output is None


def serialize_result(value: Any) -> str:
    """Turn a tool's return value into the text the LLM reads."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    pydantic = sys.modules.get("pydantic")  # a pydantic model exists only once pydantic is imported
    if pydantic is not None and isinstance(value, pydantic.BaseModel):
        return value.model_dump_json()
    try:
        return json.dumps(value, default=str)
    except (TypeError, ValueError):
        return str(value)


class ToolExecutor:
    """Executes tool calls concurrently with per-tool timeouts.

    ``handoff_types`` are the return types that mean "hand the conversation to this agent";
    a tool may also return ``(agent, message)``.
    """

    def __init__(
        self,
        registry: ToolRegistry,
        *,
        make_context: Callable[[FunctionCall], RunContext[Any] | None],
        handoff_types: tuple[type, ...] = (),
    ) -> None:
        self._registry = registry
        self._make_context = make_context
        self._handoff_types = handoff_types
        self._running: dict[asyncio.Task[ToolResult], FunctionTool | None] = {}
        self._by_call: dict[str, asyncio.Task[ToolResult]] = {}

    async def execute(self, calls: Sequence[FunctionCall]) -> list[ToolResult]:
        """Run all ``calls`` concurrently; results come back in the order of ``calls``."""
        tasks = []
        for call in calls:
            task = asyncio.get_running_loop().create_task(self._run_one(call), name=f"tool:{call.name}")
            self._running[task] = self._registry.get(call.name)
            self._by_call[call.call_id] = task
            tasks.append(task)
        try:
            done = await asyncio.gather(*(asyncio.shield(t) for t in tasks), return_exceptions=True)
        except asyncio.CancelledError:
            self.interrupt()
            # non-cancellable tools finish; nothing waits for them here but they are still owned
            raise
        return self._collect(calls, done)

    async def drain(self, calls: Sequence[FunctionCall]) -> list[ToolResult]:
        """After an interruption: wait for the calls still running (the non-cancellable ones)."""
        tasks = [self._by_call.get(c.call_id) for c in calls]
        outcomes = await asyncio.gather(
            *(t if t is not None else _missing() for t in tasks), return_exceptions=True
        )
        return self._collect(calls, outcomes)

    def _collect(self, calls: Sequence[FunctionCall], outcomes: Sequence[Any]) -> list[ToolResult]:
        results: list[ToolResult] = []
        for call, outcome in zip(calls, outcomes, strict=True):
            task = self._by_call.pop(call.call_id, None)
            if task is not None and task.done():
                self._running.pop(task, None)
            if isinstance(outcome, ToolResult):
                results.append(outcome)
            else:  # cancelled by interrupt()
                err = outcome if isinstance(outcome, BaseException) else None
                results.append(ToolResult(call=call, output=None, exception=err))
        return results

    def interrupt(self) -> None:
        """Cancel the running calls whose tools allow it (``cancellable=True``)."""
        for task, tool in list(self._running.items()):
            if tool is None or tool.cancellable:
                task.cancel()

    async def aclose(self) -> None:
        """Cancel every running call, cancellable or not, and wait for them."""
        tasks = list(self._running)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._running.clear()
        self._by_call.clear()

    @property
    def running(self) -> int:
        return sum(1 for t in self._running if not t.done())

    async def _run_one(self, call: FunctionCall) -> ToolResult:
        tool = self._registry.get(call.name)
        if tool is None:
            known = ", ".join(self._registry.names()) or "none"
            msg = f"Unknown function {call.name!r}. Available functions: {known}."
            logger.warning("LLM called unknown tool %r", call.name)
            return self._error(call, msg)
        try:
            args = tool.parse_arguments(call.arguments)
        except ToolArgumentsError as e:
            logger.warning("%s", e)
            return self._error(call, str(e), exception=e)
        ctx = self._make_context(call)
        deadline = asyncio.timeout(tool.timeout)  # timeout=None: no deadline
        try:
            async with deadline:
                value = await tool.invoke(args, ctx)
        except ToolError as e:
            logger.info("tool %r returned an error: %s", call.name, e)
            return self._error(call, str(e), exception=e)
        except TimeoutError as e:
            if not deadline.expired() or tool.timeout is None:
                # the tool's own TimeoutError (an HTTP call it made, say) is its failure, not our limit
                logger.exception("tool %r failed", call.name)
                return self._error(call, GENERIC_ERROR.format(name=call.name), exception=e)
            logger.warning("tool %r timed out after %ss", call.name, tool.timeout)
            return self._error(
                call, f"The tool {call.name!r} timed out after {tool.timeout:g} seconds.", exception=e
            )
        except asyncio.CancelledError:
            raise
        except Exception as e:
            logger.exception("tool %r failed", call.name)
            return self._error(call, GENERIC_ERROR.format(name=call.name), exception=e)
        handoff = None
        message = value
        if self._handoff_types:
            if isinstance(value, self._handoff_types):
                handoff, message = value, None
            elif isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], self._handoff_types):
                handoff, message = value
        if handoff is not None and message is None:
            message = f"Transferred the conversation to {type(handoff).__name__}."
        output = FunctionCallOutput(call_id=call.call_id, name=call.name, output=serialize_result(message))
        return ToolResult(call=call, output=output, handoff=handoff, raw=value)

    @staticmethod
    def _error(call: FunctionCall, message: str, *, exception: BaseException | None = None) -> ToolResult:
        output = FunctionCallOutput(call_id=call.call_id, name=call.name, output=message, is_error=True)
        return ToolResult(call=call, output=output, exception=exception)


async def _missing() -> None:
    raise asyncio.CancelledError()
