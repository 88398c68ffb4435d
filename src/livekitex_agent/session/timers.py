"""Session limits: user away, idle timeout and maximum duration."""

from __future__ import annotations

import asyncio

from ..events import AgentState, CloseReason, UserState
from .host import TimerHost
from .options import SessionOptions


class SessionTimers:
    """Arms and re-arms the session's timers on activity (state changes), never per frame."""

    def __init__(self, session: TimerHost, options: SessionOptions) -> None:
        self._session = session
        self._options = options
        self._loop = asyncio.get_running_loop()
        self._away: asyncio.TimerHandle | None = None
        self._idle: asyncio.TimerHandle | None = None
        self._max: asyncio.TimerHandle | None = None

    def start(self) -> None:
        if self._options.max_session_duration is not None:
            self._max = self._loop.call_later(self._options.max_session_duration, self._on_max_duration)
        self.on_activity()

    def on_activity(self) -> None:
        s = self._session
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        if self._away is not None:
            self._away.cancel()
            self._away = None
        if s.closed or s.agent_state is AgentState.CLOSED:
            return
        if s.agent_state is not AgentState.LISTENING or s.user_state is UserState.SPEAKING:
            return
        if self._options.idle_timeout is not None:
            self._idle = self._loop.call_later(self._options.idle_timeout, self._on_idle)
        if self._options.user_away_timeout is not None and s.user_state is UserState.LISTENING:
            self._away = self._loop.call_later(self._options.user_away_timeout, self._on_away)

    def _on_away(self) -> None:
        self._away = None
        self._session.set_user_state(UserState.AWAY)

    def _on_idle(self) -> None:
        self._idle = None
        self._session.request_close(CloseReason.IDLE_TIMEOUT)

    def _on_max_duration(self) -> None:
        self._max = None
        self._session.request_close(CloseReason.MAX_DURATION)

    def cancel(self) -> None:
        for handle in (self._away, self._idle, self._max):
            if handle is not None:
                handle.cancel()
        self._away = self._idle = self._max = None
