"""Transcriptions as ``lk.transcription`` text streams: the agent's words and the user's transcripts.

The agent's text goes out as one delta stream per segment: the header carries
``lk.transcription_final = "false"``, each ``capture_text`` appends, and the stream is closed with
``lk.transcription_final = "true"`` (trailer attributes) when the segment is flushed. Each user
transcript update (interim or final) is one whole stream sent on behalf of the user, all updates of
an utterance sharing one ``lk.segment_id``. One owned task sends everything in order, so the
session never waits on the network; updates the room has not taken yet are merged (see
:class:`PendingOps`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from livekit import rtc

from ...media.io import TextOutput
from .conventions import (
    ATTR_TRANSCRIBED_TRACK_ID,
    ATTR_TRANSCRIPTION_FINAL,
    TOPIC_TRANSCRIPTION,
    CloseOp,
    DeltaOp,
    PendingOps,
    SendOp,
    TranscriptionOp,
    new_segment_id,
    transcription_attributes,
)

logger = logging.getLogger("livekitex_agent.rooms.livekit")

_DRAIN_TIMEOUT = 1.0


class TranscriptionStreamer:
    """Sends transcription operations to the room, in order, from one owned task.

    ``track_sid`` gives the transcribed track for delta streams (the agent's audio track; it can
    change after a reconnect, so it is read when a stream opens).
    """

    def __init__(self, room: rtc.Room, *, track_sid: Callable[[], str | None] = lambda: None) -> None:
        self._room = room
        self._track_sid = track_sid
        self._ops = PendingOps()
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._writer: rtc.TextStreamWriter | None = None
        self._writer_segment: str | None = None
        self._closed = False
        self._failures = 0

    @property
    def failures(self) -> int:
        """How many operations failed to reach the room."""
        return self._failures

    def push(self, op: TranscriptionOp) -> None:
        if self._closed:
            return
        self._ops.push(op)
        self._idle.clear()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="lk-transcription-sender")
        self._wakeup.set()

    async def drain(self) -> None:
        """Wait until everything pushed so far was sent."""
        await self._idle.wait()

    async def aclose(self) -> None:
        """Send what is pending (briefly), then stop; an unfinished stream is closed as final."""
        if self._closed:
            return
        if self._room.isconnected():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), _DRAIN_TIMEOUT)
        self._closed = True
        self._ops.clear()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._close_writer()

    # -- internals ------------------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            op = self._ops.pop()
            if op is None:
                self._idle.set()
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            if not self._room.isconnected():
                logger.debug("room not connected: dropping a transcription update")
                continue
            try:
                await self._apply(op)
            except Exception as e:
                self._failures += 1
                # one line per failure, no traceback: a flaky room must not flood the logs
                logger.warning("failed to publish a transcription (segment %s): %s", op.segment_id, e)
                if not isinstance(op, SendOp):
                    self._writer, self._writer_segment = None, None

    async def _apply(self, op: TranscriptionOp) -> None:
        local = self._room.local_participant
        if isinstance(op, SendOp):
            writer = await local.stream_text(
                topic=TOPIC_TRANSCRIPTION,
                attributes=transcription_attributes(op.segment_id, op.track_sid, final=op.final),
                sender_identity=op.sender_identity,
            )
            await writer.write(op.text)
            await writer.aclose()
        elif isinstance(op, DeltaOp):
            if self._writer_segment != op.segment_id:
                await self._close_writer()  # a segment that was never flushed ends here
                self._writer = await local.stream_text(
                    topic=TOPIC_TRANSCRIPTION,
                    attributes=transcription_attributes(op.segment_id, self._track_sid(), final=False),
                )
                self._writer_segment = op.segment_id
            assert self._writer is not None
            await self._writer.write(op.text)
        elif self._writer_segment == op.segment_id:  # CloseOp of the open segment
            await self._close_writer()

    async def _close_writer(self) -> None:
        writer, self._writer, self._writer_segment = self._writer, None, None
        if writer is None:
            return
        trailer = {ATTR_TRANSCRIPTION_FINAL: "true"}
        if sid := self._track_sid():
            trailer[ATTR_TRANSCRIBED_TRACK_ID] = sid
        try:
            await writer.aclose(attributes=trailer)
        except Exception as e:
            self._failures += 1
            logger.warning("failed to close a transcription stream: %s", e)


class RoomTextOutput(TextOutput):
    """The agent's words (in step with its voice) as delta streams on ``lk.transcription``."""

    def __init__(self, room: rtc.Room, *, track_sid: Callable[[], str | None]) -> None:
        self._streamer = TranscriptionStreamer(room, track_sid=track_sid)
        self._segment_id: str | None = None

    @property
    def segment_id(self) -> str | None:
        """The id of the segment being written, if one is open."""
        return self._segment_id

    async def capture_text(self, text: str) -> None:
        if not text:
            return
        if self._segment_id is None:
            self._segment_id = new_segment_id()
        self._streamer.push(DeltaOp(self._segment_id, text))

    def flush(self) -> None:
        if self._segment_id is not None:
            self._streamer.push(CloseOp(self._segment_id))
            self._segment_id = None

    async def aclose(self) -> None:
        self.flush()
        await self._streamer.aclose()


class UserTranscriptForwarder:
    """Sends the user's transcripts (interim and final) on behalf of the user."""

    def __init__(self, room: rtc.Room) -> None:
        self._streamer = TranscriptionStreamer(room)
        self._segment_id: str | None = None

    def forward(self, text: str, *, final: bool, sender_identity: str, track_sid: str | None) -> None:
        if self._segment_id is None:
            self._segment_id = new_segment_id()
        self._streamer.push(SendOp(self._segment_id, text, final, sender_identity, track_sid))
        if final:
            self._segment_id = None

    async def aclose(self) -> None:
        await self._streamer.aclose()
