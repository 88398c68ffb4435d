"""The live terminal view of the demo call.

On a terminal: the call log scrolls above a status line (progress, agent and caller state, elapsed
time) redrawn in place, with a little colour. Anywhere else (a pipe, CI): the same log as plain
lines, no escape codes, no status line.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
from typing import Any, TextIO

from .record import CallRecorder, LogEntry

_LABELS = {
    "caller": "caller",
    "agent": "agent",
    "heard": "  heard",
    "tool": "  tool",
    "latency": "  latency",
    "info": "info",
    "error": "error",
}
_COLORS = {
    "caller": "36",  # cyan
    "agent": "32",  # green
    "heard": "2",  # dim
    "tool": "33",  # yellow
    "latency": "2",
    "info": "1",  # bold
    "error": "31",  # red
}
_STATE_COLORS = {"listening": "32", "thinking": "33", "speaking": "35", "initializing": "2", "closed": "2"}
REFRESH_SECONDS = 0.25


def is_tty(stream: TextIO) -> bool:
    return bool(getattr(stream, "isatty", lambda: False)()) and os.environ.get("TERM") != "dumb"


class LiveView:
    """Follows a :class:`CallRecorder`. ``tty=None`` decides from the stream (``isatty``)."""

    def __init__(
        self, stream: TextIO | None = None, *, tty: bool | None = None, width: int | None = None
    ) -> None:
        self.stream: TextIO = stream if stream is not None else sys.stdout
        self.tty = is_tty(self.stream) if tty is None else tty
        self.width = width or shutil.get_terminal_size((100, 24)).columns
        self._recorder: CallRecorder | None = None
        self._status_shown = False
        self._task: asyncio.Task[None] | None = None

    # -- plain output (also used before and after the call) -------------------------------------------
    def message(self, text: str, *, style: str = "") -> None:
        """A line outside the call log (set-up steps, notices, the summary)."""
        self._clear_status()
        self.stream.write(self._style(text, style) + "\n")
        self._draw_status()
        self.stream.flush()

    def _style(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.tty and code else text

    # -- following a call -----------------------------------------------------------------------------
    def follow(self, recorder: CallRecorder) -> None:
        self._recorder = recorder
        recorder.listeners.append(self._on_record)
        if self.tty and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._refresh(), name="demo-view")

    async def stop(self) -> None:
        """Stop following: the status line is removed, the log stays."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._recorder is not None and self._on_record in self._recorder.listeners:
            self._recorder.listeners.remove(self._on_record)
        self._clear_status()
        self._recorder = None
        self.stream.flush()

    def _on_record(self, kind: str, value: Any) -> None:
        if kind == "log":
            self._clear_status()
            self.stream.write(self.format_entry(value) + "\n")
        self._draw_status()
        self.stream.flush()

    def format_entry(self, entry: LogEntry) -> str:
        label = _LABELS.get(entry.who, entry.who)
        text = entry.text
        if entry.who in ("caller", "agent", "heard"):
            text = f"“{text}”"
        limit = self.width - 18
        if self.tty and len(text) > limit > 10:
            text = text[: limit - 1] + "…"
        line = f"{entry.t:6.1f}s  {label:<10} {text}"
        return self._style(line, _COLORS.get(entry.who, ""))

    def status_text(self) -> str:
        rec = self._recorder
        if rec is None:
            return ""
        total = len(rec.script)
        done = max(0, rec.current.index - (0 if rec.current.replied else 1))
        bar = "█" * done + "░" * (total - done)
        agent = self._style(rec.agent_state, _STATE_COLORS.get(rec.agent_state, ""))
        caller = "speaking" if rec.user_state == "speaking" else rec.user_state
        return f" [{bar}] {done}/{total} requests · agent: {agent} · caller: {caller} · {rec.now():5.1f}s"

    def _draw_status(self) -> None:
        if not self.tty or self._recorder is None:
            return
        self.stream.write("\x1b[2K\r" + self.status_text())
        self._status_shown = True

    def _clear_status(self) -> None:
        if self.tty and self._status_shown:
            self.stream.write("\x1b[2K\r")
            self._status_shown = False

    async def _refresh(self) -> None:
        while True:  # cancelled by stop()
            await asyncio.sleep(REFRESH_SECONDS)
            self._draw_status()
            self.stream.flush()
