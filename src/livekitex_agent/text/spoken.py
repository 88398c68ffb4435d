"""Find numbers, money, dates, times, phone numbers, e-mail addresses and URLs in text, and write
them as a person would say them (in the words of a :class:`SpokenLanguage`).

One regular expression finds every kind at once, so a transform for one kind never reads part of
another ("2026-12-02" is a date, not three numbers; the digits of a URL stay in the URL).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection

from .language import Money, SpokenLanguage

KINDS = ("numbers", "currency", "dates", "times", "phone_numbers", "emails", "urls")

_TLDS = "com|org|net|io|dev|ai|co|edu|gov|app|info|me|us|uk|de|fr"
_AMOUNT = r"\d{1,3}(?:,\d{3})+|\d+"
_SCALE = r"thousand|million|billion|trillion|k|bn|m"
_PATTERN = re.compile(
    "|".join(
        (
            r"(?P<email>(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+)",
            r"(?P<url>(?:\b(?:https?|ftp)://|\bwww\.)[^\s<>\"']*[^\s<>\"'.,;:!?)\]])",
            rf"(?P<domain>\b[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.(?:{_TLDS})\b(?:/[^\s<>\"']*[^\s<>\"'.,;:!?)\]])?)(?![\w@])",
            r"(?P<date>\b(?P<y>\d{4})-(?P<mo>0?[1-9]|1[0-2])-(?P<d>0?[1-9]|[12]\d|3[01])\b"
            r"|\b(?P<mo2>0?[1-9]|1[0-2])/(?P<d2>0?[1-9]|[12]\d|3[01])/(?P<y2>\d{4})\b)",
            r"(?P<time>\b(?P<h>[01]?\d|2[0-3]):(?P<mi>[0-5]\d)(?::[0-5]\d)?"
            r"(?:\s?(?P<mer>[aApP])(?:\.[mM]\.|[mM]\b))?"
            r"|\b(?P<h2>1[0-2]|0?[1-9])\s?(?P<mer2>[aApP])(?:\.[mM]\.|[mM]\b))",
            r"(?P<phone>(?<![\w+])\+\d{1,3}(?:[ .-]\(?\d{1,5}\)?){2,5}(?![\d.]?\d)"
            r"|(?<![\w+])(?:\(\d{3}\)\s?|\d{3}[ .-])\d{3}[ .-]\d{4}(?![\d.]?\d))",
            rf"(?P<money>(?P<sym>[$€£¥₹])\s?(?P<cw>{_AMOUNT})(?:\.(?P<cf>\d+))?(?:\s?(?P<cs>{_SCALE})\b)?"
            rf"|(?<![\w.,])(?P<cw2>{_AMOUNT})(?:\.(?P<cf2>\d+))?\s?(?P<code>USD|EUR|GBP|JPY|INR)\b)",
            r"(?P<ordinal>(?<![\w.,])(?P<on>\d+)(?:st|nd|rd|th)\b)",
            rf"(?P<number>(?:(?<![\w.-])(?P<neg>-))?(?<![\w.,])(?P<nw>{_AMOUNT})(?:\.(?P<nf>\d+))?(?![.,]?\d|\w)"
            r"(?P<pct>\s?%)?)",
        )
    ),
    re.IGNORECASE,
)
_KIND_OF = {
    "email": "emails", "url": "urls", "domain": "urls", "date": "dates", "time": "times",
    "phone": "phone_numbers", "money": "currency", "ordinal": "numbers", "number": "numbers",
}


def speak(text: str, language: SpokenLanguage, kinds: Collection[str] = KINDS) -> str:
    """``text`` with each of ``kinds`` (names from :data:`KINDS`) written as spoken words."""
    if not text or not any(c.isdigit() or c in "@.$€£¥₹" for c in text):
        return text
    enabled = set(kinds)

    def replace(m: re.Match[str]) -> str:
        group = m.lastgroup or ""
        if _KIND_OF.get(group) not in enabled:
            return m.group(0)
        said = _SAY[group](m, language)
        return m.group(0) if said is None else said

    return _PATTERN.sub(replace, text)


def _email(m: re.Match[str], lang: SpokenLanguage) -> str:
    return lang.address(m.group("email"))


def _url(m: re.Match[str], lang: SpokenLanguage) -> str:
    url = re.sub(r"^[a-z]+://", "", m.group("url"), flags=re.IGNORECASE).rstrip("/")
    return lang.address(url)


def _domain(m: re.Match[str], lang: SpokenLanguage) -> str:
    return lang.address(m.group("domain").rstrip("/"))


def _date(m: re.Match[str], lang: SpokenLanguage) -> str:
    if m.group("y"):
        return lang.date(int(m.group("y")), int(m.group("mo")), int(m.group("d")))
    return lang.date(int(m.group("y2")), int(m.group("mo2")), int(m.group("d2")))


def _time(m: re.Match[str], lang: SpokenLanguage) -> str:
    if m.group("h2"):
        return lang.time(int(m.group("h2")), 0, m.group("mer2").lower() + "m")
    mer = m.group("mer")
    return lang.time(int(m.group("h")), int(m.group("mi")), mer.lower() + "m" if mer else None)


def _phone(m: re.Match[str], lang: SpokenLanguage) -> str:
    text = m.group("phone")
    return lang.phone(re.findall(r"\d+", text), plus=text.startswith("+"))


def _money(m: re.Match[str], lang: SpokenLanguage) -> str | None:
    if m.group("sym"):
        amount = Money(m.group("sym"), m.group("cw").replace(",", ""), m.group("cf"), m.group("cs"))
    else:
        amount = Money(m.group("code"), m.group("cw2").replace(",", ""), m.group("cf2"))
    return lang.money(amount)


def _ordinal(m: re.Match[str], lang: SpokenLanguage) -> str:
    return lang.ordinal(int(m.group("on")))


def _number(m: re.Match[str], lang: SpokenLanguage) -> str:
    said = lang.number(m.group("nw").replace(",", ""), m.group("nf"), negative=bool(m.group("neg")))
    return lang.percent(said) if m.group("pct") else said


_SAY: dict[str, Callable[[re.Match[str], SpokenLanguage], str | None]] = {
    "email": _email, "url": _url, "domain": _domain, "date": _date, "time": _time, "phone": _phone,
    "money": _money, "ordinal": _ordinal, "number": _number,
}
