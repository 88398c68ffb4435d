"""The agent's voice as a published LiveKit audio track, paced in real time."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import numpy as np
from livekit import rtc

from ...media.frame import AudioFrame
from ...media.io import PacedAudioOutput

logger = logging.getLogger("livekitex_agent.rooms.livekit")

_UNPUBLISH_TIMEOUT = 2.0


class RoomAudioOutput(PacedAudioOutput):
    """Publishes one microphone-source track and plays segments into it.

    Frames are handed to the SDK's :class:`rtc.AudioSource` ``lookahead`` seconds ahead of their
    playout time, so its native queue never holds more than about ``lookahead`` plus one frame:
    ``position`` (what the remote user heard) is right within that margin, and ``clear_buffer`` /
    ``pause`` empty the native queue so the remote audio stops within a frame or two.
    The first segment waits (at most ``wait_for_subscriber`` seconds) until someone subscribed
    to the track, so the start of a greeting is not played to an empty room.
    """

    def __init__(
        self,
        room: rtc.Room,
        *,
        sample_rate: int = 24000,
        track_name: str = "agent-voice",
        lookahead: float = 0.04,
        frame_duration: float = 0.02,
        wait_for_subscriber: float = 5.0,
    ) -> None:
        if sample_rate <= 0:
            raise ValueError(f"output sample_rate must be positive, got {sample_rate!r}")
        if not 0.0 <= lookahead <= 0.5:
            raise ValueError(f"lookahead must be between 0 and 0.5 s, got {lookahead!r}")
        super().__init__(sample_rate=sample_rate, frame_duration=frame_duration, lookahead=lookahead)
        self._room = room
        self._track_name = track_name
        self._wait_for_subscriber = wait_for_subscriber
        # the native queue only needs room for the lookahead and the frame being written
        self._queue_ms = max(50, round((lookahead + 3 * frame_duration) * 1000))
        self._source: rtc.AudioSource | None = None  # created on the running loop, in publish()
        self._track: rtc.LocalAudioTrack | None = None
        self._publication: rtc.LocalTrackPublication | None = None
        self._subscribed = asyncio.Event()
        self._subscriber_wait_over = False
        self._clears = 0  # counts clear_buffer calls, to drop a frame that waited through one
        # one reusable buffer for the frame handed to the SDK (no allocation per frame)
        self._scratch = bytearray(2 * max(1, round(frame_duration * sample_rate)))
        self._scratch_view = np.frombuffer(self._scratch, dtype=np.int16)
        self._publish_lock = asyncio.Lock()

    # -- track lifecycle ------------------------------------------------------------------------
    @property
    def track_sid(self) -> str | None:
        """The sid of the published track (updated in place by the SDK after a full reconnect)."""
        return self._publication.sid if self._publication is not None else None

    @property
    def published(self) -> bool:
        pub = self._publication
        return pub is not None and pub.sid in self._room.local_participant.track_publications

    async def publish(self) -> None:
        """Publish the track (again, if it is no longer published)."""
        async with self._publish_lock:
            if self.published:
                return
            if self._track is None:
                self._source = rtc.AudioSource(self.sample_rate or 24000, 1, queue_size_ms=self._queue_ms)
                self._track = rtc.LocalAudioTrack.create_audio_track(self._track_name, self._source)
            options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
            self._publication = await self._room.local_participant.publish_track(self._track, options)
            logger.debug("published agent audio track %s", self._publication.sid)

    def mark_subscribed(self) -> None:
        """Someone subscribed to the track: audio may flow."""
        self._subscribed.set()

    # -- AudioOutput ----------------------------------------------------------------------------
    async def capture_frame(self, frame: AudioFrame) -> None:
        if frame.num_channels != 1:
            raise ValueError(
                f"the room audio output plays mono audio, got a {frame.num_channels}-channel frame"
            )
        if not self._subscriber_wait_over:
            epoch = self._clears
            if not self._subscribed.is_set():
                try:
                    await asyncio.wait_for(self._subscribed.wait(), self._wait_for_subscriber)
                except TimeoutError:
                    logger.warning(
                        "nobody subscribed to the agent's audio track after %.1f s; playing anyway",
                        self._wait_for_subscriber,
                    )
            self._subscriber_wait_over = True
            if epoch != self._clears:  # interrupted while waiting: this audio is stale
                return
        await super().capture_frame(frame)

    def clear_buffer(self) -> None:
        self._clears += 1
        super().clear_buffer()
        if self._source is not None:
            self._source.clear_queue()

    def pause(self) -> None:
        # what the native queue still holds would be heard after the pause: drop it (at most the
        # lookahead, which ``position`` already counts as not heard)
        super().pause()
        if self._source is not None:
            self._source.clear_queue()

    async def _write_frame(self, frame: AudioFrame) -> None:
        if self._source is None:
            raise RuntimeError(
                "the agent's audio track is not published yet (LiveKitRoomIO.start was not called)"
            )
        n = frame.samples_per_channel
        if n <= self._scratch_view.size:
            self._scratch_view[:n] = frame.data
            rframe = rtc.AudioFrame(self._scratch, frame.sample_rate, 1, n)
        else:  # only if a frame was not split (it always is): copy it
            rframe = rtc.AudioFrame(frame.to_bytes(), frame.sample_rate, 1, n)
        await self._source.capture_frame(rframe)

    async def aclose(self) -> None:
        await super().aclose()
        pub, self._publication = self._publication, None
        if (
            pub is not None
            and self._room.isconnected()
            and pub.sid in self._room.local_participant.track_publications
        ):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    self._room.local_participant.unpublish_track(pub.sid), _UNPUBLISH_TIMEOUT
                )
        if self._source is not None:
            await self._source.aclose()
