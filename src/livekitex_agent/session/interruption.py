"""Barge-in: user speech long enough holds the agent; words confirm the interruption, silence resumes.

When the user has spoken for ``min_interruption_duration`` over an interruptible speech, its audio
is paused at once (within a frame). If the speech segment yields a transcript (or, with a streaming
STT, as soon as an interim transcript has words, while the user is still speaking), the interruption
is confirmed: the speech is cancelled and cut to what was heard. If it yields no words (a cough, a
door), only a backchannel ("mm-hm", "yeah": see ``backchannel``), or none within
``false_interruption_timeout`` after the user stopped, the agent resumes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from ..media.io import AudioOutput
from .backchannel import backchannel_words, interrupts
from .options import SessionOptions
from .speech import SpeechHandle

logger = logging.getLogger("livekitex_agent.session")


class InterruptionController:
    def __init__(
        self,
        *,
        options: SessionOptions,
        current_speech: Callable[[], SpeechHandle | None],
        audio_output: Callable[[], AudioOutput | None],
        interrupt: Callable[[], None],
        language: str | None = None,
    ) -> None:
        self._options = options
        self._backchannels = backchannel_words(language, options.backchannel_words)
        self._current_speech = current_speech
        self._audio_output = audio_output
        self._interrupt = interrupt
        self._held: SpeechHandle | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.false_interruptions = 0

    def on_speech_progress(self, speech_duration: float) -> None:
        if self._held is not None or speech_duration < self._options.min_interruption_duration:
            return
        speech = self._current_speech()
        if speech is None or speech.done() or not speech.allow_interruptions:
            return
        self._held = speech
        if self._options.false_interruption_timeout is None:
            self._confirm()
            return
        out = self._audio_output()
        if out is not None:
            out.pause()
        logger.debug("user speech over %s: holding", speech.id)

    def on_speech_started(self) -> None:
        self._cancel_timer()

    def on_speech_ended(self) -> None:
        if self._held is None or self._options.false_interruption_timeout is None:
            return
        self._cancel_timer()
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self._options.false_interruption_timeout, self._resume)

    def interrupts(self, text: str) -> bool:
        """Whether ``text`` said over the agent stops it (not empty, not only a backchannel)."""
        return interrupts(text, words=self._backchannels, min_words=self._options.min_interruption_words)

    def on_interim_transcript(self, text: str) -> None:
        """Words heard before the segment's end confirm at once: no need to wait for the final."""
        if self._held is not None and self.interrupts(text):
            self._confirm()

    def on_segment_transcribed(self, text: str) -> None:
        if self._held is None:
            return
        if self.interrupts(text):
            self._confirm()
        else:
            self._resume()

    def _confirm(self) -> None:
        self._cancel_timer()
        held, self._held = self._held, None
        if held is not None and not held.done():
            logger.debug("interruption of %s confirmed", held.id)
            self._interrupt()

    def _resume(self) -> None:
        self._cancel_timer()
        held, self._held = self._held, None
        if held is None:
            return
        self.false_interruptions += 1
        logger.info("false interruption of %s: resuming", held.id)
        out = self._audio_output()
        if out is not None:
            out.resume()

    def reset(self) -> None:
        """The held speech ended by itself: nothing to resume."""
        self._cancel_timer()
        if self._held is not None:
            out = self._audio_output()
            if out is not None:
                out.resume()
        self._held = None

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
