"""Offline English speech recognition with PocketSphinx 5 and its bundled en-us model."""

from __future__ import annotations

import asyncio
import logging
import math
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from ...errors import ConfigError, ErrorCategory, ProviderError
from ...media.frame import AudioFrame, combine_frames
from ...media.resample import resample
from ...providers.stt import STT, SpeechAlternative, SpeechEvent, SpeechEventType, STTCapabilities, STTStream
from ...validation import check_int, check_number
from ._deps import require
from .sphinx_decoder import SAMPLE_RATE, _Cancelled, _Decoder, decoding_error
from .sphinx_grammar import PhraseGrammar
from .sphinx_stream import SphinxStream

logger = logging.getLogger("livekitex_agent.plugins.local")

_LANGUAGES = {"en", "en-us", "en_us"}
_NOISE_RELATIVE_DB = -30.0  # comfort noise under the speech (see _add_comfort_noise)


class PocketSphinxSTT(STT):
    """Offline English STT for VAD segments, with the en-us model bundled in ``pocketsphinx``.

    Without ``phrases`` it decodes with the general language model: expect rough transcripts
    (about 50 % word errors on espeak-ng speech; clear human speech in a quiet room does better).
    With ``phrases`` (e.g. the commands of a kiosk) it first decodes with a grammar that allows
    exactly those phrases and returns the matching phrase verbatim (as written in the list). The
    grammar result is accepted only when (1) the grammar search ends on a whole phrase (it returns
    nothing, or a partial path, for most other speech) and (2) its path score per frame beats a free
    phone loop decoded on the same audio by at least ``phrase_margin``: a likelihood-ratio test, as
    forcing unrelated speech through a phrase costs far more than the phone loop. Otherwise the
    segment is decoded again with the full language model. Calibrated on espeak-ng speech (5 voices,
    3 rates): 88/90 phrases exact; none of 16 other sentences forced into a phrase, but sentences
    one word away from a phrase often are (see docs/providers/local.md).

    Each segment is normalized with its own cepstral mean (estimated by a cheap first pass) rather
    than a mean carried over from earlier segments, so sessions sharing the provider do not adapt the
    recognizer to each other (scores still vary slightly with what a decoder heard before).
    Decoding runs in a small pool of threads, one decoder per thread (``max_decoders``; each holds
    ~90 MB). PocketSphinx keeps the GIL while it computes, so audio is fed in 20 ms pieces: the
    event loop stalls at most ~15-30 ms at a time. Creating a decoder takes ~0.3-0.8 s with the GIL
    held: call :meth:`prewarm` at start-up. Measured CPU per second of audio: ~130 ms with the
    language model, ~60 ms when a phrase matches (``bench/local_providers.py``).

    Streaming (``streaming=True``: the session then streams, for interim transcripts; off by default
    because it costs CPU and gains no accuracy; :meth:`stream` works either way): a worker thread per stream decodes
    the audio as it arrives with the language model and sends what it has heard so far as interim
    transcripts (the first ~0.3 s of audio sets the cepstral mean of that pass, so interims are
    rougher than the final). At the end, ``stream_final="exact"`` (the default) decodes the segment
    again as :meth:`recognize` does: the same text on the same audio, up to PocketSphinx's own
    dependence on what a decoder decoded before (29 % word errors per segment, 36 % streamed, on
    the benchmark's espeak-ng sentences); the final comes as soon as with per-segment recognition
    and the stream costs ~2.5x the CPU. ``stream_final="live"`` keeps the live pass's text: the
    final is ready ~10-30 ms after the end of speech instead of ~200-500 ms, at ~1.9x the CPU of
    :meth:`recognize`, but with more word errors (50 %; ``bench/stt_streaming.py``). With
    ``phrases``, the phrase check runs at the end with the segment's own mean in both modes, so
    phrases come back as with :meth:`recognize`. Streams share the ``max_decoders`` decoders with
    :meth:`recognize` (a stream waits for a free one, buffering up to 30 s of audio).

    Limits: English only; a sentence that differs from a phrase by one word may still come back as that phrase (grammar
    recognizers snap to the closest phrase); phrase words must be in the CMU dictionary; exact
    digital silence is masked with seeded comfort noise 30 dB under the speech, because the
    acoustic model mishandles runs of zeros.

    - ``phrases``: the phrases to recognize verbatim when the speech matches one (None: language model only).
    - ``phrase_margin``: how much better per frame (log score) a phrase must fit than a free phone loop.
    - ``max_decoders``: decoder threads shared by every recognition and stream (~90 MB each).
    - ``min_level_dbfs``: audio quieter than this (dBFS) is not decoded as speech.
    - ``stream_final``: ``"exact"``: a stream's final is decoded again like ``recognize``; ``"live"``:
      the live pass's own text (sooner, more word errors).
    - ``streaming``: advertise streaming, so the session streams for interim transcripts.
    """

    def __init__(
        self,
        *,
        phrases: Sequence[str] | None = None,
        phrase_margin: float = 8.0,
        max_decoders: int = 2,
        min_level_dbfs: float = -60.0,
        stream_final: Literal["exact", "live"] = "exact",
        streaming: bool = False,
    ) -> None:
        self._ps: Any = require("pocketsphinx", "pocketsphinx", "PocketSphinxSTT")
        check_int("PocketSphinxSTT max_decoders", max_decoders, minimum=1)
        check_number("PocketSphinxSTT min_level_dbfs", min_level_dbfs, minimum=None)
        if not math.isfinite(phrase_margin):
            raise ConfigError(f"PocketSphinxSTT phrase_margin must be a finite number, got {phrase_margin!r}")
        if stream_final not in ("exact", "live"):
            raise ConfigError(f"PocketSphinxSTT stream_final must be 'exact' or 'live', got {stream_final!r}")
        self.grammar = None if phrases is None else PhraseGrammar.build(phrases, _vocabulary(self._ps))
        self.phrase_margin = phrase_margin
        self.max_decoders = max_decoders
        self.min_level_dbfs = min_level_dbfs
        self.stream_final = stream_final
        self.capabilities = STTCapabilities(streaming=streaming, interim_results=streaming)
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_decoders)  # decoders in use, by recognize or streams
        self._idle: list[_Decoder] = []
        self._executor: ThreadPoolExecutor | None = None
        self._noise = np.random.default_rng(20240611).standard_normal(SAMPLE_RATE * 4).astype(np.float32)

    @property
    def phrases(self) -> tuple[str, ...]:
        return () if self.grammar is None else self.grammar.phrases

    def prewarm(self, count: int = 1) -> None:
        """Create ``count`` decoders now (blocking, ~0.3 s each) so the first segments do not wait."""
        with self._lock:
            missing = min(count, self.max_decoders) - len(self._idle)
        for _ in range(missing):
            decoder = _Decoder(self._ps, self.grammar)
            with self._lock:
                self._idle.append(decoder)

    async def recognize(self, frames: Sequence[AudioFrame], *, language: str | None = None) -> SpeechEvent:
        self._check_language(language)
        audio = _prepare(frames)
        duration = audio.duration
        if duration == 0.0 or audio.rms_dbfs() < self.min_level_dbfs:
            return _event("", 0.0, duration)
        pcm = self._add_comfort_noise(audio)
        cancel = threading.Event()
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._get_executor(), self._job, pcm, cancel)
        try:
            text, confidence = await future
        except asyncio.CancelledError:
            cancel.set()  # the thread stops at its next 20 ms piece and returns its decoder
            raise
        except ProviderError:
            raise
        except Exception as e:
            raise decoding_error(self.label, e) from e
        return _event(text, confidence, duration)

    def stream(self, *, language: str | None = None) -> STTStream:
        """Recognize one utterance as it is spoken: interim transcripts, then the final at ``end_input``."""
        self._check_language(language)
        return SphinxStream(self)

    def _check_language(self, language: str | None) -> None:
        if language is not None and language.lower() not in _LANGUAGES:
            raise ProviderError(
                f"PocketSphinxSTT only recognizes English, got language {language!r}",
                provider=self.label,
                retryable=False,
                category=ErrorCategory.BAD_REQUEST,
            )

    async def aclose(self) -> None:
        """Stop the worker threads; idle decoders go to the process's pool for the next instance."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            idle, self._idle[:] = list(self._idle), []
        _POOL.give(self.grammar, idle)

    # -- worker thread ---------------------------------------------------------------------------
    def _get_executor(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.max_decoders, thread_name_prefix="pocketsphinx")
        return self._executor

    def _job(self, pcm: bytes, cancel: threading.Event) -> tuple[str, float]:
        decoder = self._acquire(cancel)
        if decoder is None:
            return "", 0.0
        ok = False
        try:
            result = self._decode(decoder, memoryview(pcm), cancel)
            ok = True
        finally:
            self._release(decoder, ok)  # an error drops the decoder
        return result

    def _acquire(self, cancel: threading.Event) -> _Decoder | None:
        """A decoder for this thread (waits while ``max_decoders`` are in use); None if cancelled."""
        while not self._slots.acquire(timeout=0.05):
            if cancel.is_set():
                return None
        try:
            with self._lock:
                decoder = self._idle.pop() if self._idle else None
            if decoder is None:
                decoder = _POOL.take(self.grammar)  # one a closed instance left: no load per call
            return decoder if decoder is not None else _Decoder(self._ps, self.grammar)
        except BaseException:
            self._slots.release()
            raise

    def _release(self, decoder: _Decoder, keep: bool) -> None:
        if keep:
            with self._lock:
                self._idle.append(decoder)
        self._slots.release()

    def _decode(
        self,
        decoder: _Decoder,
        pcm: memoryview,
        cancel: threading.Event,
        lm_result: tuple[str, float] | None = None,
    ) -> tuple[str, float]:
        """The segment's text and confidence: a phrase if one matches, else the language model's
        text (``lm_result`` when the caller already has it, e.g. from a live pass)."""
        if lm_result is not None and self.grammar is None:
            return lm_result
        try:
            # each utterance is normalized with its own cepstral mean, not one carried over from
            # earlier calls (or other sessions)
            cmn = decoder.estimate_cmn(pcm, cancel)
            if self.grammar is not None:
                grammar_pass = decoder.run("phrases", pcm, cmn, cancel)
                phrase = self.grammar.match(grammar_pass.text)
                if phrase is not None:
                    phones = decoder.run("phones", pcm, cmn, cancel)
                    margin = grammar_pass.score - phones.score
                    if margin >= self.phrase_margin:
                        logger.debug("phrase %r matched (margin %.1f)", phrase, margin)
                        return phrase, grammar_pass.confidence
                    logger.debug("phrase %r rejected: margin %.1f < %.1f", phrase, margin, self.phrase_margin)
                else:
                    logger.debug("grammar did not complete a phrase (got %r)", grammar_pass.text)
            if lm_result is not None:
                return lm_result
            result = decoder.run(decoder.lm_search, pcm, cmn, cancel)
            return result.text, result.confidence
        except _Cancelled:
            return "", 0.0

    def _add_comfort_noise(self, audio: AudioFrame) -> bytes:
        """Quiet noise 30 dB under the segment's level: exact-zero stretches (synthetic or gated audio)
        otherwise wreck the acoustic model's features. Seeded, so results are reproducible."""
        level = 10.0 ** (audio.rms_dbfs() / 20.0) * 32768.0
        return self._mix_noise(audio.data, level, 0)

    def _mix_noise(self, samples: npt.NDArray[np.int16], level: float, position: int) -> bytes:
        """``samples`` plus the seeded noise (from ``position`` in it) at ``level`` - 30 dB, as PCM16 bytes."""
        n = samples.size
        start = position % self._noise.size
        reps = -(-(start + n) // self._noise.size)
        noise = np.tile(self._noise, reps)[start : start + n] if reps > 1 else self._noise[start : start + n]
        mixed = samples.astype(np.float32) + noise * (level * 10.0 ** (_NOISE_RELATIVE_DB / 20.0))
        return np.clip(mixed, -32768, 32767).astype("<i2").tobytes()


def _prepare(frames: Sequence[AudioFrame]) -> AudioFrame:
    frames = [f for f in frames if f.samples_per_channel]
    if not frames:
        return AudioFrame(np.zeros(0, dtype=np.int16), SAMPLE_RATE)
    frames = [f.to_mono() for f in frames]
    rates = {f.sample_rate for f in frames}
    if len(rates) > 1:
        frames = [resample(f, SAMPLE_RATE) for f in frames]
    return resample(combine_frames(frames), SAMPLE_RATE)


class _DecoderPool:
    """Idle decoders of the whole process, by grammar: a decoder takes ~0.3-0.7 s (under the GIL) and
    tens of MB to load, so an STT built per call reuses the ones earlier calls' STTs left behind."""

    MAX_IDLE = 4  # per grammar

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: dict[tuple[str, ...] | None, list[_Decoder]] = {}

    @staticmethod
    def _key(grammar: PhraseGrammar | None) -> tuple[str, ...] | None:
        return None if grammar is None else grammar.phrases

    def take(self, grammar: PhraseGrammar | None) -> _Decoder | None:
        with self._lock:
            idle = self._idle.get(self._key(grammar))
            return idle.pop() if idle else None

    def give(self, grammar: PhraseGrammar | None, decoders: list[_Decoder]) -> None:
        with self._lock:
            idle = self._idle.setdefault(self._key(grammar), [])
            idle.extend(decoders[: max(0, self.MAX_IDLE - len(idle))])


_POOL = _DecoderPool()


def _event(text: str, confidence: float, duration: float) -> SpeechEvent:
    alt = SpeechAlternative(
        text=text, language="en", confidence=confidence, start_time=0.0, end_time=duration
    )
    return SpeechEvent(SpeechEventType.FINAL_TRANSCRIPT, alternatives=[alt], audio_duration=duration)


_VOCABULARY: frozenset[str] | None = None


def _vocabulary(ps: Any) -> frozenset[str]:
    """Words of the bundled CMU dictionary (read once per process, ~0.1 s)."""
    global _VOCABULARY
    if _VOCABULARY is None:
        words: set[str] = set()
        with open(ps.get_model_path("en-us/cmudict-en-us.dict"), encoding="utf-8") as f:
            for line in f:
                word = line.split(" ", 1)[0]
                words.add(word.split("(", 1)[0])
        _VOCABULARY = frozenset(words)
    return _VOCABULARY
