"""Stall detection for the realtime model: a response that never starts or stops mid-way.

A model that accepted a request and then goes quiet is treated like a dropped connection (reconnect,
then the pipeline), long before the websocket heartbeat (20-30 s) would notice anything.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, fields

from ..providers.realtime import RealtimeGeneration
from ..validation import check_number


@dataclass(frozen=True)
class RealtimeStallTimeouts:
    """How long (seconds) the realtime model may stay silent before it counts as stalled.

    The defaults sit well above what a healthy model does (``response.created`` comes within a few
    hundred ms of the request, first audio within ~1 s of it, and audio streams faster than it plays)
    and well below the heartbeat: a stalled turn is reconnected and answered within ~3 s of its end
    (2 s to notice, ~0.5 s to reconnect, the answer's first audio), inside the default 3 s
    ``realtime_reconnect_grace`` plus half a second.
    """

    response_created: float = 2.0  # the request (or the end of a server-VAD turn) -> response.created
    first_output: float = 2.0  # response.created -> its first audio, text or tool call
    output_gap: float = 2.0  # the longest pause between two pieces of one response's output

    def __post_init__(self) -> None:
        for f in fields(self):
            check_number(f"realtime_stall_timeouts.{f.name}", getattr(self, f.name), exclusive=True, unit=" s")


class GenerationWatchdog:
    """Calls ``on_stall(reason, since)`` once if ``gen`` goes quiet for too long (``since``: the loop
    time it went quiet; one timer, re-armed lazily from the generation's activity times, so nothing
    runs per audio delta)."""

    def __init__(
        self, gen: RealtimeGeneration, timeouts: RealtimeStallTimeouts, on_stall: Callable[[str, float], None]
    ) -> None:
        self._gen = gen
        self._timeouts = timeouts
        self._on_stall = on_stall
        self._loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = None
        self._check()

    def _check(self) -> None:
        gen, t = self._gen, self._timeouts
        self._timer = None
        if gen.done.done():
            return
        if gen.first_output_at is None:
            since, deadline = gen.created_at, gen.created_at + t.first_output
            reason = f"no output within {t.first_output:g}s of response.created"
        else:
            since, deadline = gen.last_activity, gen.last_activity + t.output_gap
            reason = f"no output for {t.output_gap:g}s in the middle of a response"
        if self._loop.time() >= deadline:
            self._on_stall(reason, since)
        else:
            self._timer = self._loop.call_at(deadline, self._check)

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class ResponseDue:
    """After the server ended the user's turn (server VAD), a response is due within ``limit`` seconds;
    ``on_late(reason, since)`` otherwise. A response still being produced postpones the deadline (the
    server answers the turn after it)."""

    def __init__(self, limit: float, on_late: Callable[[str, float], None]) -> None:
        self._limit = limit
        self._on_late = on_late
        self._loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = None
        self._live: set[RealtimeGeneration] = set()  # responses the server is producing

    def expect(self) -> None:
        self.cancel()
        self._timer = self._loop.call_later(self._limit, self._late, self._loop.time())

    def created(self, gen: RealtimeGeneration) -> None:
        self.cancel()
        self._live.add(gen)
        gen.done.add_done_callback(lambda _: self._live.discard(gen))

    def _late(self, since: float) -> None:
        self._timer = None
        if self._live:
            self._timer = self._loop.call_later(self._limit, self._late, since)
        else:
            self._on_late(f"no response.created within {self._limit:g}s", since)

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
