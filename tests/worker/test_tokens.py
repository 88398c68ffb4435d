"""Tokens signed with a short (development) secret: said once at start, never per token."""

from __future__ import annotations

import logging
import warnings

import pytest

from livekitex_agent.worker import tokens


def test_a_short_secret_is_said_once_in_our_words(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tokens, "_weak_secret_said", False)
    with caplog.at_level(logging.WARNING, logger="livekitex_agent"), warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        for _ in range(3):
            tokens.check_secret_strength("secret")
            tokens.worker_token("devkey", "secret")
            tokens.agent_room_token("devkey", "secret", room="r", identity="agent")
    assert [w.category.__name__ for w in seen] == []  # PyJWT's InsecureKeyLengthWarning: never
    said = [r.getMessage() for r in caplog.records]
    assert said == [
        "LIVEKIT_API_SECRET is 6 bytes long: fine for a development server, too short for production "
        "(use at least 32 random bytes)"
    ]


def test_a_long_secret_is_not_mentioned(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens, "_weak_secret_said", False)
    with caplog.at_level(logging.WARNING, logger="livekitex_agent"):
        tokens.check_secret_strength("x" * 32)
    assert caplog.records == []
