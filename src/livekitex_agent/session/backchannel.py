"""Backchannels: "mm-hm", "yeah", "okay" said while the agent speaks are feedback, not interruptions.

Speech over the agent interrupts it when it has at least ``min_interruption_words`` words, or when
any of its words is not a backchannel ("wait", "no, stop" do; "yeah okay" does not). The word
lists are per language (the session's ``language``, default English), replaceable with the
``backchannel_words`` option.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# One entry per spelling an STT may write; multi-word backchannels are covered word by word.
DEFAULT_BACKCHANNELS: dict[str, frozenset[str]] = {
    "en": frozenset(
        [
            "mm",
            "mmm",
            "mhm",
            "mm-hm",
            "mm-hmm",
            "mmhm",
            "mm-mm",
            "hm",
            "hmm",
            "uh-huh",
            "uh",
            "huh",
            "uhhuh",
            "ah",
            "oh",
            "ooh",
            "aha",
            "yeah",
            "yea",
            "yes",
            "yep",
            "yup",
            "ya",
            "okay",
            "ok",
            "k",
            "alright",
            "all",
            "right",
            "sure",
            "right",
            "cool",
            "great",
            "nice",
            "wow",
            "i",
            "see",
            "got",
            "it",
            "gotcha",
            "true",
            "exactly",
            "indeed",
            "totally",
        ]
    ),
    "fr": frozenset(
        [
            "mm",
            "mhm",
            "hum",
            "ah",
            "oh",
            "oui",
            "ouais",
            "ok",
            "okay",
            "d'accord",
            "daccord",
            "voilà",
            "bien",
            "super",
            "exact",
            "c'est",
            "ça",
        ]
    ),
    "de": frozenset(
        [
            "mm",
            "mhm",
            "hm",
            "ah",
            "oh",
            "ja",
            "jo",
            "jawohl",
            "ok",
            "okay",
            "genau",
            "klar",
            "stimmt",
            "gut",
            "super",
            "richtig",
            "aha",
        ]
    ),
    "es": frozenset(
        [
            "mm",
            "mhm",
            "ah",
            "oh",
            "sí",
            "si",
            "vale",
            "ok",
            "okay",
            "claro",
            "bueno",
            "ajá",
            "exacto",
            "genial",
        ]
    ),
}
_WORD = re.compile(r"[^\W\d_]+(?:['-][^\W\d_]+)*", re.UNICODE)


def backchannel_words(language: str | None, custom: Iterable[str] | None = None) -> frozenset[str]:
    """``custom`` (lower-cased), else the default list for ``language`` (English when unknown)."""
    if custom is not None:
        return frozenset(w.lower() for w in custom)
    lang = (language or "en").split("-")[0].split("_")[0].lower()
    return DEFAULT_BACKCHANNELS.get(lang, DEFAULT_BACKCHANNELS["en"])


def interrupts(text: str, *, words: frozenset[str], min_words: int) -> bool:
    """Whether ``text`` said over the agent should stop it (see the module docstring)."""
    tokens = _WORD.findall(text.lower())
    if not tokens:
        return False
    if len(tokens) >= min_words:
        return True
    return any(t not in words for t in tokens)
