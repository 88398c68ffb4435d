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


def test_redaction_holds_under_a_users_own_basic_config(tmp_path: object) -> None:
    """No CLI set-up: a plain ``basicConfig`` handler still never prints a key from our records."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(
        """
        import logging, sys
        logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(name)s %(message)s")
        from livekitex_agent.log import install_redaction
        install_redaction(["my-own-secret-given-in-code"])
        log = logging.getLogger("livekitex_agent.tools")
        try:
            raise RuntimeError("upstream said: key sk-live-ABCDEFGHIJKLMNOP is invalid")
        except RuntimeError:
            log.exception("tool %r failed", "lookup")
        log.info("signing with my-own-secret-given-in-code")
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert "sk-live-ABCDEFGHIJKLMNOP" not in out.stdout and "my-own-secret-given-in-code" not in out.stdout
    assert "livekitex_agent.tools tool 'lookup' failed" in out.stdout
    assert "RuntimeError: upstream said: key *** is invalid" in out.stdout
    assert "signing with ***" in out.stdout


@pytest.mark.parametrize(
    "text",
    [
        "invalid_api_key: Incorrect API key provided",
        "the server rejected the worker token: check LIVEKIT_API_KEY and LIVEKIT_API_SECRET",
        "secret: not set; token: expired",
        "room RM_aBc123 job AJ_xyz9 commit 3f2a9c1d0b8e7f6a5d4c3b2a1f0e9d8c7b6a5f4e",
        "monkey=3 max_tokens=100 tokenizer=bpe",
    ],
)
def test_ordinary_words_after_a_label_survive(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("api_key=hunter2222 next", "api_key=*** next"),
        ("access_token = abcdef0123 x", "access_token = *** x"),
        ('{"api_key": "abc123def456"}', '{"api_key": "***"}'),
        ("LIVEKIT_API_SECRET='Zx81nQ' used", "LIVEKIT_API_SECRET='***' used"),
        ("secret Abc9aBc9aBc9aBc9aBc9aBc9aBc9aBc9aBc9 here", "secret *** here"),
    ],
)
def test_values_are_redacted_not_labels(text: str, expected: str) -> None:
    assert redact(text) == expected
