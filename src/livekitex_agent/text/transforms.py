"""TTS text transforms: what the TTS hears instead of the text the LLM wrote.

A transform is a function ``str -> str`` or the name of a built-in one:

- ``"markdown"``: markup removed (``**bold**`` → bold, ``# heading`` → heading, list bullets,
  links → their text, code spans, tables);
- ``"emoji"``: emoji removed;
- ``"numbers"``, ``"currency"``, ``"dates"``, ``"times"``, ``"phone_numbers"``, ``"emails"``,
  ``"urls"``: written as a person would say them in the session's language (``"spoken_forms"``
  is all seven);
- a :class:`~.pronunciation.Pronunciations` dictionary (a function like any other).

:class:`TextTransformChain` applies a list of them in order; :meth:`TextTransformChain.stream`
applies it to text that arrives in chunks, cutting only where no number, amount, time, phone
number, URL, link or dictionary phrase can be split.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator, Callable, Sequence
from typing import Any, Union

from ..errors import ConfigError
from .english import English  # noqa: F401 - registers English
from .language import spoken_language
from .markdown import strip_emoji, strip_markdown
from .spoken import KINDS, speak

TextTransform = Callable[[str], str]
TextTransformLike = Union[str, TextTransform]  # noqa: UP007 - a runtime alias

DEFAULT_TTS_TEXT_TRANSFORMS: tuple[TextTransformLike, ...] = ("markdown", "emoji")
"""What the TTS hears by default: the LLM's text without markdown and emoji."""

SPOKEN_FORMS = "spoken_forms"
_SIMPLE: dict[str, TextTransform] = {"markdown": strip_markdown, "emoji": strip_emoji}
NAMES = (*_SIMPLE, *KINDS, SPOKEN_FORMS)
_MAX_HELD = 2000  # characters a stream holds while waiting for a safe cut, at most
_TOKEN = re.compile(r"\S+")
_CURRENCY_SIGNS = frozenset("$€£¥₹")
_LINE_MARKS = "#-*+>•"


def check_transforms(what: str, value: Any, *, allow_none: bool = False) -> tuple[TextTransformLike, ...] | None:
    """``value`` as a tuple of transforms, or a :class:`ConfigError` naming the bad entry."""
    if value is None and allow_none:
        return None
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ConfigError(f"{what} must be a list of transform names or functions, got {value!r}")
    for entry in value:
        if isinstance(entry, str):
            if entry not in NAMES:
                raise ConfigError(f"{what}: unknown transform {entry!r} (known: {', '.join(NAMES)})")
        elif not callable(entry):
            raise ConfigError(f"{what}: {entry!r} is neither a transform name nor a function str -> str")
    return tuple(value)


class _Spoken:
    def __init__(self, kinds: set[str], language: str | None) -> None:
        self.kinds = kinds
        self._language = spoken_language(language)

    def __call__(self, text: str) -> str:
        return speak(text, self._language, self.kinds)


class TextTransformChain:
    """Transforms applied in order; named spoken forms next to each other run as one pass."""

    def __init__(self, transforms: Sequence[TextTransformLike], *, language: str | None = None) -> None:
        checked = check_transforms("tts_text_transforms", transforms) or ()
        self._steps: list[TextTransform] = []
        for entry in checked:
            if isinstance(entry, str) and entry in _SIMPLE:
                self._steps.append(_SIMPLE[entry])
            elif isinstance(entry, str):
                kinds = set(KINDS) if entry == SPOKEN_FORMS else {entry}
                last = self._steps[-1] if self._steps else None
                if isinstance(last, _Spoken):
                    last.kinds |= kinds
                else:
                    self._steps.append(_Spoken(kinds, language))
            else:
                self._steps.append(entry)  # checked callable
        self._joins = [j for s in self._steps if callable(j := getattr(s, "joins", None))]

    def __bool__(self) -> bool:
        return bool(self._steps)

    def __call__(self, text: str) -> str:
        for step in self._steps:
            text = step(text)
            if not isinstance(text, str):
                raise TypeError(f"TTS text transform {step!r} returned {type(text).__name__}, not str")
        return text

    def stream(self) -> TextTransformStream:
        """A transformer for text that arrives in chunks."""
        return TextTransformStream(self)

    def joins(self, left: str, right: str) -> bool:
        """Whether two adjacent words must be transformed together (never cut between them)."""
        if left in _CURRENCY_SIGNS or any(c.isdigit() for c in left):
            return True  # "3:45 pm", "$2.5 million", "+1 415 555 0100", "$ 5"
        if not left.strip(_LINE_MARKS):
            return True  # "#", "-", ">": markdown that needs the words after it on its line
        return any(j(left, right) for j in self._joins)


class TextTransformStream:
    """Push text chunks, get back transformed text; :meth:`flush` returns the rest.

    Text is held back until a cut is safe: at white space, after a complete word, not inside a
    markdown link, and not between two words that are read together (numbers, amounts, times,
    phone numbers, dictionary phrases). The concatenated output equals the chain applied to the
    whole text for everything the chain reads word by word.
    """

    def __init__(self, chain: TextTransformChain) -> None:
        self._chain = chain
        self._buf = ""

    def push(self, chunk: str) -> str:
        if not chunk:
            return ""
        self._buf += chunk
        cut = self._safe_cut()
        if cut <= 0:
            return ""
        head, self._buf = self._buf[:cut], self._buf[cut:]
        return self._chain(head)

    def flush(self) -> str:
        rest, self._buf = self._buf, ""
        return self._chain(rest) if rest else ""

    def _safe_cut(self) -> int:
        buf = self._buf
        tokens = [(m.start(), m.end()) for m in _TOKEN.finditer(buf)]
        complete = len(tokens) if buf[-1:].isspace() else len(tokens) - 1
        # a cut after token i needs token i+1 complete, to know whether the two are read together
        for i in range(complete - 2, -1, -1):
            end = tokens[i][1]
            left, right = buf[tokens[i][0] : end], buf[tokens[i + 1][0] : tokens[i + 1][1]]
            if self._chain.joins(left, right):
                continue
            head = buf[:end]
            if head.count("[") > head.count("]"):
                continue  # inside a markdown link's text
            return end
        if len(buf) > _MAX_HELD and complete > 0:
            return tokens[complete - 1][1]
        return 0


async def transform_text(chunks: AsyncIterable[str], chain: TextTransformChain) -> AsyncIterator[str]:
    """Apply ``chain`` to a stream of text chunks (e.g. an LLM's), yielding transformed text."""
    stream = chain.stream()
    async for chunk in chunks:
        if out := stream.push(chunk):
            yield out
    if out := stream.flush():
        yield out
