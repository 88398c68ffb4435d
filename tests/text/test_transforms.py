"""Transform chains, and the same result when the text arrives in pieces."""

from __future__ import annotations

import random

import pytest

from livekitex_agent.errors import ConfigError
from livekitex_agent.text import (
    DEFAULT_TTS_TEXT_TRANSFORMS,
    Pronunciations,
    TextTransformChain,
    transform_text,
)

ALL = ["markdown", "emoji", "spoken_forms"]

REPLIES = [
    "Your total is **$1,234.50**, due on 2026-12-02 at 3:45 pm. 🎉",
    "# Contact\n- Phone: +1 415 555 0100\n- Mail: jane.doe@example.com\n- Docs: https://docs.example.com/a/b",
    "See [the booking page](https://example.com/book) or call (415) 555-0100 before 10:05 a.m. today.",
    "It is 50% off: $2.5 million saved by 1,000 people on the 22nd 👍🏽 `really`.",
    "Use the SQL console on nginx in New York, then `restart` it.",
]


def _pieces(text: str, rng: random.Random) -> list[str]:
    cuts = sorted(rng.sample(range(1, len(text)), k=min(len(text) - 1, rng.randint(3, 20))))
    return [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]


@pytest.mark.parametrize("reply", REPLIES)
def test_text_streamed_in_pieces_is_said_as_if_whole(reply: str) -> None:
    chain = TextTransformChain(
        [*ALL, Pronunciations({"SQL": "sequel", "nginx": "engine x", "New York": "the big apple"})]
    )
    whole = chain(reply)
    rng = random.Random(7)
    for _ in range(200):
        stream = chain.stream()
        out = "".join(stream.push(p) for p in _pieces(reply, rng)) + stream.flush()
        assert out == whole


def test_a_stream_holds_a_number_until_the_next_word_says_how_it_reads() -> None:
    stream = TextTransformChain(ALL).stream()
    assert stream.push("Meet me at 3:45") == "Meet me"  # "at" may still be "at" + a phrase
    assert stream.push(" p") == " at"
    assert stream.push("m and") == ""  # "3:45 p..." may still become "3:45 pm"
    assert stream.push(" call +1 415 ") == " three forty-five P M and call"
    assert stream.push("555 0100 now. ") == ""  # the number may go on
    assert stream.flush() == " plus one, four one five, five five five, zero one zero zero now. "


def test_the_default_strips_markdown_and_emoji_and_keeps_numbers() -> None:
    chain = TextTransformChain(DEFAULT_TTS_TEXT_TRANSFORMS)
    assert chain("**Only** $5 today 🎉") == "Only $5 today "
    assert not TextTransformChain([])


async def test_transform_text_on_an_async_stream() -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        for piece in ["The **to", "tal** is $1", "2.50 ", "👍"]:
            yield piece

    chain = TextTransformChain(ALL)
    out = [p async for p in transform_text(chunks(), chain)]
    assert "".join(out) == "The total is twelve dollars and fifty cents "


def test_pronunciations_replace_whole_words_longest_first() -> None:
    says = Pronunciations({"SQL": "sequel", "SQL Server": "sequel server", "GIF": "jif"})
    assert says("My SQL Server and sql, not MySQL. GIFs and a gif.") == (
        "My sequel server and sequel, not MySQL. GIFs and a jif."
    )
    strict = Pronunciations({"US": "United States"}, case_sensitive=True)
    assert strict("the US and us") == "the United States and us"


def test_a_user_function_is_a_transform() -> None:
    chain = TextTransformChain(["markdown", str.upper])
    assert chain("say **hi**") == "SAY HI"


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (["markdown", "emojis"], "unknown transform 'emojis'"),
        ("markdown", "must be a list"),
        ([42], "42 is neither"),
    ],
)
def test_bad_transforms_are_named(bad: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TextTransformChain(bad)  # type: ignore[arg-type]


def test_bad_pronunciations_are_named() -> None:
    with pytest.raises(ConfigError, match="'': 'x'"):
        Pronunciations({"": "x"})
