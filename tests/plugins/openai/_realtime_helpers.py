"""Shared helpers of the OpenAI realtime client tests (audio, event reading, model factory)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from livekitex_agent.chat import FunctionCall
from livekitex_agent.media import AudioFrame
from livekitex_agent.plugins.openai.realtime import RealtimeModel, RealtimeSession
from livekitex_agent.providers.base import RetryPolicy
from livekitex_agent.providers.realtime import GenerationResult, RealtimeEvent, RealtimeGeneration
from livekitex_agent.testing.realtime_server import RealtimeTestServer

E = TypeVar("E")
FAST_RETRY = RetryPolicy(max_retries=3, base_delay=0.01, max_delay=0.05, timeout=None)


def frames(ms: int, *, loud: bool, rate: int = 48000, frame_ms: int = 20) -> list[AudioFrame]:
    """``ms`` of 20 ms frames: a 300 Hz tone (speech for the server VAD) or silence."""
    n = rate * frame_ms // 1000
    out = []
    for i in range(ms // frame_ms):
        if loud:
            t = (np.arange(n) + i * n) / rate
            out.append(AudioFrame.from_float(0.3 * np.sin(2 * np.pi * 300 * t), rate))
        else:
            out.append(AudioFrame(np.zeros(n, dtype=np.int16), rate))
    return out


def utterance(speech_ms: int = 500, silence_ms: int = 800, rate: int = 48000) -> list[AudioFrame]:
    return frames(speech_ms, loud=True, rate=rate) + frames(silence_ms, loud=False, rate=rate)


def push(session: RealtimeSession, audio: list[AudioFrame]) -> None:
    for frame in audio:
        session.push_audio(frame)


def make_model(server: RealtimeTestServer, **kwargs: Any) -> RealtimeModel:
    kwargs.setdefault("retry_policy", FAST_RETRY)
    kwargs.setdefault("heartbeat", None)
    return RealtimeModel(api_key=server.api_key, base_url=server.base_url, **kwargs)


class EventReader:
    """Reads a session's events from one task; remembers all of them."""

    def __init__(self, session: RealtimeSession) -> None:
        self._it: AsyncIterator[RealtimeEvent] = session.events().__aiter__()
        self.seen: list[RealtimeEvent] = []

    async def next(self, timeout: float = 5.0) -> RealtimeEvent:
        async with asyncio.timeout(timeout):
            ev = await self._it.__anext__()
        self.seen.append(ev)
        return ev

    async def wait_for(self, kind: type[E], timeout: float = 5.0, **attrs: Any) -> E:
        async with asyncio.timeout(timeout):
            while True:
                ev = await self.next(timeout)
                if isinstance(ev, kind) and all(getattr(ev, k) == v for k, v in attrs.items()):
                    return ev

    async def rest(self, timeout: float = 5.0) -> list[RealtimeEvent]:
        """All events until the stream ends (after the session closed or failed)."""
        out = []
        async with asyncio.timeout(timeout):
            while True:
                try:
                    out.append(await self.next(timeout))
                except StopAsyncIteration:
                    return out

    def types(self) -> list[str]:
        return [ev.type for ev in self.seen]


@dataclass
class Collected:
    texts: list[str] = field(default_factory=list)
    item_ids: list[str] = field(default_factory=list)
    audio: list[list[AudioFrame]] = field(default_factory=list)
    audio_bytes: list[int] = field(default_factory=list)
    calls: list[FunctionCall] = field(default_factory=list)
    result: GenerationResult | None = None

    @property
    def text(self) -> str:
        return "".join(self.texts)

    def audio_ms(self, index: int = 0) -> float:
        return sum(f.duration for f in self.audio[index]) * 1000


async def collect(gen: RealtimeGeneration, timeout: float = 5.0) -> Collected:
    out = Collected()
    async with asyncio.timeout(timeout):
        async for msg in gen.messages:
            out.item_ids.append(msg.item_id)
            out.audio.append([f async for f in msg.audio_stream])
            out.texts.append("".join([t async for t in msg.text_stream]))
            out.audio_bytes.append(msg.audio_bytes)
        out.calls = [c async for c in gen.function_calls]
        out.result = await gen.done
    return out
