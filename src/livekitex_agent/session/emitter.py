"""``SessionEmitter``: what a session tells the outside — events, metrics, usage and errors.

``AgentSession`` is one. Every event also goes to the collectors of a running ``session.run()``
(its :class:`~.run_result.RunResult`); an error is logged once, here, and an unrecoverable one
closes the session.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any

from ..chat import ChatItem
from ..errors import ProviderError
from ..events import (
    CloseReason,
    ConversationItemAddedEvent,
    ErrorEvent,
    EventEmitter,
    EventName,
    MetricsCollectedEvent,
)
from ..metrics import AgentMetrics, TurnMetrics, UsageMetrics, UsageSummary
from .audio_pump import InputLagMeter

logger = logging.getLogger("livekitex_agent.session")


class SessionEmitter(EventEmitter[EventName]):
    """An event emitter that also reports metrics, usage and errors, and owns the tasks it spawns."""

    def __init__(self) -> None:
        super().__init__()
        self.usage = UsageSummary()
        self._collectors: list[list[Any]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._input_meter: InputLagMeter | None = None  # set while audio input is read

    def request_close(self, reason: CloseReason, error: BaseException | None = None) -> None:
        """Close the session soon (an unrecoverable error asks for it)."""
        raise NotImplementedError

    def emit(self, event: EventName, *args: Any) -> None:
        """Emit ``event`` to the listeners (and to the collectors of a running :meth:`run`)."""
        for collector in self._collectors:
            collector.extend(args[:1])
        super().emit(event, *args)

    @contextmanager
    def _collecting(self) -> Iterator[list[Any]]:
        """The payloads of the events emitted inside the block, in order."""
        events: list[Any] = []
        self._collectors.append(events)
        try:
            yield events
        finally:
            self._collectors.remove(events)

    def announce_item(self, item: ChatItem) -> None:
        self.emit("conversation_item_added", ConversationItemAddedEvent(item=item))

    def emit_usage(self, usage: UsageMetrics) -> None:
        self.usage.add(usage)
        self.emit_metrics(usage)

    def emit_metrics(self, metrics: AgentMetrics) -> None:
        if isinstance(metrics, TurnMetrics) and self._input_meter is not None:
            metrics.input_lag, metrics.input_dropped = self._input_meter.take()
        self.emit("metrics_collected", MetricsCollectedEvent(metrics=metrics))
        if isinstance(metrics, TurnMetrics):
            logger.debug("turn metrics: %s", metrics)

    def report_error(
        self, error: BaseException, *, source: str, recoverable: bool, recovered: bool = False
    ) -> None:
        if isinstance(error, ProviderError):
            logger.warning("%s error (%s): %s", source, error.category.value, error)
        else:
            logger.error("%s error: %r", source, error, exc_info=error)
        self.emit("error", ErrorEvent(error=error, source=source, recoverable=recoverable, recovered=recovered))
        if not recoverable:
            self.request_close(CloseReason.ERROR, error)

    # -- owned tasks ------------------------------------------------------------------------------
    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.report_error(task.exception(), source=task.get_name(), recoverable=True)  # type: ignore[arg-type]

    async def _cancel_tasks(self) -> None:
        """Cancel and await every owned task (but the one calling)."""
        current = asyncio.current_task()
        tasks = [t for t in self._tasks if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
