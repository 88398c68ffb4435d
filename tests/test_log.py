from __future__ import annotations

import logging

import pytest

from livekitex_agent.log import logger, redact


def test_redact_known_secret_shapes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVEKIT_API_SECRET", "super-secret-value-123")
    text = (
        "Authorization: Bearer abc.def.ghi key sk-proj-ABCDEFGH12345678 "
        "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl "
        "api_key=hunter22 url wss://host/rtc?access_token=tok123&x=1 secret super-secret-value-123"
    )
    out = redact(text)
    for secret in (
        "abc.def.ghi",
        "sk-proj-ABCDEFGH12345678",
        "eyJhbGciOiJIUzI1NiJ9",
        "hunter22",
        "tok123",
        "super-secret-value-123",
    ):
        assert secret not in out
    assert "x=1" in out and "Authorization" in out


def test_framework_logs_never_carry_secrets(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="livekitex_agent"):
        logger.info("connecting with token %s", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl")
        try:
            raise RuntimeError("bad key sk-live-ABCDEFGHIJKLMNOP")
        except RuntimeError:
            logger.exception("failed")
    assert "eyJhbGciOiJIUzI1NiJ9" not in caplog.text
    assert "sk-live-ABCDEFGHIJKLMNOP" not in caplog.text
    assert "connecting with token ***" in caplog.text
