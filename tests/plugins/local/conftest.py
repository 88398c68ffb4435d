"""Shared by the PocketSphinx tests: the phrase list and a prewarmed recognizer for it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from livekitex_agent.plugins.local import PocketSphinxSTT

PHRASES = [
    "What is the weather in Paris?",
    "Book a table for two at seven.",
    "Cancel my reservation",
    "turn on the kitchen lights",
]


@pytest.fixture(scope="module")
def phrase_stt() -> Iterator[PocketSphinxSTT]:
    stt = PocketSphinxSTT(phrases=PHRASES)
    stt.prewarm()
    yield stt
    asyncio.run(stt.aclose())
