"""English spoken forms: "$1,234.50" → "one thousand two hundred thirty-four dollars and fifty cents"."""

from __future__ import annotations

from .language import Money, SpokenLanguage, register_language

_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_ORDINAL_WORDS = {
    "one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
    "nine": "ninth", "twelve": "twelfth",
}
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]
_DIGITS = dict(zip("0123456789", _ONES[:10], strict=True))
# symbol/code → (singular, plural, cent singular, cent plural)
_CURRENCIES = {
    "$": ("dollar", "dollars", "cent", "cents"),
    "usd": ("dollar", "dollars", "cent", "cents"),
    "€": ("euro", "euros", "cent", "cents"),
    "eur": ("euro", "euros", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "gbp": ("pound", "pounds", "penny", "pence"),
    "¥": ("yen", "yen", "sen", "sen"),
    "jpy": ("yen", "yen", "sen", "sen"),
    "₹": ("rupee", "rupees", "paisa", "paise"),
    "inr": ("rupee", "rupees", "paisa", "paise"),
}
_SCALE_WORDS = {"k": "thousand", "m": "million", "mm": "million", "bn": "billion", "b": "billion"}
_ADDRESS_WORDS = {".": " dot ", "@": " at ", "/": " slash ", "-": " dash ", "_": " underscore ",
                  ":": " colon ", "?": " question mark ", "=": " equals ", "&": " and ", "#": " hash ",
                  "~": " tilde ", "+": " plus ", "%": " percent "}


def _under_thousand(n: int) -> str:
    hundreds, rest = divmod(n, 100)
    words = [f"{_ONES[hundreds]} hundred"] if hundreds else []
    if rest >= 20:
        tens, ones = divmod(rest, 10)
        words.append(_TENS[tens] + (f"-{_ONES[ones]}" if ones else ""))
    elif rest or not hundreds:
        words.append(_ONES[rest])
    return " ".join(words)


class English(SpokenLanguage):
    code = "en"

    def cardinal(self, n: int) -> str:
        if n < 0:
            return "minus " + self.cardinal(-n)
        if n >= 10**15:
            return self.digits(str(n))
        words = []
        for value, name in _SCALES:
            if n >= value:
                count, n = divmod(n, value)
                words.append(f"{self.cardinal(count)} {name}")
        if n or not words:
            words.append(_under_thousand(n))
        return " ".join(words)

    def ordinal(self, n: int) -> str:
        words = self.cardinal(n)
        head, sep, last = words.rpartition("-" if "-" in words.split(" ")[-1] else " ")
        if last in _ORDINAL_WORDS:
            last = _ORDINAL_WORDS[last]
        elif last.endswith("y"):
            last = last[:-1] + "ieth"
        else:
            last += "th"
        return head + sep + last

    def digits(self, text: str) -> str:
        return " ".join(_DIGITS[c] for c in text if c in _DIGITS)

    def number(self, whole: str, fraction: str | None, *, negative: bool) -> str:
        words = self.cardinal(int(whole or "0"))
        if fraction:
            words += " point " + self.digits(fraction)
        return ("minus " if negative else "") + words

    def percent(self, spoken_number: str) -> str:
        return spoken_number + " percent"

    def money(self, amount: Money) -> str | None:
        names = _CURRENCIES.get(amount.currency.lower())
        if names is None:
            return None
        one, many, cent, cents = names
        whole = int(amount.whole or "0")
        if amount.scale:  # "$2.5 million": the number, the scale, then the currency
            scale = _SCALE_WORDS.get(amount.scale.lower(), amount.scale.lower())
            return f"{self.number(amount.whole, amount.fraction, negative=False)} {scale} {many}"
        if amount.fraction and len(amount.fraction) == 2:
            hundredths = int(amount.fraction)
            parts = []
            if whole or not hundredths:
                parts.append(f"{self.cardinal(whole)} {one if whole == 1 else many}")
            if hundredths:
                parts.append(f"{self.cardinal(hundredths)} {cent if hundredths == 1 else cents}")
            return " and ".join(parts)
        spoken = self.number(amount.whole, amount.fraction, negative=False)
        return f"{spoken} {one if whole == 1 and not amount.fraction else many}"

    def year(self, year: int) -> str:
        if 2000 <= year < 2010 or year % 1000 == 0 or year < 1000 or year >= 10000:
            return self.cardinal(year)
        high, low = divmod(year, 100)
        if low == 0:
            return f"{self.cardinal(high)} hundred"
        return f"{self.cardinal(high)} {'oh ' + _ONES[low] if low < 10 else self.cardinal(low)}"

    def date(self, year: int, month: int, day: int) -> str:
        return f"{_MONTHS[month - 1]} {self.ordinal(day)}, {self.year(year)}"

    def time(self, hour: int, minute: int, meridiem: str | None) -> str:
        if meridiem is None and hour == 0 and minute == 0:
            return "midnight"
        if meridiem is None and hour == 12 and minute == 0:
            return "noon"
        words = self.cardinal(hour)
        if minute == 0:
            words += "" if meridiem else (" hundred" if hour >= 13 or hour == 0 else " o'clock")
        elif minute < 10:
            words += " oh " + _ONES[minute]
        else:
            words += " " + self.cardinal(minute)
        if meridiem:
            words += " " + " ".join(meridiem.upper())
        return words

    def phone(self, groups: list[str], *, plus: bool) -> str:
        spoken = ", ".join(self.digits(g) for g in groups if g)
        return ("plus " if plus else "") + spoken

    def address(self, text: str) -> str:
        prefix = ""
        if text.lower().startswith("www."):
            prefix, text = "w w w dot ", text[4:]
        spoken = "".join(_ADDRESS_WORDS.get(ch, ch) for ch in text)
        return prefix + " ".join(spoken.split())


register_language(English())
