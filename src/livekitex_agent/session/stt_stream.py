"""One VAD segment recognized by a streaming STT: audio in as it arrives, interims out, one final.

:class:`AudioRecognition` opens a :class:`StreamedSegment` at START_OF_SPEECH, pushes the segment's
audio frame by frame (synchronous, no copies when the STT takes the VAD's rate), calls ``end`` at
END_OF_SPEECH and awaits ``result`` in its segment task. A stream that breaks (at open, push,
``end_input``, while reading, or no final within the STT's retry timeout after the end) makes
``result`` raise :class:`StreamFailed`; the caller then recognizes the segment's frames per segment.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from ..errors import ErrorCategory, ProviderError
from ..media.frame import AudioFrame
from ..media.resample import Resampler
from ..providers.stt import STT, SpeechEventType, STTStream

logger = logging.getLogger("livekitex_agent.session")

_DEFAULT_FINAL_TIMEOUT = 15.0


class StreamFailed(Exception):
    """The STT stream of a segment broke; ``__cause__`` is the provider's error."""


class StreamedSegment:
    """Feeds one speech segment to ``stt.stream()`` and collects its transcripts.

    ``on_interim(text)`` gets the segment's text so far (earlier finals of the segment + the current
    interim) each time it changes; ``result()`` returns the segment's final text (finals joined).
    """

    def __init__(
        self,
        stt: STT,
        *,
        language: str | None,
        on_interim: Callable[[str], None],
    ) -> None:
        self._stt = stt
        self._on_interim = on_interim
        self._loop = asyncio.get_running_loop()
        rate = stt.sample_rate
        self._resampler = Resampler(rate) if rate is not None else None
        self._error: BaseException | None = None
        self._stream: STTStream | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._finals: list[str] = []
        self.opened_at = self._loop.time()
        self.ended_at: float | None = None
        self.audio_duration = 0.0  # seconds pushed to the stream
        self._frames: asyncio.Future[tuple[AudioFrame, ...]] = self._loop.create_future()
        try:
            self._stream = stt.stream(language=language)
        except Exception as e:  # a provider bug or a refused connection: recognize per segment instead
            self._error = e
        self._reader: asyncio.Task[str] | None = (
            self._loop.create_task(self._read(self._stream), name="stt-stream-reader")
            if self._stream is not None
            else None
        )

    @property
    def failed(self) -> bool:
        return self._error is not None

    # -- what AudioRecognition calls --------------------------------------------------------------
    def push(self, frame: AudioFrame) -> None:
        stream = self._stream
        if stream is None or self._error is not None:
            return
        if self._resampler is not None:
            resampled = self._resampler.push(frame)  # the same frame back when the rates match
            if resampled is None:
                return
            frame = resampled
        self.audio_duration += frame.duration
        try:
            stream.push_frame(frame)
        except Exception as e:
            self._fail(e)

    def end(self, frames: tuple[AudioFrame, ...]) -> None:
        """END_OF_SPEECH: ``frames`` is the segment's audio (kept for a per-segment fallback)."""
        if self.ended_at is not None:
            return
        self.ended_at = self._loop.time()
        self._frames.set_result(frames)
        stream, reader = self._stream, self._reader
        if stream is None or reader is None or reader.done() or self._error is not None:
            return  # no stream, a broken one, or one that already gave all it had
        try:
            tail = self._resampler.flush() if self._resampler is not None else None
            if tail is not None:
                self.audio_duration += tail.duration
                stream.push_frame(tail)
            stream.end_input()
        except Exception as e:
            self._fail(e)
            return
        policy_timeout = self._stt.retry_policy.timeout
        timeout = policy_timeout if policy_timeout is not None else _DEFAULT_FINAL_TIMEOUT
        self._deadline = self._loop.call_later(timeout, self._on_deadline, timeout)

    async def result(self) -> str:
        """The segment's final text (may be empty) once it has ended. Raises :class:`StreamFailed`."""
        reader = self._reader
        if reader is not None:
            await asyncio.wait((reader,))
        if self._error is not None:
            raise StreamFailed(str(self._error)) from self._error
        assert reader is not None
        if self.ended_at is None:  # the stream ended before the speech did: its text counts from the end
            await self._frames
        return reader.result()

    async def frames(self) -> tuple[AudioFrame, ...]:
        """The segment's audio, once END_OF_SPEECH delivered it."""
        return await self._frames

    async def aclose(self) -> None:
        """Stop reading and close the stream (idempotent)."""
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        if not self._frames.done():
            self._frames.cancel()
        reader, self._reader = self._reader, None
        if reader is not None and not reader.done():
            reader.cancel()
            await asyncio.wait((reader,))
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                await stream.aclose()
            except Exception:
                logger.exception("closing the %s stream failed", self._stt.label)

    # -- internals --------------------------------------------------------------------------------
    async def _read(self, stream: STTStream) -> str:
        try:
            async for event in stream:
                text = event.text.strip()
                if event.type is SpeechEventType.INTERIM_TRANSCRIPT:
                    if text:
                        self._on_interim(" ".join((*self._finals, text)))
                elif event.type is SpeechEventType.FINAL_TRANSCRIPT and text:
                    self._finals.append(text)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self._fail(e)  # result() raises it as StreamFailed
            return ""
        finally:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None
        if self.ended_at is None and self._error is None:
            # the stream ended before the segment did: keep what it gave, ignore further audio
            logger.debug("%s stream ended before the end of speech", self._stt.label)
        return " ".join(self._finals)

    def _fail(self, error: BaseException) -> None:
        if self._error is not None:
            return
        self._error = error
        reader = self._reader
        if reader is not None and not reader.done() and reader is not asyncio.current_task():
            reader.cancel()  # it may be waiting for events that will never come

    def _on_deadline(self, timeout: float) -> None:
        self._deadline = None
        self._fail(
            ProviderError(
                f"no final transcript within {timeout:g} s after the end of speech",
                provider=self._stt.label,
                retryable=True,
                category=ErrorCategory.TIMEOUT,
            )
        )
