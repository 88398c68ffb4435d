"""Logging for the framework, with secrets redacted before any record is written."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable

logger = logging.getLogger("livekitex_agent")

_SECRET_ENV_SUFFIXES = ("_KEY", "_SECRET", "_TOKEN", "_PASSWORD")
_PATTERNS = [
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._\-]+"),
    re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}"),
    # JSON web tokens: three base64url parts, the first starting with the encoded '{"'
    re.compile(r"\beyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+"),
    re.compile(r"(?i)((?:api[_-]?key|secret|token|password)[\"']?\s*[:=]\s*[\"']?)[^\s\"'&,}]+"),
    re.compile(r"(?i)([?&](?:access_token|token|key)=)[^&\s]+"),
]
REDACTED = "***"


def _env_secrets() -> list[str]:
    out = []
    for name, value in os.environ.items():
        if name.upper().endswith(_SECRET_ENV_SUFFIXES) and len(value) >= 6:
            out.append(value)
    return out


def redact(text: str, extra_secrets: Iterable[str] = ()) -> str:
    """Replace anything that looks like a credential in ``text`` by ``***``."""
    for secret in (*_env_secrets(), *extra_secrets):
        if secret and secret in text:
            text = text.replace(secret, REDACTED)
    for pattern in _PATTERNS:
        if pattern.groups:
            text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
        else:
            text = pattern.sub(REDACTED, text)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that redacts secrets from the formatted message and exception text."""

    def __init__(self, extra_secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._extra = list(extra_secrets)

    def add_secret(self, secret: str) -> None:
        if secret:
            self._extra.append(secret)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string is not ours to fix here
            return True
        record.msg = redact(message, self._extra)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            import traceback

            record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)), self._extra)
            record.exc_info = None
        return True


_redacting_filter = RedactingFilter()


def install_redaction(extra_secrets: Iterable[str] = ()) -> RedactingFilter:
    """Attach the redacting filter to the framework logger (idempotent) and return it."""
    for secret in extra_secrets:
        _redacting_filter.add_secret(secret)
    if _redacting_filter not in logger.filters:
        logger.addFilter(_redacting_filter)
    return _redacting_filter


def configure_logging(level: str | int = "INFO", *, json: bool = False) -> None:
    """Set up a console handler for the framework (used by the CLI)."""
    handler = logging.StreamHandler()
    fmt = (
        '{"t":"%(asctime)s","level":"%(levelname)s","logger":"%(name)s","msg":%(message)r}'
        if json
        else "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
    )
    handler.setFormatter(logging.Formatter(fmt))
    handler.addFilter(_redacting_filter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    install_redaction()


install_redaction()
