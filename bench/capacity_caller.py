"""The callers of ``bench/worker_capacity.py``, run as a separate process so the worker's numbers are clean.

One process joins every room given on the command line as a caller participant, publishes a
microphone track and, once the agent listens, says the same espeak-ng clip again and again
with silence in between (a turn every ``--cycle`` seconds, the rooms staggered over the cycle).
It starts once the agent's ``lk.agent.state`` attribute says ``listening`` (its session hears
from then on) and follows that attribute to count the replies it finished. It also listens to the
agent's audio track: the reply delay of a turn is the time from the end of the clip to the first
audible frame of the agent's voice, and a reply heard for less than ``--min-reply`` seconds
(audio dropped somewhere on the way) counts as short.

Protocol with the bench (one JSON object per line): stdout ``{"event": "ready", "joined": n}`` once
every room is joined, then, after the bench writes ``stop`` (or closes stdin), or after ``--seconds``,
the callers start no new clip, wait for the answers to the clips already said (bounded), and print
``{"event": "done", "said": {room: n}, "replies": {room: n}, "delays_ms": [...], "short": n}``
(``delays_ms``: every reply's delay, all rooms; ``short``: replies heard shorter than ``--min-reply``). Credentials come from
``LIVEKIT_API_KEY`` / ``LIVEKIT_API_SECRET``, never from the command line.

Usage: ``python bench/capacity_caller.py --url ws://127.0.0.1:PORT --rooms a,b,c [--seconds 120]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time

import numpy as np
from livekit import api, rtc

from livekitex_agent.demo.caller import ReplyTracker
from livekitex_agent.plugins.local.espeak import synthesize_to_frame
from livekitex_agent.rooms.livekit.conventions import ATTR_AGENT_STATE
from livekitex_agent.worker.tokens import sign

RATE = 16000
FRAME_MS = 40  # frames said and heard: half the SDK calls of 20 ms ones (the callers share a CPU with the server)
FRAME = RATE * FRAME_MS // 1000
AUDIBLE_RMS = 300.0  # an agent frame this loud (about -40 dBFS) is voice, not silence or comfort noise
LINE = "What time is it in Paris?"
JOIN_TIMEOUT = 20.0
REPLY_TAIL = 1.0  # seconds the last reply of a call may take to arrive after the agent finished it


def _is_agent(p: rtc.Participant) -> bool:
    return getattr(p, "kind", None) == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT


class Caller:
    """One room: a caller who speaks a clip every ``cycle`` seconds once the agent listens."""

    def __init__(
        self, room_name: str, clip: np.ndarray, cycle: float, offset: float, min_reply: float = 0.0
    ) -> None:
        self.room_name = room_name
        self.room = rtc.Room()
        self.replies = ReplyTracker()
        self.said = 0
        self.delays_ms: list[float] = []
        self.heard: list[float] = []  # seconds of the agent's voice heard per reply
        self.short = 0
        self._checked = 0  # replies in ``heard`` already checked for shortness
        self._min_reply = min_reply
        self._clip_frames = -(-clip.size // FRAME)
        self._clip_end: float | None = None  # when the last clip ended, until its reply is heard
        # the whole cycle as one buffer: the clip, then silence (no allocation while speaking)
        n = max(clip.size + RATE // 2, round(cycle * RATE))
        n += -n % FRAME
        self._cycle = np.zeros(n, dtype=np.int16)
        self._cycle[: clip.size] = clip
        self._delay = round(offset * RATE) // FRAME  # frames of silence before the first turn (stagger)
        self._agent_here = asyncio.Event()
        self._whole = asyncio.Event()  # the last reply was heard for ``min_reply`` seconds
        self._finishing = False  # no new clip: the bench is about to stop
        self._source = rtc.AudioSource(RATE, 1, queue_size_ms=100)
        self._task: asyncio.Task[None] | None = None
        self._listen_task: asyncio.Task[None] | None = None

    async def join(self, url: str, key: str, secret: str) -> None:
        token = sign(
            api.AccessToken(key, secret)
            .with_identity(f"caller-{self.room_name}")
            .with_grants(api.VideoGrants(room_join=True, room=self.room_name))
        )
        self.room.on("participant_attributes_changed", self._on_attributes)
        self.room.on("participant_connected", self._on_participant)
        self.room.on("track_subscribed", self._on_track)
        await asyncio.wait_for(self.room.connect(url, token), JOIN_TIMEOUT)
        for p in self.room.remote_participants.values():
            self._on_participant(p)
        track = rtc.LocalAudioTrack.create_audio_track("caller-mic", self._source)
        await self.room.local_participant.publish_track(
            track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        )
        self._task = asyncio.get_running_loop().create_task(self._speak(), name=f"caller-{self.room_name}")

    def _on_track(self, track: rtc.Track, _pub: rtc.RemoteTrackPublication, p: rtc.RemoteParticipant) -> None:
        if _is_agent(p) and track.kind == rtc.TrackKind.KIND_AUDIO and self._listen_task is None:
            stream = rtc.AudioStream(track, sample_rate=RATE, num_channels=1, frame_size_ms=FRAME_MS)
            self._listen_task = asyncio.get_running_loop().create_task(self._listen(stream))

    async def _listen(self, stream: rtc.AudioStream) -> None:
        """Time each reply's first audible frame and add up how much of it is heard."""
        async for event in stream:
            data = np.frombuffer(event.frame.data, dtype=np.int16)
            if data.size == 0 or float(np.sqrt(np.mean(np.square(data, dtype=np.float32)))) < AUDIBLE_RMS:
                continue
            if self._clip_end is not None:
                self.delays_ms.append((time.monotonic() - self._clip_end) * 1000.0)
                self._clip_end = None
                self.heard.append(0.0)
                self._whole.clear()
            if self.heard:
                self.heard[-1] += data.size / RATE
                if self.heard[-1] >= self._min_reply:
                    self._whole.set()

    def _reply_over(self) -> None:
        """A new clip starts (or the call ends): the previous reply is complete, or was cut short."""
        if len(self.heard) > self._checked and self.heard[-1] < self._min_reply:
            self.short += 1
        self._checked = len(self.heard)

    def _on_participant(self, p: rtc.Participant) -> None:
        if _is_agent(p) and p.attributes.get(ATTR_AGENT_STATE) == "listening":
            self._agent_here.set()

    def _on_attributes(self, changed: dict[str, str], p: rtc.Participant) -> None:
        if _is_agent(p) and ATTR_AGENT_STATE in changed:
            state = changed[ATTR_AGENT_STATE]
            self.replies.on_state(state)
            if state == "listening":  # the agent's session runs: it hears what is said from now on
                self._agent_here.set()

    async def _speak(self, max_seconds: float = 3600.0) -> None:
        buf = bytearray(2 * FRAME)
        view = np.frombuffer(buf, dtype=np.int16)
        frame = rtc.AudioFrame(buf, RATE, 1, FRAME)  # shares ``buf``: refilled in place
        silence = np.zeros(FRAME, dtype=np.int16)
        pos = 0
        delay = self._delay
        for _ in range(int(max_seconds * RATE / FRAME)):  # bounded
            if not self._agent_here.is_set() or delay > 0 or (self._finishing and pos == 0):
                delay -= self._agent_here.is_set()
                view[:] = silence
            else:
                if pos == 0:
                    self.said += 1
                    self._reply_over()
                view[:] = self._cycle[pos : pos + FRAME]
                pos = (pos + FRAME) % self._cycle.size
                if pos == self._clip_frames * FRAME:  # the clip's last frame is queued
                    self._clip_end = time.monotonic()
            await self._source.capture_frame(frame)  # paced: waits while the source's queue is full

    async def finish(self, timeout: float) -> None:
        """Say no new clip and wait (at most ``timeout`` seconds) for the answer to the last one."""
        self._finishing = True
        await self.replies.wait_for(self.said, timeout)
        # the agent says it is listening again once its last frame left; that frame may still be
        # on its way here (network, jitter buffer): the last reply is judged once heard whole, or
        # after REPLY_TAIL seconds
        if self.heard and self.heard[-1] < self._min_reply:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._whole.wait(), REPLY_TAIL)
        self._reply_over()

    async def aclose(self) -> None:
        for task in (self._task, self._listen_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.room.disconnect(), 5.0)
        await self._source.aclose()


