from __future__ import annotations

import pytest

from livekitex_agent.errors import ConfigError
from livekitex_agent.plugins.local.sphinx_grammar import PhraseGrammar, normalize

VOCAB = {"book", "a", "table", "for", "two", "at", "seven", "cancel", "my", "reservation", "don't", "stop"}


def test_normalize_drops_case_and_punctuation() -> None:
    assert normalize("  Book a TABLE, for two at seven!! ") == "book a table for two at seven"
    assert normalize("Don't stop.") == "don't stop"
    assert normalize("?!") == ""


def test_grammar_lists_each_phrase_once_and_returns_the_phrase_as_given() -> None:
    g = PhraseGrammar.build(
        ["Book a table for two at seven.", "book a table for two at seven", "Cancel my reservation"], VOCAB
    )
    assert g.phrases == ("Book a table for two at seven.", "Cancel my reservation")
    assert g.jsgf() == (
        "#JSGF V1.0;\ngrammar phrases;\n"
        "public <phrase> = ( book a table for two at seven ) | ( cancel my reservation );\n"
    )
    assert g.match("book a table for two at seven") == "Book a table for two at seven."
    assert g.match("book a table for two") is None  # a partial path is not a match
    assert g.match("") is None and g.match(None) is None


def test_bad_phrases_name_the_bad_value() -> None:
    with pytest.raises(ConfigError, match="'7'"):
        PhraseGrammar.build(["book a table at 7"], VOCAB)
    with pytest.raises(ConfigError, match="no words"):
        PhraseGrammar.build(["..."], VOCAB)
    with pytest.raises(ConfigError, match="42"):
        PhraseGrammar.build([42], VOCAB)  # type: ignore[list-item]
