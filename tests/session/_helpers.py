"""Shared bits for session tests: an utterance-like tone and an event recorder."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import numpy as np

from livekitex_agent.events import EVENT_NAMES
from livekitex_agent.media import AudioFrame
from livekitex_agent.metrics import UsageMetrics
from livekitex_agent.session import AgentSession


def utterance(seconds: float, rate: int = 16000, freq: float = 300.0) -> AudioFrame:
    """A loud tone standing in for a user's utterance (FakeVAD hears it as speech)."""
    t = np.arange(round(seconds * rate)) / rate
    return AudioFrame.from_float(0.3 * np.sin(2 * np.pi * freq * t), rate)


class Recorder:
    """Records (loop time, event) for every session event."""

    def __init__(self, session: AgentSession) -> None:
        self.events: list[tuple[float, Any]] = []
        self._changed = asyncio.Event()
        for name in EVENT_NAMES:
            session.on(name, self._record)

    def _record(self, event: Any) -> None:
        self.events.append((asyncio.get_running_loop().time(), event))
        self._changed.set()

    def names(self, *, usage: bool = False) -> list[str]:
        out = []
        for _, e in self.events:
            if not usage and e.type == "metrics_collected" and isinstance(e.metrics, UsageMetrics):
                continue
            label = e.type
            if e.type in ("agent_state_changed", "user_state_changed"):
                label += f":{e.new_state.value}"
            elif e.type == "conversation_item_added":
                label += f":{getattr(e.item, 'role', e.item.type)}"
            elif e.type == "metrics_collected":
                label += f":{e.metrics.type}"
            out.append(label)
        return out

    def of(self, event_type: str) -> list[Any]:
        return [e for _, e in self.events if e.type == event_type]

    def time_of(self, label: str, nth: int = 0) -> float:
        matches = [
            t for (t, _), name in zip(self.events, self.names(usage=True), strict=True) if name == label
        ]
        return matches[nth]

    async def wait_for(self, label: str, timeout: float = 60.0, *, count: int = 1) -> None:
        """Wait until ``label`` has been seen ``count`` times in all."""
        async with asyncio.timeout(timeout):
            while self.names(usage=True).count(label) < count:
                self._changed.clear()
                await self._changed.wait()

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 60.0) -> None:
        """Wait until ``predicate()`` holds; it is checked after every session event."""
        async with asyncio.timeout(timeout):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()


async def speak_parts(
    session: AgentSession, io: Any, parts: list[tuple[float, float]], tail: float = 4.0
) -> list[float]:
    """Speak ``(seconds of speech, seconds of pause after it)`` parts into a started session's
    ``MemoryIO``, end the input and wait for the session to close; returns when each speech ended."""
    t = asyncio.get_running_loop().time()
    ends = []
    for speech, pause in parts:
        io.push_audio(utterance(speech))
        t += speech
        ends.append(t)
        io.push_silence(pause)
        t += pause
    io.push_silence(tail)
    io.end_input()
    await asyncio.wait_for(session.wait_closed(), 60)
    return ends
