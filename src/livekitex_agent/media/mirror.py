"""An audio output that plays to one output and copies everything to another."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .frame import AudioFrame
from .io import AudioOutput, PlaybackFinished


class MirroredAudioOutput(AudioOutput):
    """Plays to ``primary`` and copies everything to ``mirror`` (e.g. a WAV recording of the speaker).

    ``position``, ``wait_for_playout`` and the playback-started callbacks are the primary's.
    """

    def __init__(self, primary: AudioOutput, mirror: AudioOutput) -> None:
        super().__init__()
        if mirror.sample_rate is not None and mirror.sample_rate != primary.sample_rate:
            raise ValueError(
                f"the mirror plays {mirror.sample_rate} Hz, the primary output {primary.sample_rate} Hz"
            )
        self.primary = primary
        self.mirror = mirror
        self.sample_rate = primary.sample_rate

    def on_playback_started(self, callback: Callable[[float], Any]) -> None:
        self.primary.on_playback_started(callback)

    async def capture_frame(self, frame: AudioFrame) -> None:
        await self.primary.capture_frame(frame)
        await self.mirror.capture_frame(frame)

    def flush(self) -> None:
        self.primary.flush()
        self.mirror.flush()

    def clear_buffer(self) -> None:
        self.primary.clear_buffer()
        self.mirror.clear_buffer()

    def pause(self) -> None:
        self.primary.pause()
        self.mirror.pause()

    def resume(self) -> None:
        self.primary.resume()
        self.mirror.resume()

    @property
    def position(self) -> float:
        return self.primary.position

    async def wait_for_playout(self) -> PlaybackFinished:
        return await self.primary.wait_for_playout()

    async def aclose(self) -> None:
        try:
            await self.primary.aclose()
        finally:
            await self.mirror.aclose()
