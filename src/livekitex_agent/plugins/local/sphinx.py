"""Offline English speech recognition with PocketSphinx 5 and its bundled en-us model."""

from __future__ import annotations

import asyncio
import logging
import math
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...errors import ConfigError, ErrorCategory, ProviderError
from ...media.frame import AudioFrame, combine_frames
from ...media.resample import resample
from ...providers.stt import STT, SpeechAlternative, SpeechEvent, SpeechEventType
from ._deps import require
from .sphinx_grammar import PhraseGrammar

logger = logging.getLogger("livekitex_agent.plugins.local")

SAMPLE_RATE = 16000
_CHUNK_BYTES = 640  # 20 ms: the decoder holds the GIL per call, so feed it small pieces
_LANGUAGES = {"en", "en-us", "en_us"}
_CMN_PRIOR = 500  # frames of weight pocketsphinx gives a cepstral mean set with set_cmn
_CMN_PIECE = 250  # frames per piece when estimating an utterance's mean (rescaling starts at 300)
_NOISE_RELATIVE_DB = -30.0  # comfort noise under the speech (see _add_comfort_noise)


class _Cancelled(Exception):
    pass


@dataclass
class _Pass:
    text: str
    score: float  # path score per frame (pocketsphinx log units); -inf without a hypothesis
    confidence: float


