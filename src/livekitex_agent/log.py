"""Logging for the framework: secrets redacted from every record we make, JSON lines in production.

Redaction replaces *values*, never the words around them: the known secrets (registered with
:func:`install_redaction`, and the values of environment variables named ``*_KEY``, ``*_SECRET``,
``*_TOKEN``, ``*_PASSWORD``, at least 8 characters long) and key-shaped tokens (``sk-...`` keys,
JSON web tokens, bearer tokens, ``?access_token=`` values, ``api_key=...`` assignments and long
mixed-case random strings). It is applied when a record of a ``livekitex_agent`` logger is
*created* (a log-record factory), so it holds under any logging set-up — the CLI's, a user's own
``logging.basicConfig`` — and to tracebacks, which are formatted and redacted on the spot.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import traceback
from collections.abc import Callable, Iterable
from typing import Any

logger = logging.getLogger("livekitex_agent")

_SECRET_ENV_SUFFIXES = ("_KEY", "_SECRET", "_TOKEN", "_PASSWORD")
MIN_SECRET_CHARS = 8  # shorter values ("secret", the dev key) are ordinary words too often
_PATTERNS = [
    re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._\-+/=]{8,}"),
    re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}"),
    # JSON web tokens: three base64url parts, the first starting with the encoded '{"'
    re.compile(r"\beyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+"),
    # assignments (api_key=..., "secret": "...", password='...'): the value, only when it is assigned
    re.compile(
        r"(?i)(\b(?:[\w-]*[_-])?(?:key|apikey|secret|token|password)(?:[\"']\s*[:=]\s*[\"']|\s*=\s*[\"']?))"
        r"[^\s\"'&,}]+"
    ),
    re.compile(r"(?i)([?&](?:access_token|token|key)=)[^&\s]+"),
    # long random strings with upper case, lower case and digits: API secrets, not words or hex ids
    re.compile(r"\b(?=[A-Za-z0-9]*[A-Z])(?=[A-Za-z0-9]*[a-z])(?=[A-Za-z0-9]*[0-9])[A-Za-z0-9]{32,}\b"),
]
REDACTED = "***"
_known: list[str] = []


def _env_secrets() -> list[str]:
    return [
        value
        for name, value in os.environ.items()
        if name.upper().endswith(_SECRET_ENV_SUFFIXES) and len(value) >= MIN_SECRET_CHARS
    ]


def redact(text: str, extra_secrets: Iterable[str] = ()) -> str:
    """Replace every secret value in ``text`` by ``***`` (the words around it stay)."""
    secrets = sorted({*_known, *_env_secrets(), *(s for s in extra_secrets if s and len(s) >= 4)}, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    for pattern in _PATTERNS:
        if pattern.groups:
            text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
        else:
            text = pattern.sub(REDACTED, text)
    return text


def redact_record(record: logging.LogRecord) -> None:
    """Redact a record in place: its message, its traceback (formatted now) and its stack."""
    if getattr(record, "_livekitex_redacted", False):
        return
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: the handler reports it as usual
        return
    record.msg, record.args = redact(message), None
    if record.exc_info and record.exc_info[1] is not None:
        # the traceback's text is redacted; the live exception (and its frames) is not handed on
        record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
        record.exc_info = None
    elif record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    record._livekitex_redacted = True


class RedactingFilter(logging.Filter):
    """Redacts a record (see :func:`redact_record`); for handlers that also carry others' records."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


_redacting_filter = RedactingFilter()
_factory_installed: Callable[..., logging.LogRecord] | None = None


def _install_record_factory() -> None:
    """Redact every record of our loggers as it is created, whatever handlers the app configured."""
    global _factory_installed
    current = logging.getLogRecordFactory()
    if current is _factory_installed:
        return
    previous = current

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if record.name == "livekitex_agent" or record.name.startswith("livekitex_agent."):
            redact_record(record)
        return record

    logging.setLogRecordFactory(factory)
    _factory_installed = factory


def install_redaction(extra_secrets: Iterable[str] = ()) -> RedactingFilter:
    """Add known secrets (e.g. an API key given in code) and make sure redaction is in place."""
    for secret in extra_secrets:
        if secret and len(secret) >= MIN_SECRET_CHARS and secret not in _known:
            _known.append(secret)
    _install_record_factory()
    if _redacting_filter not in logger.filters:
        logger.addFilter(_redacting_filter)
    return _redacting_filter


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``t``, ``level``, ``logger``, ``msg`` and, if any, ``exc``/``stack``."""

    def format(self, record: logging.LogRecord) -> str:
        redact_record(record)  # records of other libraries pass through this handler too
        entry: dict[str, Any] = {
            "t": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: str | int = "INFO", *, json: bool = False) -> None:
    """Set up a console handler for the framework (used by the CLI); ``json``: one object per line."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter() if json else logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    )
    handler.addFilter(_redacting_filter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    install_redaction()
    logging.captureWarnings(True)  # warnings become records of this handler: JSON lines, too


install_redaction()
