"""Numbers, money, dates, times, phone numbers, addresses and URLs read as a person would say them."""

from __future__ import annotations

import pytest

from livekitex_agent.text import KINDS, SpokenLanguage, register_language, speak, spoken_language
from livekitex_agent.text.english import English

EN = spoken_language("en")


@pytest.mark.parametrize(
    ("written", "said"),
    [
        # money
        ("It costs $1,234.50.", "It costs one thousand two hundred thirty-four dollars and fifty cents."),
        ("Only $1 today", "Only one dollar today"),
        ("just $0.99", "just ninety-nine cents"),
        ("€5 or £3.20", "five euros or three pounds and twenty pence"),
        ("a $2.5 million deal", "a two point five million dollars deal"),
        ("pay 100 USD", "pay one hundred dollars"),
        ("$12.01 each", "twelve dollars and one cent each"),
        # numbers
        ("We have 3 tables.", "We have three tables."),
        ("1,000,000 visitors", "one million visitors"),
        ("pi is 3.14", "pi is three point one four"),
        ("-5 degrees", "minus five degrees"),
        ("50% off", "fifty percent off"),
        ("the 22nd and the 1st and the 13th", "the twenty-second and the first and the thirteenth"),
        ("room 110", "room one hundred ten"),
        # dates
        ("on 2026-12-02", "on December second, twenty twenty-six"),
        ("on 12/25/1999", "on December twenty-fifth, nineteen ninety-nine"),
        ("since 2005-01-09", "since January ninth, two thousand five"),
        ("in 1905-03-31", "in March thirty-first, nineteen oh five"),
        # times
        ("at 3:45 pm", "at three forty-five P M"),
        ("at 3:45PM", "at three forty-five P M"),
        ("by 10:05 a.m. sharp", "by ten oh five A M sharp"),
        ("at 7 am", "at seven A M"),
        ("at 15:30", "at fifteen thirty"),
        ("at 9:00", "at nine o'clock"),
        ("at 00:00", "at midnight"),
        # phone numbers
        ("Call +1 415 555 0100.", "Call plus one, four one five, five five five, zero one zero zero."),
        ("or (415) 555-0100", "or four one five, five five five, zero one zero zero"),
        ("or 415-555-0100", "or four one five, five five five, zero one zero zero"),
        ("+44 20 7946 0958", "plus four four, two zero, seven nine four six, zero nine five eight"),
        # e-mail addresses and URLs
        ("Write to jane.doe@example.com.", "Write to jane dot doe at example dot com."),
        ("See https://docs.example.com/a/b.", "See docs dot example dot com slash a slash b."),
        ("at www.example.org/menu today", "at w w w dot example dot org slash menu today"),
        ("visit example.com", "visit example dot com"),
        ("(see https://x.io/p?q=1)", "(see x dot io slash p question mark q equals 1)"),
    ],
)
def test_english_spoken_forms(written: str, said: str) -> None:
    assert speak(written, EN) == said


@pytest.mark.parametrize(
    "kept",
    ["version 1.2.3", "an mp3 file", "a 3D film", "no digits here at all", "e.g. this"],
)
def test_what_is_not_a_number_is_kept(kept: str) -> None:
    assert speak(kept, EN) == kept


def test_each_kind_alone_leaves_the_others_untouched() -> None:
    text = "On 2026-12-02 at 3:45 pm pay $5 to jane@example.com, 2 times."
    assert speak(text, EN, ["numbers"]) == "On 2026-12-02 at 3:45 pm pay $5 to jane@example.com, two times."
    assert speak(text, EN, ["dates"]) == (
        "On December second, twenty twenty-six at 3:45 pm pay $5 to jane@example.com, 2 times."
    )
    assert speak(text, EN, ["currency", "emails"]) == (
        "On 2026-12-02 at 3:45 pm pay five dollars to jane at example dot com, 2 times."
    )
    assert set(KINDS) == {"numbers", "currency", "dates", "times", "phone_numbers", "emails", "urls"}


def test_cardinals_and_ordinals() -> None:
    assert EN.cardinal(0) == "zero"
    assert EN.cardinal(115) == "one hundred fifteen"
    assert EN.cardinal(2_000_021) == "two million twenty-one"
    assert EN.ordinal(40) == "fortieth"
    assert EN.ordinal(112) == "one hundred twelfth"
    assert EN.ordinal(1_000) == "one thousandth"


def test_a_language_is_a_registered_table_and_unknown_ones_fall_back_to_english() -> None:
    class Pirate(English):
        code = "x-pirate"

        def cardinal(self, n: int) -> str:
            return "arr " + super().cardinal(n)

    register_language(Pirate())
    assert speak("3 ships", spoken_language("x-pirate")) == "arr three ships"
    assert spoken_language("en-GB") is EN
    assert spoken_language("tlh") is EN  # Klingon has no table yet: read as English (one warning)
    assert isinstance(EN, SpokenLanguage)
    with pytest.raises(TypeError, match="SpokenLanguage"):
        register_language("fr")  # type: ignore[arg-type]
