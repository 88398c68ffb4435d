"""Noticing a realtime model that went deaf: the user spoke and stopped, and nothing came back.

A server that stops sending (a stalled connection) right as the user's turn ends sends neither
``speech_stopped`` nor a response, so no response-level stall bound starts. The user's own audio
tells us a turn ended: once the input has gone quiet after loud audio and the model has said nothing
since, a probe (a request with no effect) asks whether the server still answers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from ..media.frame import AudioFrame

logger = logging.getLogger("livekitex_agent.session")

LOUD_PEAK = 1000  # an int16 frame peaking above this (about -30 dBFS) counts as the user's voice
QUIET_AFTER_SPEECH = 0.3  # seconds of quiet input after the voice before the model is checked


class DeafModelWatch:
    """Calls ``on_deaf(since)`` when the model neither said anything after the user's voice went quiet
    (at loop time ``since``) nor answers ``probe(timeout)``. Costs two reductions per input frame."""

    def __init__(
        self, probe: Callable[[float], Awaitable[bool]], *, timeout: float, on_deaf: Callable[[float], None]
    ) -> None:
        self._probe = probe
        self._timeout = timeout
        self._on_deaf = on_deaf
        self._loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = None
        self._probing: asyncio.Task[None] | None = None
        self._heard_at = self._loop.time()
        self.voice_began: float | None = None  # loop time the user's latest voice began
        self.voice_last = 0.0  # loop time of the user's latest loud frame

    def heard(self) -> None:
        """The model sent something: it is alive."""
        self._heard_at = self._loop.time()

    def push(self, t: float, frame: AudioFrame) -> None:
        data = frame.data
        if not data.size or max(int(data.max()), -int(data.min())) < LOUD_PEAK:
            return
        if self.voice_began is None or t - self.voice_last > QUIET_AFTER_SPEECH:
            self.voice_began = t
        self.voice_last = t
        if self._timer is None and self._probing is None:
            self._timer = self._loop.call_at(t + QUIET_AFTER_SPEECH, self._check)

    def replayed(self) -> None:
        """The user's unheard words were sent again (to a new connection): the model must react now."""
        self.voice_last = self._loop.time()
        if self._timer is None and self._probing is None:
            self._timer = self._loop.call_at(self.voice_last + QUIET_AFTER_SPEECH, self._check)

    def _check(self) -> None:
        self._timer = None
        quiet_at = self.voice_last + QUIET_AFTER_SPEECH
        if self._loop.time() < quiet_at:
            self._timer = self._loop.call_at(quiet_at, self._check)  # still speaking
        elif self._heard_at <= self.voice_last:  # nothing from the model since the voice stopped
            self._probing = self._loop.create_task(self._ask(self.voice_last), name="realtime-probe")

    async def _ask(self, since: float) -> None:
        try:
            alive = await self._probe(self._timeout)
        finally:
            self._probing = None
        if not alive and self._heard_at <= since:
            logger.warning("realtime model silent since the user stopped speaking and not answering a probe")
            self._on_deaf(since)

    async def aclose(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._probing is not None:
            self._probing.cancel()
            await asyncio.gather(self._probing, return_exceptions=True)
