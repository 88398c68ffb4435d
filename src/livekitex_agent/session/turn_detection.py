"""End of turn from a :class:`TurnDetector`: the turn's audio, when to ask, and what the words say.

With ``turn_detection=<detector>``, :class:`AudioRecognition` ends a VAD segment after the
detector's ``pause_duration`` of silence, and once the segment's transcript is in asks
:class:`DetectorTurns` whether the turn is over. The detector gets the turn's audio (from the
first speech of the turn, with the VAD's prefix padding, at most its ``max_audio_seconds``) and
the transcript so far. With ``transcript_cues``, a transcript that ends on a word that cannot end a
sentence ("for", "and", "my", "is") holds the turn whatever the audio model says. A turn the
detector holds still ends after ``max_pause`` of silence (recognition's timer).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from ..media.frame import AudioFrame
from ..media.resample import resample
from ..providers.turn import TurnDetector

logger = logging.getLogger("livekitex_agent.session")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words after which a sentence rarely ends: articles, possessives, prepositions, conjunctions,
# copulas. Words that often end a sentence in speech are left out ("you", "do", "that", "why",
# "over", "around", "behind", "inside"; "on" is kept though "turn it on" ends on it). Keyed by language prefix ("en" for "en-US");
# other languages get no cue.
UNFINISHED_ENDINGS: dict[str, frozenset[str]] = {
    "en": _words(
        "a an the my your his her its our their this these those some any every "
        "to of for from with without at in on onto into by about as than between through during "
        "before after until towards toward upon via per under beneath underneath against among "
        "amongst beside beyond within across and or but nor because if whether although "
        "though unless is are am was were i'm it's let's very just"
    ),
    "fr": _words(
        "le la les un une des du de à au aux et ou mais donc car si que pour par avec sans dans "
        "sur mon ma mes ton ta tes son sa ses notre votre leur est sont"
    ),
    "de": _words(
        "der die das den dem des ein eine einen einem einer und oder aber weil wenn dass ob zu von "
        "mit für auf bei nach aus um mein meine dein deine sein seine ist sind bin"
    ),
    "es": _words(
        "el la los las un una unos unas de del a al y o pero porque si que para por con sin en "
        "sobre mi mis tu tus su sus es son está están"
    ),
}
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?", re.UNICODE)


def transcript_unfinished(text: str, language: str | None) -> bool:
    """True when ``text`` ends on a word that cannot end a sentence in ``language`` (default English)."""
    stripped = text.rstrip()
    if not stripped or stripped[-1] in ".?!":
        return False  # the STT punctuated a sentence end
    words = _WORD.findall(stripped.lower())
    if not words:
        return False
    lang = (language or "en").split("-")[0].split("_")[0].lower()
    return words[-1] in UNFINISHED_ENDINGS.get(lang, frozenset())


class TurnAudio:
    """The last ``seconds`` of input audio (VAD rate, int16), and where the current turn began."""

    def __init__(self, sample_rate: int, seconds: float) -> None:
        self.sample_rate = sample_rate
        self._buf = np.zeros(round(sample_rate * seconds), dtype=np.int16)
        self._written = 0  # samples written since the start
        self._turn_start: int | None = None

    def push(self, data: npt.NDArray[np.int16]) -> None:
        size = self._buf.size
        n = data.size
        if n >= size:  # sample i lives at i % size: the last ``size`` samples, rotated
            pos = (self._written + n) % size
            tail = data[-size:]
            self._buf[pos:] = tail[: size - pos]
            self._buf[:pos] = tail[size - pos :]
            self._written += n
            return
        pos = self._written % size
        first = min(n, size - pos)
        self._buf[pos : pos + first] = data[:first]
        if first < n:
            self._buf[: n - first] = data[first:]
        self._written += n

    def start_turn(self, seconds_before: float) -> None:
        """The turn's first speech began ``seconds_before`` now (no-op while a turn is open)."""
        if self._turn_start is None:
            self._turn_start = max(0, self._written - round(seconds_before * self.sample_rate))

    def end_turn(self) -> None:
        self._turn_start = None

    def turn_audio(self, rate: int) -> npt.NDArray[np.float32]:
        """The open turn's audio up to now (at most the buffer's length), float32 at ``rate``."""
        size = self._buf.size
        start = self._written - size if self._turn_start is None else self._turn_start
        n = min(size, self._written - max(0, start))
        pos = self._written % size
        audio = np.empty(n, dtype=np.int16)  # two slices of the ring (runs on the loop: no fancy indexing)
        head = min(n, pos)
        audio[n - head :] = self._buf[pos - head : pos]
        if n > head:
            audio[: n - head] = self._buf[size - (n - head) :]
        if self.sample_rate != rate:
            audio = resample(AudioFrame(audio, self.sample_rate), rate).data
        return np.multiply(audio, np.float32(1 / 32768), dtype=np.float32)


class DetectorTurns:
    """Asks the detector once per pause; calls ``on_complete()`` when it says the turn is over."""

    def __init__(
        self,
        detector: TurnDetector,
        *,
        sample_rate: int,
        language: str | None,
        on_complete: Callable[[], None],
        on_error: Callable[[BaseException], None],
    ) -> None:
        self.detector = detector
        self._language = language
        self._on_complete = on_complete
        self._on_error = on_error
        self.audio = TurnAudio(sample_rate, detector.max_audio_seconds)
        self._task: asyncio.Task[None] | None = None
        self.asked = False  # asked during the current pause

    def ask(self, transcript: str) -> None:
        """The user paused and the transcript is in: ask the detector (once per pause)."""
        if self.asked:
            return
        self.asked = True
        if self.detector.transcript_cues and transcript_unfinished(transcript, self._language):
            logger.debug("turn held: %r does not end a sentence", transcript[-40:])
            return
        audio = self.audio.turn_audio(self.detector.sample_rate)
        self._task = asyncio.get_running_loop().create_task(
            self._ask(audio, transcript), name="turn-detector"
        )

    async def _ask(self, audio: npt.NDArray[np.float32], transcript: str) -> None:
        try:
            p = await self.detector.predict_end_of_turn(audio, transcript, language=self._language)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # the turn still ends after max_pause; the hook reports the error
            self._on_error(e)
            return
        finally:
            self._task = None
        logger.debug("end of turn p=%.3f for %r", p, transcript[-40:])
        if p >= self.detector.threshold:
            self._on_complete()

    def cancel(self) -> None:
        """The user speaks again (or the turn ended): forget the pending question."""
        self.asked = False
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
