"""The demo over in-memory I/O: no server, the caller speaks straight into the session's input."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from ..agent import Agent
from ..media.frame import AudioFrame
from ..rooms.memory import MemoryIO
from ..session import AgentSession
from .caller import CALLER_SAMPLE_RATE, ReplyTracker
from .record import CallRecorder

logger = logging.getLogger("livekitex_agent.demo")

AGENT_SAMPLE_RATE = 24000
CLOSE_TIMEOUT = 10.0


class MemoryCall:
    """Caller and agent joined by a :class:`MemoryIO` on the real clock (the providers are real)."""

    name = "in-memory I/O (no LiveKit server)"

    def __init__(self, recorder: CallRecorder) -> None:
        self.recorder = recorder
        self.replies = ReplyTracker()
        self.io = MemoryIO(input_sample_rate=CALLER_SAMPLE_RATE, output_sample_rate=AGENT_SAMPLE_RATE)
        self.session: AgentSession | None = None

    async def prepare(self, view: Any) -> None:
        """Nothing to start: the in-memory line is ready at once."""

    async def open(self, make_session: Callable[[], AgentSession], make_agent: Callable[[], Agent]) -> None:
        session = self.session = make_session()
        self.recorder.attach(session)
        session.on("agent_state_changed", lambda e: self.replies.on_state(str(e.new_state)))
        await session.start(make_agent(), io=self.io)

    async def say(self, clip: AudioFrame) -> None:
        self.io.push_audio(clip)
        await self.io.audio_input.wait_until_played()

    async def hang_up(self) -> None:
        self.io.end_input()  # the session closes itself once the input has ended and it is quiet

    async def aclose(self) -> None:
        """Wait (bounded) for the session to close after the hang-up, then keep its recording."""
        session = self.session
        if session is not None:
            try:
                await asyncio.wait_for(session.wait_closed(), CLOSE_TIMEOUT)
            except TimeoutError:
                logger.warning(
                    "the session did not close %.0f s after the hang-up: closing it", CLOSE_TIMEOUT
                )
            await session.aclose()
            self.recorder.session_report = session.report()
