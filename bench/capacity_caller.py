"""The callers of ``bench/worker_capacity.py``, run as a separate process so the worker's numbers are clean.

One process joins every room given on the command line as a caller participant, publishes a
microphone track and, once the agent listens, says the same espeak-ng clip again and again
with silence in between (a turn every ``--cycle`` seconds, the rooms staggered over the cycle).
It starts once the agent's ``lk.agent.state`` attribute says ``listening`` (its session hears
from then on) and follows that attribute to count the replies it finished.

Protocol with the bench (one JSON object per line): stdout ``{"event": "ready", "joined": n}`` once
every room is joined, then, after the bench writes ``stop`` (or closes stdin), or after ``--seconds``,
the callers start no new clip, wait for the answers to the clips already said (bounded), and print
``{"event": "done", "said": {room: n}, "replies": {room: n}}``. Credentials come from
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
FRAME = RATE // 50  # 20 ms frames
LINE = "What time is it in Paris?"
JOIN_TIMEOUT = 20.0


def _is_agent(p: rtc.Participant) -> bool:
    return getattr(p, "kind", None) == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT


class Caller:
    """One room: a caller who speaks a clip every ``cycle`` seconds once the agent listens."""

    def __init__(self, room_name: str, clip: np.ndarray, cycle: float, offset: float) -> None:
        self.room_name = room_name
        self.room = rtc.Room()
        self.replies = ReplyTracker()
        self.said = 0
        # the whole cycle as one buffer: the clip, then silence (no allocation while speaking)
        n = max(clip.size + RATE // 2, round(cycle * RATE))
        n += -n % FRAME
        self._cycle = np.zeros(n, dtype=np.int16)
        self._cycle[: clip.size] = clip
        self._delay = round(offset * RATE) // FRAME  # frames of silence before the first turn (stagger)
        self._agent_here = asyncio.Event()
        self._finishing = False  # no new clip: the bench is about to stop
        self._source = rtc.AudioSource(RATE, 1, queue_size_ms=100)
        self._task: asyncio.Task[None] | None = None

    async def join(self, url: str, key: str, secret: str) -> None:
        token = sign(
            api.AccessToken(key, secret)
            .with_identity(f"caller-{self.room_name}")
            .with_grants(api.VideoGrants(room_join=True, room=self.room_name))
        )
        self.room.on("participant_attributes_changed", self._on_attributes)
        self.room.on("participant_connected", self._on_participant)
        await asyncio.wait_for(self.room.connect(url, token), JOIN_TIMEOUT)
        for p in self.room.remote_participants.values():
            self._on_participant(p)
        track = rtc.LocalAudioTrack.create_audio_track("caller-mic", self._source)
        await self.room.local_participant.publish_track(
            track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        )
        self._task = asyncio.get_running_loop().create_task(self._speak(), name=f"caller-{self.room_name}")

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
                view[:] = self._cycle[pos : pos + FRAME]
                pos = (pos + FRAME) % self._cycle.size
            await self._source.capture_frame(frame)  # paced: waits while the source's queue is full

    async def finish(self, timeout: float) -> None:
        """Say no new clip and wait (at most ``timeout`` seconds) for the answer to the last one."""
        self._finishing = True
        await self.replies.wait_for(self.said, timeout)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
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
    args = parser.parse_args()
    rooms = [r for r in args.rooms.split(",") if r]
    if not rooms or len(rooms) > 200:
        parser.error(f"--rooms must name 1..200 rooms, got {len(rooms)}")
    key, secret = os.environ.get("LIVEKIT_API_KEY", ""), os.environ.get("LIVEKIT_API_SECRET", "")
    clip = (await synthesize_to_frame(LINE, voice="en-us+f3", sample_rate=RATE)).data
    callers = [Caller(r, clip, args.cycle, args.cycle * i / len(rooms)) for i, r in enumerate(rooms)]
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
        }
    )


if __name__ == "__main__":
    asyncio.run(main())
