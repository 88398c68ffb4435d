"""The simulated caller: speaks each scripted line, then waits for the agent's answer to end.

A real caller does not talk over the agent: after each line the caller waits until the agent has
finished its reply (its state went back to ``listening`` after thinking or speaking), pauses
briefly, and says the next line. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from ..media.frame import AudioFrame
from ..plugins.local import synthesize_to_frame
from .record import CallRecorder
from .script import CALLER_RATE, CALLER_VOICE, ScriptLine

CALLER_SAMPLE_RATE = 16000
PAUSE_BEFORE_SPEAKING = 0.6  # seconds of polite silence after the agent finishes


class ReplyTracker:
    """Counts the agent's finished replies from its state: ``thinking``/``speaking`` → ``listening``."""

    def __init__(self) -> None:
        self.count = 0
        self._last = "initializing"
        self._changed = asyncio.Event()

    def on_state(self, state: str) -> None:
        if state == "listening" and self._last in ("thinking", "speaking"):
            self.count += 1
            self._changed.set()
        self._last = state

    async def wait_for(self, count: int, timeout: float) -> bool:
        """Wait until ``count`` replies have finished; False after ``timeout`` seconds."""
        try:
            async with asyncio.timeout(timeout):
                while self.count < count:
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            return False
        return True


class CallerLine(Protocol):
    """The caller's side of the phone line, whatever carries it (memory or a LiveKit room)."""

    replies: ReplyTracker

    async def say(self, clip: AudioFrame) -> None:
        """Speak ``clip`` into the line; returns once all of it has been sent."""

    async def hang_up(self) -> None: ...


class CallTransport(CallerLine, Protocol):
    """Carries the call: starts the agent's session and gives the caller a line."""

    name: str

    async def prepare(self, view: Any) -> None:
        """Slow set-up before the call (e.g. start a server); ``view.message`` reports progress."""

    async def open(self, make_session: Callable[[], Any], make_agent: Callable[[], Any]) -> None:
        """Start the agent's session and connect the caller."""

    async def aclose(self) -> None:
        """End the call (bounded waits), stop everything started, hand the audio to the recorder."""


async def synthesize_lines(script: Sequence[ScriptLine]) -> list[AudioFrame]:
    """The caller's lines in the caller's voice (espeak-ng), at the caller's sample rate."""
    return list(
        await asyncio.gather(
            *(
                synthesize_to_frame(
                    line.text, voice=CALLER_VOICE, rate=CALLER_RATE, sample_rate=CALLER_SAMPLE_RATE
                )
                for line in script
            )
        )
    )


async def run_caller(
    line: CallerLine,
    recorder: CallRecorder,
    clips: Sequence[AudioFrame],
    *,
    reply_timeout: float = 30.0,
    pause: float = PAUSE_BEFORE_SPEAKING,
) -> None:
    """Wait for the greeting, say every scripted line (waiting for each answer), then hang up."""
    if await line.replies.wait_for(1, reply_timeout):
        recorder.reply_finished()
    else:
        recorder.note("error", f"the agent did not greet within {reply_timeout:.0f} s; speaking anyway")
    for index, (script_line, clip) in enumerate(zip(recorder.script, clips, strict=True), start=1):
        await asyncio.sleep(pause)
        before = line.replies.count
        recorder.begin_request(index, script_line)
        await line.say(clip)
        if await line.replies.wait_for(before + 1, reply_timeout):
            recorder.reply_finished()
        else:
            recorder.note("error", f"no answer to request {index} within {reply_timeout:.0f} s")
    await asyncio.sleep(pause)
    recorder.note("info", "the caller hangs up")
    await line.hang_up()
