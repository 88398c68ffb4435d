"""The room's audio input survives an odd frame and reports a failed track stream (no server needed:
the SDK stream is stood in for by a scripted one)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from livekit import rtc

from livekitex_agent.rooms.livekit import RoomAudioInput


def sdk_frame(samples: int = 480) -> rtc.AudioFrame:
    return rtc.AudioFrame(np.full(samples, 1000, np.int16).tobytes(), 24000, 1, samples)


class ScriptedStream:
    def __init__(self, items: list[Any]) -> None:
        self.items = items

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._run()

    async def _run(self) -> AsyncIterator[Any]:
        for item in self.items:
            await asyncio.sleep(0)
            if isinstance(item, Exception):
                raise item
            yield SimpleNamespace(frame=item)

    async def aclose(self) -> None:
        pass


async def test_an_odd_frame_is_skipped_and_a_failed_stream_ends_the_input_with_its_error() -> None:
    inp = RoomAudioInput(sample_rate=24000)
    odd = SimpleNamespace(data=b"\x00", sample_rate=24000, num_channels=1)  # half a sample
    stream = ScriptedStream([sdk_frame(), odd, sdk_frame(), RuntimeError("track transport closed")])
    inp._pump = inp._tasks.spawn(inp._run(stream), name="test-pump")  # type: ignore[arg-type]
    got = []
    with pytest.raises(RuntimeError, match="track transport closed"):
        async with asyncio.timeout(5):
            async for frame in inp:
                got.append(frame)
                assert frame.captured_at is not None  # stamped on arrival
    assert len(got) == 2
    await inp.aclose()
