"""A user's pronunciation dictionary: whole words (or phrases) replaced by how to say them."""

from __future__ import annotations

import re
from collections.abc import Mapping

from ..errors import ConfigError


class Pronunciations:
    """Replace each key of ``words`` by its value where it stands as a whole word or phrase.

    ``Pronunciations({"nginx": "engine x", "SQL": "sequel", "New York": "new york city"})``.
    Matching ignores case unless ``case_sensitive``; the longest entry wins. Use it in a TTS text
    transform chain, e.g. ``Agent(tts_text_transforms=["markdown", "emoji", Pronunciations(...)])``.
    """

    def __init__(self, words: Mapping[str, str], *, case_sensitive: bool = False) -> None:
        if not isinstance(words, Mapping):
            raise ConfigError(f"Pronunciations needs a mapping of word → spoken form, got {type(words).__name__}")
        for key, value in words.items():
            if not isinstance(key, str) or not key.strip() or not isinstance(value, str):
                raise ConfigError(f"Pronunciations entry {key!r}: {value!r} must map a non-empty string to a string")
        self._case_sensitive = case_sensitive
        self._words = {self._key(k.strip()): v for k, v in words.items()}
        alternatives = sorted((re.escape(k.strip()) for k in words), key=len, reverse=True)
        flags = 0 if case_sensitive else re.IGNORECASE
        self._pattern = re.compile(rf"(?<!\w)(?:{'|'.join(alternatives)})(?!\w)", flags) if alternatives else None
        # adjacent word pairs inside phrases: a text stream is never cut between them
        self._pairs: set[tuple[str, str]] = set()
        for key in self._words:
            parts = key.split()
            self._pairs.update(zip(parts, parts[1:], strict=False))

    def _key(self, text: str) -> str:
        text = " ".join(text.split())
        return text if self._case_sensitive else text.lower()

    def __call__(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(lambda m: self._words[self._key(m.group(0))], text)

    def joins(self, left: str, right: str) -> bool:
        """Whether the words ``left`` and ``right`` may be one entry (so a stream must not cut between)."""
        if not self._pairs:
            return False
        return (self._key(left.strip(".,;:!?\"'()")), self._key(right.strip(".,;:!?\"'()"))) in self._pairs

    def __repr__(self) -> str:
        return f"Pronunciations({len(self._words)} entries)"
