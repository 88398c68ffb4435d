"""Helpers for the LiveKit room I/O tests: tokens, rooms, a tone-publishing caller, an audio recorder."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from livekit import api, rtc

from livekitex_agent.events import EventEmitter
from livekitex_agent.testing import wait_until as testing_wait_until
from livekitex_agent.testing.livekit_server import LiveKitServer
from livekitex_agent.worker.tokens import sign

_room_ids = itertools.count()


def mint_token(server: LiveKitServer, room: str, identity: str, *, kind: str | None = None) -> str:
    grants = api.VideoGrants(room_join=True, room=room, can_update_own_metadata=True)
    token = api.AccessToken(server.api_key, server.api_secret).with_identity(identity).with_grants(grants)
    if kind is not None:
        token = token.with_kind(kind)  # type: ignore[arg-type]
    return sign(token)


async def connect(server: LiveKitServer, room: str, identity: str, *, kind: str | None = None) -> rtc.Room:
    r = rtc.Room()
    await asyncio.wait_for(r.connect(server.url, mint_token(server, room, identity, kind=kind)), 10)
    return r


def new_room_name(prefix: str) -> str:
    return f"{prefix}-{next(_room_ids)}-{time.monotonic_ns() % 1_000_000}"


@contextlib.asynccontextmanager
async def rooms(server: LiveKitServer, prefix: str, *identities: str) -> AsyncIterator[list[rtc.Room]]:
    """An agent room ("agent", kind agent) plus one room per caller identity, all in one room name."""
    name = new_room_name(prefix)
    joined: list[rtc.Room] = []
    try:
        joined.append(await connect(server, name, "agent", kind="agent"))
        for ident in identities:
            joined.append(await connect(server, name, ident))
        yield joined
    finally:
        for r in joined:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(r.disconnect(), 5)


async def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``predicate`` every 20 ms until it holds; fail the test after ``timeout`` seconds."""
    await testing_wait_until(predicate, timeout=timeout, what=what)


class TonePublisher:
    """A caller's microphone: publishes a track and streams a sine tone (at most ``max_seconds``)."""

    def __init__(self, room: rtc.Room, *, frequency: float = 440.0, sample_rate: int = 48000) -> None:
        self.room = room
        self.frequency = frequency
        self.sample_rate = sample_rate
        self.source = rtc.AudioSource(sample_rate, 1, queue_size_ms=100)
        self.track = rtc.LocalAudioTrack.create_audio_track("mic", self.source)
        self.publication: rtc.LocalTrackPublication | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, *, max_seconds: float = 20.0, tone_seconds: float | None = None) -> None:
        """Publish, then stream the tone (for ``tone_seconds``, then silence) for ``max_seconds``."""
        options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        self.publication = await self.room.local_participant.publish_track(self.track, options)
        self._task = asyncio.get_running_loop().create_task(self._run(max_seconds, tone_seconds))

    async def _run(self, max_seconds: float, tone_seconds: float | None) -> None:
        n = self.sample_rate // 100  # 10 ms
        t = np.arange(self.sample_rate, dtype=np.float64) / self.sample_rate
        pcm = (0.3 * np.sin(2 * np.pi * self.frequency * t) * 32767).astype(np.int16)
        silence = np.zeros(n, dtype=np.int16)
        for i in range(int(max_seconds * 100)):
            quiet = tone_seconds is not None and i >= tone_seconds * 100
            chunk = silence if quiet else pcm[(i % 100) * n : (i % 100 + 1) * n]
            await self.source.capture_frame(rtc.AudioFrame(chunk.tobytes(), self.sample_rate, 1, n))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.publication is not None:
            await self.room.local_participant.unpublish_track(self.publication.sid)
            self.publication = None


@dataclass
class ReceivedFrame:
    t: float  # time.monotonic() at arrival
    duration: float
    peak: int


@dataclass
class AudioRecorder:
    """Records the level of every frame of a remote participant's microphone track."""

    room: rtc.Room
    identity: str
    sample_rate: int = 24000
    frames: list[ReceivedFrame] = field(default_factory=list)
    track_sids: list[str] = field(default_factory=list)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self) -> None:
        self.room.on("track_subscribed", self._on_track)
        participant = self.room.remote_participants.get(self.identity)
        if participant is not None:
            for pub in participant.track_publications.values():
                if pub.track is not None and pub.kind == rtc.TrackKind.KIND_AUDIO:
                    self._on_track(pub.track, pub, participant)

    def _on_track(self, track: rtc.Track, pub: rtc.RemoteTrackPublication, p: rtc.RemoteParticipant) -> None:
        if p.identity != self.identity or pub.kind != rtc.TrackKind.KIND_AUDIO or pub.sid in self.track_sids:
            return
        self.track_sids.append(pub.sid)
        self._tasks.append(asyncio.get_running_loop().create_task(self._read(track)))

    async def _read(self, track: rtc.Track) -> None:
        stream = rtc.AudioStream(track, sample_rate=self.sample_rate, num_channels=1)
        try:
            async for ev in stream:
                data = np.frombuffer(ev.frame.data, dtype=np.int16)
                peak = int(np.abs(data).max()) if data.size else 0
                self.frames.append(ReceivedFrame(time.monotonic(), data.size / self.sample_rate, peak))
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(stream.aclose(), 2)

    def loud(self, threshold: int = 1000) -> list[ReceivedFrame]:
        return [f for f in self.frames if f.peak > threshold]

    async def stop(self) -> None:
        self.room.off("track_subscribed", self._on_track)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


@dataclass
class ReceivedText:
    sender: str
    text: str = ""
    attributes: dict[str, str] = field(default_factory=dict)
    complete: bool = False


class TextCollector:
    """Collects every text stream of ``topic`` a room receives, in the order they were opened.

    ``items`` holds the complete ones (text and the attributes including the closing ones).
    """

    def __init__(self, room: rtc.Room, topic: str) -> None:
        self._all: list[ReceivedText] = []
        self._tasks: list[asyncio.Task[None]] = []
        room.register_text_stream_handler(topic, self._on_stream)

    @property
    def items(self) -> list[ReceivedText]:
        return [i for i in self._all if i.complete]

    def _on_stream(self, reader: rtc.TextStreamReader, sender: str) -> None:
        item = ReceivedText(sender)
        self._all.append(item)
        self._tasks.append(asyncio.get_running_loop().create_task(self._read(reader, item)))

    async def _read(self, reader: rtc.TextStreamReader, item: ReceivedText) -> None:
        item.text = await reader.read_all()
        item.attributes = dict(reader.info.attributes or {})
        item.complete = True

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


class StubSession(EventEmitter[str]):
    """The part of AgentSession that room I/O uses, recording calls (for I/O-level tests that
    consume the audio input themselves, which a real session would do instead)."""

    def __init__(self) -> None:
        super().__init__()
        self.replies: list[str | None] = []
        self.close_reasons: list[Any] = []
        self.io: Any = None

    def generate_reply(self, *, user_input: str | None = None, instructions: str | None = None) -> object:
        self.replies.append(user_input)
        return object()

    async def aclose(self, *, reason: Any = None) -> None:
        self.close_reasons.append(reason)
        if self.io is not None:
            await self.io.aclose()