async def _stop_requested() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line or line.strip() == b"stop":
            return


def _emit(obj: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--rooms", required=True, help="comma-separated room names")
    parser.add_argument("--cycle", type=float, default=4.0, help="seconds between the caller's turns")
    parser.add_argument("--seconds", type=float, default=300.0, help="stop after this long at most")
    parser.add_argument(
        "--min-reply", type=float, default=0.0, help="a reply heard for less than this many seconds is short"
    )
    args = parser.parse_args()
    rooms = [r for r in args.rooms.split(",") if r]
    if not rooms or len(rooms) > 200:
        parser.error(f"--rooms must name 1..200 rooms, got {len(rooms)}")
    key, secret = os.environ.get("LIVEKIT_API_KEY", ""), os.environ.get("LIVEKIT_API_SECRET", "")
    clip = (await synthesize_to_frame(LINE, voice="en-us+f3", sample_rate=RATE)).data
    callers = [
        Caller(r, clip, args.cycle, args.cycle * i / len(rooms), args.min_reply) for i, r in enumerate(rooms)
    ]
    started = time.monotonic()
    try:
        await asyncio.gather(*(c.join(args.url, key, secret) for c in callers))
        _emit({"event": "ready", "joined": len(callers)})
        remaining = max(0.0, args.seconds - (time.monotonic() - started))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(_stop_requested(), remaining)
        await asyncio.gather(*(c.finish(args.cycle + 2.0) for c in callers))
    finally:
        await asyncio.gather(*(c.aclose() for c in callers), return_exceptions=True)
    _emit(
        {
            "event": "done",
            "said": {c.room_name: c.said for c in callers},
            "replies": {c.room_name: c.replies.count for c in callers},
            "delays_ms": [d for c in callers for d in c.delays_ms],
            "short": sum(c.short for c in callers),
        }
    )


if __name__ == "__main__":
    asyncio.run(main())
