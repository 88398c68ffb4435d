from __future__ import annotations

from livekitex_agent.session.sentences import SentenceStream
from livekitex_agent.session.timeline import SpeechTimeline


def feed(text: str, step: int = 3) -> list[str]:
    s = SentenceStream()
    out: list[str] = []
    for i in range(0, len(text), step):
        out.extend(s.push(text[i : i + step]))
    return out + s.flush()


def test_sentences_split_on_punctuation_but_not_abbreviations_or_numbers() -> None:
    text = "Hello there! Dr. Smith paid 3.50 dollars, e.g. for tea. Is that right? Yes"
    assert feed(text) == [
        "Hello there!",
        "Dr. Smith paid 3.50 dollars, e.g. for tea.",
        "Is that right?",
        "Yes",
    ]


def test_short_fragments_join_the_next_sentence() -> None:
    assert feed("Hi. I can help with that.") == ["Hi. I can help with that."]


def test_heard_text_is_cut_at_the_played_word() -> None:
    tl = SpeechTimeline()
    tl.begin_text("one two three four", 0)
    tl.add_audio(2.0)
    tl.begin_text("five six", 0)
    tl.add_audio(1.0)
    assert tl.heard_text(1.0, 0) == "one two"
    assert tl.heard_text(2.5, 0) == "one two three four five"
    assert tl.heard_text(10, 0) == "one two three four five six"
    assert tl.heard_text(0.0, 0) == ""