class _Decoder:
    """One pocketsphinx decoder with its searches: the language model, and the phrase grammar plus
    a free phone loop when phrases are set. Used by one thread at a time."""

    def __init__(self, ps: Any, grammar: PhraseGrammar | None) -> None:
        # fwdflat re-decodes the whole utterance inside end_utt (one long GIL hold) and buys little;
        # remove_noise keeps noise statistics from one utterance to the next, so the same audio
        # would decode differently depending on what the decoder heard before; maxhmmpf 3000 halves
        # the language-model search time at no measured cost in accuracy (30k by default)
        self.dec = ps.Decoder(loglevel="FATAL", fwdflat=False, remove_noise=False, maxhmmpf=3000)
        self.lm_search = str(self.dec.current_search())
        if grammar is not None:
            self.dec.add_jsgf_string("phrases", grammar.jsgf())
            self.dec.add_allphone_file("phones", ps.get_model_path("en-us/en-us-phone.lm.bin"))
        # a one-word grammar: the cheapest search, for the feature-only pass of estimate_cmn
        self.dec.add_jsgf_string("cmn", "#JSGF V1.0;\ngrammar cmn;\npublic <w> = a;\n")
        self._cmn_size = len(str(self.dec.get_cmn()).split(","))
        self._logmath = self.dec.get_logmath()

    def estimate_cmn(self, pcm: memoryview, cancel: threading.Event) -> str:
        """The cepstral mean of this utterance (what batch CMN would use), from a cheap pass.

        The decoder's live CMN blends a prior (weight ``_CMN_PRIOR`` frames) with the frames seen;
        starting from a zero prior, the utterance's own mean is ``live * (prior + n) / n``. Pieces
        stay under ``_CMN_PIECE`` frames, below the point where the live estimate rescales itself.
        """
        dec = self.dec
        dec.activate_search("cmn")
        zero = ",".join(["0"] * self._cmn_size)
        total = np.zeros(self._cmn_size)
        frames = 0
        piece = _CMN_PIECE * 160 * 2  # frames of 10 ms at 16 kHz, in bytes
        for start in range(0, len(pcm), piece):
            dec.set_cmn(zero)
            dec.start_utt()
            for i in range(start, min(start + piece, len(pcm)), _CHUNK_BYTES):
                if cancel.is_set():
                    dec.end_utt()
                    raise _Cancelled
                dec.process_raw(pcm[i : min(i + _CHUNK_BYTES, start + piece)])
            live = np.array([float(x) for x in str(dec.get_cmn(True)).split(",")])
            dec.end_utt()
            n = int(dec.n_frames())
            if n > 0:
                total += live * (_CMN_PRIOR + n)
                frames += n
        if frames == 0:
            return zero
        return ",".join(f"{x:.4f}" for x in total / frames)

    def run(self, search: str, pcm: memoryview, cmn: str, cancel: threading.Event) -> _Pass:
        """Decode ``pcm`` (16 kHz PCM16 bytes) with ``search``, starting from cepstral mean ``cmn``."""
        dec = self.dec
        dec.activate_search(search)
        dec.set_cmn(cmn)
        dec.start_utt()
        for i in range(0, len(pcm), _CHUNK_BYTES):
            if cancel.is_set():
                dec.end_utt()
                raise _Cancelled
            dec.process_raw(pcm[i : i + _CHUNK_BYTES])
        dec.end_utt()
        hyp = dec.hyp()
        frames = max(1, int(dec.n_frames()))
        if hyp is None:
            return _Pass("", -math.inf, 0.0)
        score = self._logmath.log(hyp.best_score) / frames if hyp.best_score > 0 else -math.inf
        return _Pass(str(hyp.hypstr), score, float(hyp.prob))


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

    Limits: English only; the whole segment is decoded after it ends (no interim results); a
    sentence that differs from a phrase by one word may still come back as that phrase (grammar
    recognizers snap to the closest phrase); phrase words must be in the CMU dictionary; exact
    digital silence is masked with seeded comfort noise 30 dB under the speech, because the
    acoustic model mishandles runs of zeros.
    """

    def __init__(
        self,
        *,
        phrases: Sequence[str] | None = None,
        phrase_margin: float = 8.0,
        max_decoders: int = 2,
        min_level_dbfs: float = -60.0,
    ) -> None:
        self._ps: Any = require("pocketsphinx", "pocketsphinx", "PocketSphinxSTT")
        if max_decoders < 1:
            raise ConfigError(f"PocketSphinxSTT max_decoders must be >= 1, got {max_decoders!r}")
        if not math.isfinite(phrase_margin):
            raise ConfigError(f"PocketSphinxSTT phrase_margin must be a finite number, got {phrase_margin!r}")
        self.grammar = None if phrases is None else PhraseGrammar.build(phrases, _vocabulary(self._ps))
        self.phrase_margin = phrase_margin
        self.max_decoders = max_decoders
        self.min_level_dbfs = min_level_dbfs
        self._lock = threading.Lock()
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
        if language is not None and language.lower() not in _LANGUAGES:
            raise ProviderError(
                f"PocketSphinxSTT only recognizes English, got language {language!r}",
                provider=self.label,
                retryable=False,
                category=ErrorCategory.BAD_REQUEST,
            )
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
            raise ProviderError(
                f"pocketsphinx failed: {e}",
                provider=self.label,
                retryable=False,
                category=ErrorCategory.SERVER,
            ) from e
        return _event(text, confidence, duration)

    async def aclose(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            self._idle.clear()

    # -- worker thread ---------------------------------------------------------------------------
    def _get_executor(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.max_decoders, thread_name_prefix="pocketsphinx")
        return self._executor

    def _job(self, pcm: bytes, cancel: threading.Event) -> tuple[str, float]:
        with self._lock:
            decoder = self._idle.pop() if self._idle else None
        if decoder is None:
            decoder = _Decoder(self._ps, self.grammar)
        result = self._decode(decoder, memoryview(pcm), cancel)  # an error drops the decoder
        with self._lock:
            self._idle.append(decoder)
        return result

    def _decode(self, decoder: _Decoder, pcm: memoryview, cancel: threading.Event) -> tuple[str, float]:
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
            result = decoder.run(decoder.lm_search, pcm, cmn, cancel)
            return result.text, result.confidence
        except _Cancelled:
            return "", 0.0

    def _add_comfort_noise(self, audio: AudioFrame) -> bytes:
        """Quiet noise 30 dB under the segment's level: exact-zero stretches (synthetic or gated audio)
        otherwise wreck the acoustic model's features. Seeded, so results are reproducible."""
        level = 10.0 ** (audio.rms_dbfs() / 20.0) * 32768.0
        n = audio.samples_per_channel
        reps = -(-n // self._noise.size)
        noise = np.tile(self._noise, reps)[:n] if reps > 1 else self._noise[:n]
        mixed = audio.data.astype(np.float32) + noise * (level * 10.0 ** (_NOISE_RELATIVE_DB / 20.0))
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
