"""A hook across layers without an upward import: the job a session runs in learns of the session.

The worker sets an observer in the context of each job; ``AgentSession.start`` notifies it, so the
job ends when its session closes and the session's metrics reach the worker — with no call to make
in the entrypoint.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("livekitex_agent")

SessionObserver = Callable[[Any], None]

_session_observer: contextvars.ContextVar[SessionObserver | None] = contextvars.ContextVar(
    "livekitex_session_observer", default=None
)


def set_session_observer(observer: SessionObserver | None) -> contextvars.Token[SessionObserver | None]:
    """Call ``observer(session)`` for every session started in the current context (and its tasks)."""
    return _session_observer.set(observer)


def notify_session_started(session: Any) -> None:
    observer = _session_observer.get()
    if observer is None:
        return
    try:
        observer(session)
    except Exception:
        logger.exception("session observer failed")


_job_attributes: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "livekitex_job_attributes", default=None
)


def set_job_attributes(attributes: dict[str, str] | None) -> contextvars.Token[dict[str, str] | None]:
    """Say which job (and room) the current context runs: traces carry it as resource attributes."""
    return _job_attributes.set(attributes)


def current_job_attributes() -> dict[str, str]:
    return dict(_job_attributes.get() or {})
