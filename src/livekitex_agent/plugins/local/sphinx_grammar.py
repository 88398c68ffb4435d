"""The phrase list of :class:`PocketSphinxSTT` as a JSGF grammar (pure code, no decoder needed)."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from ...errors import ConfigError

_WORD_RE = re.compile(r"[a-z0-9']+")


def normalize(text: str) -> str:
    """Lower-case words separated by single spaces; punctuation other than apostrophes is dropped."""
    return " ".join(w.strip("'") for w in _WORD_RE.findall(text.lower()) if w.strip("'"))


@dataclass(frozen=True)
class PhraseGrammar:
    """Phrases as given (returned verbatim on a match) and their normalized word sequences."""

    phrases: tuple[str, ...]
    normalized: tuple[str, ...]

    @classmethod
    def build(cls, phrases: Sequence[str], vocabulary: Collection[str]) -> PhraseGrammar:
        """Validate ``phrases`` against the recognizer's ``vocabulary``; duplicates keep the first."""
        if isinstance(phrases, str):
            raise ConfigError(f"phrases must be a list of strings, got the string {phrases!r}")
        kept: list[str] = []
        norms: list[str] = []
        for phrase in phrases:
            if not isinstance(phrase, str):
                raise ConfigError(f"phrases must be strings, got {phrase!r}")
            norm = normalize(phrase)
            if not norm:
                raise ConfigError(f"phrase {phrase!r} has no words")
            unknown = [w for w in norm.split() if w not in vocabulary]
            if unknown:
                raise ConfigError(
                    f"phrase {phrase!r}: {', '.join(repr(w) for w in unknown)} not in the pocketsphinx "
                    "dictionary (write numbers and symbols as words, e.g. 'seven' for '7')"
                )
            if norm not in norms:
                kept.append(phrase.strip())
                norms.append(norm)
        if not kept:
            raise ConfigError("phrases must not be empty (pass None to use the full language model)")
        return cls(tuple(kept), tuple(norms))

    def jsgf(self, name: str = "phrases") -> str:
        """A JSGF grammar whose public rule is one of the phrases.

        Words are bare tokens (the pocketsphinx JSGF parser rejects quoted ones); :func:`normalize`
        guarantees they hold only ``[a-z0-9']``.
        """
        alternatives = " | ".join(f"( {n} )" for n in self.normalized)
        return f"#JSGF V1.0;\ngrammar {name};\npublic <phrase> = {alternatives};\n"

    def match(self, hypothesis: str | None) -> str | None:
        """The phrase (as given) that ``hypothesis`` spells out completely, else ``None``."""
        if not hypothesis:
            return None
        norm = normalize(hypothesis)
        for given, n in zip(self.phrases, self.normalized, strict=True):
            if n == norm:
                return given
        return None
