"""How one language says numbers, money, dates, times, phone numbers, e-mail addresses and URLs.

:mod:`.spoken` finds these in text; a :class:`SpokenLanguage` says them. English ships; another
language is one subclass and one :func:`register_language` call.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass

logger = logging.getLogger("livekitex_agent.text")


@dataclass(frozen=True)
class Money:
    """An amount as written: ``$1,234.50`` is ``Money("$", "1234", "50", None)``."""

    currency: str  # the symbol or ISO code as written: "$", "€", "USD"
    whole: str  # digits only, no separators
    fraction: str | None  # digits after the decimal point, if any
    scale: str | None = None  # "million", "billion", "k" ... written after the number


class SpokenLanguage(ABC):
    """One language's spoken forms. Every method returns words, never digits."""

    code: str = ""

    @abstractmethod
    def cardinal(self, n: int) -> str: ...

    @abstractmethod
    def ordinal(self, n: int) -> str: ...

    @abstractmethod
    def number(self, whole: str, fraction: str | None, *, negative: bool) -> str:
        """A written number (``whole`` digits without separators, ``fraction`` digits after the point)."""

    @abstractmethod
    def percent(self, spoken_number: str) -> str: ...

    @abstractmethod
    def money(self, amount: Money) -> str | None:
        """The amount, or None for a currency this language does not know (left as written)."""

    @abstractmethod
    def date(self, year: int, month: int, day: int) -> str: ...

    @abstractmethod
    def time(self, hour: int, minute: int, meridiem: str | None) -> str:
        """``meridiem`` is "am", "pm" or None (a 24-hour time)."""

    @abstractmethod
    def phone(self, groups: list[str], *, plus: bool) -> str:
        """Digit groups as written (``+1 415 555 0100`` is ``["1", "415", "555", "0100"]``, ``plus``)."""

    @abstractmethod
    def address(self, text: str) -> str:
        """An e-mail address or URL (without its scheme) read out: its dots, at-signs and slashes."""


_LANGUAGES: dict[str, SpokenLanguage] = {}
_warned: set[str] = set()


def register_language(language: SpokenLanguage) -> None:
    """Make ``language`` the spoken forms for its ``code`` (e.g. "en"; "en-GB" also finds "en")."""
    if not isinstance(language, SpokenLanguage) or not language.code:
        raise TypeError(f"register_language needs a SpokenLanguage with a code, got {language!r}")
    _LANGUAGES[language.code.lower()] = language


def spoken_language(code: str | None) -> SpokenLanguage:
    """The spoken forms for ``code`` ("en", "en-US", None → English); unknown languages fall back to
    English with one warning, so a session in another language still speaks."""
    if code:
        key = code.lower().replace("_", "-")
        found = _LANGUAGES.get(key) or _LANGUAGES.get(key.split("-")[0])
        if found is not None:
            return found
        if key not in _warned:
            _warned.add(key)
            logger.warning("no spoken forms for language %r: numbers, dates etc. are read as in English", code)
    return _LANGUAGES["en"]
