"""Splits streamed LLM text into sentences, so speech synthesis can start before the reply is complete."""

from __future__ import annotations

import re

_ABBREVIATIONS = {
    "mr",
    "mrs",
    "ms",
    "dr",
    "prof",
    "sr",
    "jr",
    "st",
    "vs",
    "etc",
    "e.g",
    "i.e",
    "approx",
    "no",
    "mt",
    "ave",
}
_BOUNDARY = re.compile(r"([.!?…]+[\"')\]]*)(\s+)")


class SentenceStream:
    """Push text deltas, get back complete sentences; ``flush`` returns the rest.

    A boundary is sentence punctuation followed by white space, except after a known abbreviation,
    a single initial, or inside a number. Sentences shorter than ``min_length`` are joined to the next.
    """

    def __init__(self, *, min_length: int = 8) -> None:
        self._buf = ""
        self._min_length = min_length

    def push(self, text: str) -> list[str]:
        if not text:
            return []
        self._buf += text
        out: list[str] = []
        start = 0
        for m in _BOUNDARY.finditer(self._buf):
            end = m.end(1)
            candidate = self._buf[start:end].strip()
            if self._is_abbreviation(self._buf[start:end]):
                continue
            if len(candidate) < self._min_length:
                continue
            out.append(candidate)
            start = m.end()
        self._buf = self._buf[start:]
        return out

    def flush(self) -> list[str]:
        rest = self._buf.strip()
        self._buf = ""
        return [rest] if rest else []

    @staticmethod
    def _is_abbreviation(chunk: str) -> bool:
        words = chunk.rstrip().rstrip(".!?…\"')]").split()
        if not words or not chunk.rstrip().endswith("."):
            return False
        last = words[-1].lower().rstrip(".")
        return last in _ABBREVIATIONS or (len(last) == 1 and last.isalpha())
