"""Streaming recognition with PocketSphinx: one worker thread per stream decodes audio as it arrives.

The event loop only resamples (when needed) and queues each frame; the worker thread waits for a
decoder (shared with per-segment recognition), estimates a cepstral mean from the first
``_LIVE_CMN_SECONDS`` of audio, then decodes live with the language model in 20 ms pieces (the
decoder holds the GIL per call) and posts the hypothesis so far as an interim transcript every
``_INTERIM_EVERY`` seconds of audio when it changed. At ``end_input`` it finishes the utterance
and posts the final transcript (see ``PocketSphinxSTT.stream_final``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import AsyncIterator
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from ...errors import ErrorCategory, ProviderError
from ...media.frame import AudioFrame
from ...media.resample import Resampler
from ...providers.stt import (
    EventQueue,
    SpeechAlternative,
    SpeechEvent,
    SpeechEventType,
    STTStream,
    iterate_events,
)
from .sphinx_decoder import SAMPLE_RATE, _Cancelled, _Decoder, decoding_error

logger = logging.getLogger("livekitex_agent.plugins.local")

_LIVE_CMN_SECONDS = 0.3  # audio that sets the live pass's cepstral mean (it starts after it)
_INTERIM_EVERY = 0.1  # seconds of audio between two looks at the hypothesis
_MAX_BACKLOG_SECONDS = 30.0  # audio the worker may fall behind by before the stream fails

Samples = npt.NDArray[np.int16]


class DecoderHost(Protocol):
    """What a stream asks of the :class:`~.sphinx.PocketSphinxSTT` that opened it: its decoders and
    how it decodes (an interface, so this module does not import the STT back)."""

    stream_final: Literal["exact", "live"]
    min_level_dbfs: float

    @property
    def label(self) -> str: ...

    def _acquire(self, cancel: threading.Event) -> _Decoder | None: ...

    def _release(self, decoder: _Decoder, keep: bool) -> None: ...

    def _decode(
        self, decoder: _Decoder, pcm: memoryview, cancel: threading.Event, lm_result: tuple[str, float] | None = None
    ) -> tuple[str, float]: ...

    def _add_comfort_noise(self, audio: AudioFrame) -> bytes: ...

    def _mix_noise(self, samples: Samples, level: float, position: int) -> bytes: ...


class SphinxStream(STTStream):
    """One utterance: ``push_frame`` as it is spoken, ``end_input``, read interims and the final."""

    def __init__(self, stt: DecoderHost) -> None:
        self._stt = stt
        self._loop = asyncio.get_running_loop()
        self._resampler = Resampler(SAMPLE_RATE)
        self._input: queue.SimpleQueue[Samples | None] = queue.SimpleQueue()
        self._queued = 0  # samples queued (written by the loop only)
        self._taken = 0  # samples the worker took (written by the worker only)
        self._ended = False
        self._input_ended = threading.Event()  # end_input was called (the worker may skip ahead)
        self._cancel = threading.Event()
        self._events: EventQueue = asyncio.Queue()
        self._done: asyncio.Future[None] = self._loop.create_future()
        self._thread = threading.Thread(target=self._work, name="pocketsphinx-stream", daemon=True)
        self._thread.start()

    # -- event loop side --------------------------------------------------------------------------
    def push_frame(self, frame: AudioFrame) -> None:
        if self._ended:
            raise RuntimeError("push_frame after end_input")
        resampled = self._resampler.push(frame)  # mono 16 kHz frames pass through untouched
        if resampled is not None:
            self._queue(resampled.data)

    def end_input(self) -> None:
        if self._ended:
            return
        self._ended = True
        tail = self._resampler.flush()
        if tail is not None:
            self._queue(tail.data)
        self._input.put(None)
        self._input_ended.set()

    def _queue(self, samples: Samples) -> None:
        if self._queued - self._taken > _MAX_BACKLOG_SECONDS * SAMPLE_RATE:
            raise ProviderError(
                f"PocketSphinx fell more than {_MAX_BACKLOG_SECONDS:g} s behind the audio",
                provider=self._stt.label,
                retryable=False,
                category=ErrorCategory.SERVER,
            )
        self._queued += samples.size
        self._input.put(samples)  # frames are immutable: no copy

    def __aiter__(self) -> AsyncIterator[SpeechEvent]:
        return iterate_events(self._events)

    async def aclose(self) -> None:
        """Stop the worker (it notices within one 20 ms piece) and wait until it let go of its decoder."""
        self._cancel.set()
        self._input.put(None)
        await asyncio.shield(self._done)

    # -- worker thread ----------------------------------------------------------------------------
    def _post(self, item: SpeechEvent | BaseException | None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is listening
            self._loop.call_soon_threadsafe(self._events.put_nowait, item)

    def _work(self) -> None:
        try:
            decoder = self._stt._acquire(self._cancel)
            if decoder is None:
                return
            keep = True
            try:
                text, confidence, duration = self._decode(decoder)
            except _Cancelled:
                return
            except BaseException:
                keep = False  # an error drops the decoder
                raise
            finally:
                self._stt._release(decoder, keep)
            alt = SpeechAlternative(text, language="en", confidence=confidence, end_time=duration)
            self._post(SpeechEvent(SpeechEventType.FINAL_TRANSCRIPT, [alt], audio_duration=duration))
        except Exception as e:
            logger.exception("pocketsphinx stream failed")
            self._post(decoding_error(self._stt.label, e))
        finally:
            self._post(None)
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(_set_done, self._done)

    def _take(self) -> Samples | None:
        samples = self._input.get()
        if self._cancel.is_set():
            raise _Cancelled
        if samples is not None:
            self._taken += samples.size
        return samples

    def _decode(self, decoder: _Decoder) -> tuple[str, float, float]:
        try:
            return self._decode_live(decoder)
        except _Cancelled:
            decoder.abort()  # the decoder goes back to the pool, ready for its next utterance
            raise

    def _decode_live(self, decoder: _Decoder) -> tuple[str, float, float]:
        """Decode the utterance live, posting interims; returns (text, confidence, seconds) at the end."""
        stt, cancel = self._stt, self._cancel
        chunks: list[Samples] = []
        total = 0  # samples taken
        fed = 0  # samples decoded by the live pass
        energy = 0.0  # sum of squares so far (the comfort noise follows the level so far)
        live = False
        last_look = 0
        shown = ""
        exact = stt.stream_final == "exact"
        while (samples := self._take()) is not None:
            chunks.append(samples)
            total += samples.size
            if exact and self._input_ended.is_set():
                continue  # the final pass decodes it all: interims of what is left would come too late
            as_float = samples.astype(np.float32)
            energy += float(np.dot(as_float, as_float))
            if not live and total < _LIVE_CMN_SECONDS * SAMPLE_RATE:
                continue
            level = (energy / total) ** 0.5
            if not live:  # the first ~0.3 s: its own mean, then the language model from the start
                head = stt._mix_noise(np.concatenate(chunks), level, 0)
                decoder.start(decoder.lm_search, decoder.estimate_cmn(memoryview(head), cancel))
                decoder.feed(memoryview(head), cancel)
                live = True
            else:
                decoder.feed(memoryview(stt._mix_noise(samples, level, fed)), cancel)
            fed = total
            if fed - last_look >= _INTERIM_EVERY * SAMPLE_RATE:
                last_look = fed
                partial = decoder.partial()
                if partial and partial != shown:
                    shown = partial
                    alt = SpeechAlternative(partial, language="en", end_time=fed / SAMPLE_RATE)
                    self._post(
                        SpeechEvent(
                            SpeechEventType.INTERIM_TRANSCRIPT, [alt], audio_duration=fed / SAMPLE_RATE
                        )
                    )
        audio = AudioFrame(np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16), SAMPLE_RATE)
        duration = audio.duration
        live_result = None
        if exact:
            decoder.abort()  # its text is not wanted
        elif live:
            live_result = decoder.finish()
        if duration == 0.0 or audio.rms_dbfs() < stt.min_level_dbfs:
            return "", 0.0, duration
        pcm = memoryview(stt._add_comfort_noise(audio))  # the segment as recognize() sees it
        if not exact:
            if live_result is None:  # shorter than the live pass's head: decode it now
                live_result = decoder.run(decoder.lm_search, pcm, decoder.estimate_cmn(pcm, cancel), cancel)
            text, confidence = stt._decode(decoder, pcm, cancel, (live_result.text, live_result.confidence))
        else:
            text, confidence = stt._decode(decoder, pcm, cancel)
        if cancel.is_set():
            raise _Cancelled
        return text, confidence, duration


def _set_done(done: asyncio.Future[None]) -> None:
    if not done.done():
        done.set_result(None)
