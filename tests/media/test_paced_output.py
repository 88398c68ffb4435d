from __future__ import annotations

import asyncio

from livekitex_agent.media import AudioFrame
from livekitex_agent.rooms.memory import MemoryAudioOutput
from livekitex_agent.testing import virtual_time


@virtual_time
async def test_frames_play_in_real_time_and_finish() -> None:
    loop = asyncio.get_running_loop()
    out = MemoryAudioOutput()
    started: list[float] = []
    out.on_playback_started(started.append)
    t0 = loop.time()
    await out.capture_frame(AudioFrame.silence(1.0, 24000))  # split into 20 ms frames
    out.flush()
    result = await out.wait_for_playout()
    assert not result.interrupted and abs(result.position - 1.0) < 1e-9
    assert abs(loop.time() - t0 - 1.0) < 1e-6
    times = [t for t, _ in out.played]
    assert len(times) == 50 and started == [t0]
    assert all(abs((b - a) - 0.02) < 1e-9 for a, b in zip(times, times[1:], strict=False))


@virtual_time
async def test_clear_stops_within_a_frame_and_reports_position() -> None:
    loop = asyncio.get_running_loop()
    out = MemoryAudioOutput()
    await out.capture_frame(AudioFrame.silence(2.0, 24000))
    await asyncio.sleep(0.5)
    out.clear_buffer()
    result = await out.wait_for_playout()
    assert result.interrupted and abs(result.position - 0.5) <= 0.02
    played_until = out.played[-1][0] + 0.02
    assert played_until <= loop.time() + 0.02
    await asyncio.sleep(1)
    assert out.played[-1][0] + 0.02 == played_until  # nothing more was written


@virtual_time
async def test_pause_holds_playout_and_resume_continues() -> None:
    out = MemoryAudioOutput()
    await out.capture_frame(AudioFrame.silence(1.0, 24000))
    out.flush()
    await asyncio.sleep(0.3)
    out.pause()
    held = out.position
    await asyncio.sleep(2)
    assert out.position == held and len(out.played) <= 16
    out.resume()
    result = await out.wait_for_playout()
    assert not result.interrupted
    assert abs(out.segments[0].duration - 1.0) < 1e-9  # every frame played once


class _SinkWithBuffer(MemoryAudioOutput):
    """A sink that, like LiveKit's, buffers what it is handed ahead of time and drops it on pause."""

    def __init__(self) -> None:
        super().__init__()
        self._lookahead = 0.06
        self.heard: list[tuple[float, AudioFrame]] = []

    async def _write_frame(self, frame: AudioFrame) -> None:
        await super()._write_frame(frame)
        start = max(self._cur_end - frame.duration, asyncio.get_running_loop().time())
        self.heard.append((start, frame))

    def pause(self) -> None:
        now = asyncio.get_running_loop().time()
        super().pause()
        self.heard = [(t, f) for t, f in self.heard if t < now]  # the sink's queue is dropped


@virtual_time
async def test_pause_with_lookahead_loses_no_audio() -> None:
    out = _SinkWithBuffer()
    await out.capture_frame(AudioFrame.silence(1.0, 24000))
    out.flush()
    await asyncio.sleep(0.31)
    out.pause()
    await asyncio.sleep(1.0)
    out.resume()
    result = await out.wait_for_playout()
    assert not result.interrupted
    heard = sum(f.duration for _, f in out.heard)
    assert abs(heard - 1.0) < 1e-9  # nothing skipped, nothing twice
