"""Markdown and emoji are not read aloud."""

from __future__ import annotations

import pytest

from livekitex_agent.text import strip_emoji, strip_markdown


@pytest.mark.parametrize(
    ("written", "said"),
    [
        ("This is **bold** and __also bold__.", "This is bold and also bold."),
        ("An *italic* word, an _emphasised_ one.", "An italic word, an emphasised one."),
        ("~~old~~ new", "old new"),
        ("# Opening hours\nWe open at nine.", "Opening hours\nWe open at nine."),
        ("### Menu", "Menu"),
        ("Options:\n- soup\n- salad\n* bread\n+ water", "Options:\nsoup\nsalad\nbread\nwater"),
        ("Run `pip install x` first.", "Run pip install x first."),
        ("```python\nprint('hi')\n```\nDone.", "print('hi')\nDone."),
        ("See [the docs](https://docs.example.com/a/b) for more.", "See the docs for more."),
        ("![a cat](cat.png) sleeps", "a cat sleeps"),
        ("> a quote\nreply", "a quote\nreply"),
        ("above\n---\nbelow", "above\nbelow"),
        ("| day | hours |\n|---|---|\n| Mon | 9-5 |", "day, hours\nMon, 9-5"),
        ("Use <b>this</b> one<br>", "Use this one"),
    ],
)
def test_markdown_is_stripped(written: str, said: str) -> None:
    assert strip_markdown(written) == said


@pytest.mark.parametrize(
    "kept",
    [
        "snake_case_name stays",
        "2 * 3 is six",
        "a C# developer",
        "email me at jane_doe@example.com",
        "plain text, nothing to do.",
    ],
)
def test_text_that_only_looks_like_markdown_is_kept(kept: str) -> None:
    assert strip_markdown(kept) == kept


def test_a_piece_cut_mid_line_is_not_a_line_start() -> None:
    # a stream piece that begins after a cut at a space keeps its leading space and its dash
    assert strip_markdown(" - not a bullet") == " - not a bullet"
    assert strip_markdown("\n- a bullet") == "\na bullet"


@pytest.mark.parametrize(
    ("written", "said"),
    [
        ("Great 👍 see you", "Great see you"),
        ("Done! 🎉🎉", "Done! "),
        ("Thumbs 👍🏽 up", "Thumbs up"),
        ("Family 👨‍👩‍👧 time", "Family time"),
        ("Flag 🇫🇷 here", "Flag here"),
        ("Sun ☀️ and star ⭐ and clock ⏰", "Sun and star and clock "),
        ("café naïve 東京 — ok", "café naïve 東京 — ok"),
    ],
)
def test_emoji_are_stripped(written: str, said: str) -> None:
    assert strip_emoji(written) == said
