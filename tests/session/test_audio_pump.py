"""The audio input loop: bad frames skipped, a failed input closes the session with a reason, and
latency counted from when audio arrived, not from when a busy worker got round to it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from _helpers import Recorder, utterance

from livekitex_agent import Agent
from livekitex_agent.errors import AudioInputError
from livekitex_agent.events import CloseReason
from livekitex_agent.media import AudioFrame
from livekitex_agent.media.io import AudioInput, SessionIO
from livekitex_agent.metrics import TurnMetrics
from livekitex_agent.rooms.memory import MemoryAudioOutput
from livekitex_agent.session import AgentSession
from livekitex_agent.testing import FakeLLM, FakeSTT, FakeTTS, FakeVAD, virtual_time

RATE = 16000


def frames(audio: AudioFrame) -> list[AudioFrame]:
    step = 0.02
    n = round(audio.duration / step)
    return [audio.slice(i * step, (i + 1) * step) for i in range(n)]


def call(speech_start: float = 0.5, speech: float = 1.2, after: float = 3.0) -> list[Any]:
    return [
        *frames(AudioFrame.silence(speech_start, RATE)),
        *frames(utterance(speech, RATE)),
        *frames(AudioFrame.silence(after, RATE)),
    ]


class ScriptedInput(AudioInput):
    """Yields ``items`` at real-time pace; frames captured in ``stall`` (seconds from start) reach the
    session only when it ends, as on a worker too busy to read its input; ``fail_at`` raises there."""

    def __init__(self, items: list[Any], *, stall: tuple[float, float] | None = None, fail_at: int = -1) -> None:
        self.items, self.stall, self.fail_at = items, stall, fail_at

    def __aiter__(self) -> AsyncIterator[AudioFrame]:
        return self._run()

    async def _run(self) -> AsyncIterator[Any]:
        loop = asyncio.get_running_loop()
        t0, t = loop.time(), 0.0
        for i, item in enumerate(self.items):
            if i == self.fail_at:
                raise RuntimeError("the microphone driver went away")
            if isinstance(item, AudioFrame):
                t += item.duration
                deliver = t
                if self.stall is not None and self.stall[0] <= t < self.stall[1]:
                    deliver = self.stall[1]
                await asyncio.sleep(max(0.0, t0 + deliver - loop.time()))
                item.captured_at = t0 + t  # when it arrived, as the room input records it
            yield item


def new_session() -> tuple[AgentSession, Recorder]:
    session = AgentSession(
        vad=FakeVAD(), stt=FakeSTT(["hello"]), llm=FakeLLM(["Hi there."]), tts=FakeTTS(), user_away_timeout=None
    )
    return session, Recorder(session)


@virtual_time
async def test_latency_counts_from_arrival_when_the_worker_falls_behind() -> None:
    session, rec = new_session()
    out = MemoryAudioOutput()
    # the worker stalls from 1.0 s to 3.0 s: the end of the user's speech (1.7 s) waits in the queue
    await session.start(Agent("hi"), io=SessionIO(audio_input=ScriptedInput(call(), stall=(1.0, 3.0)), audio_output=out))
    await rec.wait_for("metrics_collected:turn_metrics")
    (turn,) = [e.metrics for e in rec.of("metrics_collected") if isinstance(e.metrics, TurnMetrics)]
    (segment,) = out.segments
    user_stopped = 0.5 + 1.2
    waited = segment.start - user_stopped  # what the caller lived through
    assert waited > 1.2  # the stall made them wait
    assert abs(turn.e2e_latency - waited) <= 0.03  # type: ignore[operator]
    assert turn.input_lag is not None and abs(turn.input_lag - 2.0) <= 0.03  # captured at 1.0, read at 3.0
    await session.aclose()


@virtual_time
async def test_a_bad_frame_is_skipped_and_reported_and_the_session_still_hears() -> None:
    session, rec = new_session()
    items = call()
    items.insert(10, "not a frame")
    await session.start(Agent("hi"), io=SessionIO(audio_input=ScriptedInput(items), audio_output=MemoryAudioOutput()))
    await rec.wait_for("metrics_collected:turn_metrics")  # the user was heard and answered
    (error,) = rec.of("error")
    assert error.recoverable and isinstance(error.error, TypeError) and "got a str" not in str(error.error)
    assert "the audio input gave a str, not an AudioFrame" in str(error.error)
    assert not session.closed
    await session.aclose()


@virtual_time
async def test_a_failing_input_closes_the_session_with_the_reason() -> None:
    session, rec = new_session()
    await session.start(Agent("hi"), io=SessionIO(audio_input=ScriptedInput(call(), fail_at=30)))
    await asyncio.wait_for(session.wait_closed(), 10)
    (close,) = rec.of("close")
    assert close.reason is CloseReason.ERROR
    assert isinstance(close.error, AudioInputError)
    assert "the audio input failed: RuntimeError: the microphone driver went away" in str(close.error)


@virtual_time
async def test_frames_that_keep_failing_close_the_session() -> None:
    session, rec = new_session()
    await session.start(Agent("hi"), io=SessionIO(audio_input=ScriptedInput([b"\x00\x01"] * 60)))
    await asyncio.wait_for(session.wait_closed(), 10)
    (close,) = rec.of("close")
    assert close.reason is CloseReason.ERROR
    assert "50 audio frames in a row could not be used" in str(close.error)
    assert len(rec.of("error")) == 2  # the first bad frame (recoverable), then the close (not)
