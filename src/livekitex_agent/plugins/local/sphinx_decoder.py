"""One PocketSphinx decoder and its searches (used by one thread at a time)."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...errors import ErrorCategory, ProviderError
from .sphinx_grammar import PhraseGrammar

SAMPLE_RATE = 16000
_CHUNK_BYTES = 640  # 20 ms: the decoder holds the GIL per call, so feed it small pieces
_CMN_PRIOR = 500  # frames of weight pocketsphinx gives a cepstral mean set with set_cmn
_CMN_PIECE = 250  # frames per piece when estimating an utterance's mean (rescaling starts at 300)


class _Cancelled(Exception):
    pass


def decoding_error(provider: str, error: Exception) -> ProviderError:
    """What a failure inside pocketsphinx becomes for the caller."""
    return ProviderError(
        f"pocketsphinx failed: {error}", provider=provider, retryable=False, category=ErrorCategory.SERVER
    )


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
        self.in_utterance = False  # between start and finish
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
        self.start(search, cmn)
        self.feed(pcm, cancel)
        return self.finish()

    # -- one utterance, fed as it arrives (what run does in one go) --------------------------------
    def start(self, search: str, cmn: str) -> None:
        dec = self.dec
        dec.activate_search(search)
        dec.set_cmn(cmn)
        dec.start_utt()
        self.in_utterance = True

    def feed(self, pcm: memoryview, cancel: threading.Event) -> None:
        """Decode more audio of the utterance, in 20 ms pieces (the decoder holds the GIL per call)."""
        dec = self.dec
        for i in range(0, len(pcm), _CHUNK_BYTES):
            if cancel.is_set():
                self.abort()
                raise _Cancelled
            dec.process_raw(pcm[i : i + _CHUNK_BYTES])

    def abort(self) -> None:
        """End the open utterance, if any, dropping its result."""
        if self.in_utterance:
            self.in_utterance = False
            self.dec.end_utt()

    def partial(self) -> str:
        """The best hypothesis of the utterance so far."""
        hyp = self.dec.hyp()
        return "" if hyp is None else str(hyp.hypstr)

    def finish(self) -> _Pass:
        dec = self.dec
        self.in_utterance = False
        dec.end_utt()
        hyp = dec.hyp()
        frames = max(1, int(dec.n_frames()))
        if hyp is None:
            return _Pass("", -math.inf, 0.0)
        score = self._logmath.log(hyp.best_score) / frames if hyp.best_score > 0 else -math.inf
        return _Pass(str(hyp.hypstr), score, float(hyp.prob))
