"""An outage of the realtime model: when it began, the grace it gets to come back, and the session's
``realtime_connection_changed`` events (lost, reconnecting, restored, failed)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from ..events import EventName, RealtimeConnectionChangedEvent, RealtimeConnectionState

logger = logging.getLogger("livekitex_agent.session")


class Outage:
    """Tracks one connection outage at a time; ``on_grace_over(reason)`` fires once the model stayed
    away longer than ``grace`` seconds (never with ``grace=None``)."""

    def __init__(
        self, emit: Callable[[EventName, Any], None], *, grace: float | None, on_grace_over: Callable[[str], None]
    ) -> None:
        self._emit = emit
        self._grace = grace
        self._on_grace_over = on_grace_over
        self._loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = None
        self.start: float | None = None  # loop time the connection was lost (None: connected)

    def lost(self, reason: str | None, attempt: int, *, since: float | None = None) -> bool:
        """A reconnect attempt; True when it begins a new outage. ``since``: the loop time the model
        went quiet, when that was before the drop (a stall): the grace counts from then."""
        first = self.start is None
        if first:
            now = self._loop.time()
            self.start = min(since, now) if since is not None else now
            logger.warning("realtime connection lost (%s); reconnecting", reason)
            self._event(RealtimeConnectionState.LOST, reason)
            if self._grace is not None:
                self._timer = self._loop.call_at(
                    self.start + self._grace, self._on_grace_over,
                    f"the model was unreachable for over {self._grace:g}s",
                )
        self._event(RealtimeConnectionState.RECONNECTING, reason, attempt=attempt)
        return first

    def restored(self, reason: str | None) -> float:
        """Reconnected: the outage's length in seconds."""
        self.cancel()
        seconds = self._loop.time() - self.start if self.start is not None else 0.0
        self.start = None
        self._event(RealtimeConnectionState.RESTORED, reason, outage_seconds=seconds)
        return seconds

    def failed(self, reason: str) -> None:
        self.cancel()
        seconds = self._loop.time() - self.start if self.start is not None else None
        self._event(RealtimeConnectionState.FAILED, reason, outage_seconds=seconds)

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _event(
        self, state: RealtimeConnectionState, reason: str | None, *, attempt: int = 0,
        outage_seconds: float | None = None,
    ) -> None:
        self._emit(
            "realtime_connection_changed",
            RealtimeConnectionChangedEvent(state=state, reason=reason, attempt=attempt, outage_seconds=outage_seconds),
        )
