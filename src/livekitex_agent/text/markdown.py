"""Markdown and emoji stripped from text that is about to be spoken.

Both work on any piece of a text stream that was cut at white space: emphasis markers, backticks
and emoji are removed wherever they are (no pairing needed), line-level markup (headings, bullets,
quotes, rules, table rows) only where a line starts.
"""

from __future__ import annotations

import re

_LINE = r"(?:(?<=\n)[ \t]*|\A)"  # the start of a line (a piece that begins mid-line begins with a space)
_FENCE = re.compile(_LINE + r"(?:```|~~~)[\w+-]*[ \t]*(?:\n|\Z)")
_HEADING = re.compile(_LINE + r"#{1,6}[ \t]+")
_QUOTE = re.compile(_LINE + r">[ \t]?")
_BULLET = re.compile(_LINE + r"[-*+•][ \t]+")
_RULE = re.compile(_LINE + r"(?:[-*_][ \t]*){3,}(?:\n|\Z)")
_TABLE_SEPARATOR = re.compile(_LINE + r"\|?[ \t]*:?-{3,}:?[ \t]*(?:\|[ \t]*:?-{3,}:?[ \t]*)*\|?[ \t]*(?:\n|\Z)")
_IMAGE = re.compile(r"!\[([^\]\n]*)\]\([^)\s]*\)")
_LINK = re.compile(r"\[([^\]\n]+)\]\([^)\s]*\)")
_STRONG = re.compile(r"\*\*|__|~~")
_EMPHASIS = re.compile(r"(?<![\w*])[*_](?=[^\s*_])|(?<=[^\s*_])[*_](?![\w*])")
_PIPE = re.compile(r"[ \t]*\|[ \t]*")
_HTML_TAG = re.compile(r"</?(?:b|i|u|em|strong|code|br|p|span|div)\b[^>]*>", re.IGNORECASE)


def strip_markdown(text: str) -> str:
    """``text`` without markdown markup: what a person reading it aloud would say."""
    if not text:
        return text
    text = _FENCE.sub("", text)
    text = _TABLE_SEPARATOR.sub("", text)
    text = _RULE.sub("", text)
    text = _HEADING.sub("", text)
    text = _QUOTE.sub("", text)
    text = _BULLET.sub("", text)
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _HTML_TAG.sub("", text)
    text = text.replace("`", "")
    text = _STRONG.sub("", text)
    text = _EMPHASIS.sub("", text)
    if "|" in text:
        text = _table_row(text)
    return text


def _table_row(text: str) -> str:
    lines = []
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped.startswith("|") or stripped.endswith("|"):
            cells = [c.strip() for c in _PIPE.split(stripped.strip("|")) if c.strip()]
            line = ", ".join(cells)
        lines.append(line)
    return "\n".join(lines)


_EMOJI = re.compile(
    "["
    "\U0001f000-\U0001faff"  # pictographs, emoticons, transport, symbols, flags' letters
    "\u2600-\u27bf"  # miscellaneous symbols and dingbats
    "\u2b00-\u2bff"  # arrows and stars (⭐)
    "\u2300-\u23ff"  # technical (⌚, ⏰)
    "\ufe0e\ufe0f\u200d\u20e3"  # variation selectors, joiner, keycap
    "\U000e0020-\U000e007f"  # tag characters (subdivision flags)
    "]+"
)
_SPACES = re.compile(r"[ \t]{2,}")


def strip_emoji(text: str) -> str:
    """``text`` without emoji (and without the double space one leaves between two words)."""
    if not text or text.isascii():
        return text
    out = _EMOJI.sub("", text)
    if out is text or out == text:
        return text
    return _SPACES.sub(" ", out)
