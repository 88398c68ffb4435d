"""What a realtime reply needs from its engine and its session (small protocols, so that the reply
module imports neither), and how a reply tells its engine that the answer was cut or never came."""

from __future__ import annotations

from typing import Any, Protocol

from ..media.io import SessionIO
from ..providers import realtime as rtm
from ..tools.registry import ToolRegistry
from .host import PlayingReply, SessionHistory, SessionSignals, SessionStates
from .options import SessionOptions
from .realtime_stall import RealtimeStallTimeouts
from .turn_guard import Turn, TurnGuard, TurnHandedOver


class ReplyAgent(Protocol):
    @property
    def tool_registry(self) -> ToolRegistry: ...


class ReplySession(SessionSignals, SessionStates, SessionHistory, Protocol):
    """What a realtime reply uses of the session (a part of :class:`SessionHost`)."""

    options: SessionOptions

    @property
    def io(self) -> SessionIO | None: ...

    @property
    def current_agent(self) -> ReplyAgent: ...

    def set_playing(self, reply: PlayingReply) -> None: ...
    async def update_agent(self, agent: Any) -> None: ...


class ReplyHost(Protocol):
    """What a realtime reply uses of its engine."""

    rt: rtm.RealtimeSession
    guard: TurnGuard
    stall_timeouts: RealtimeStallTimeouts
    label: str
    speech_stopped_at: float | None
    handoff_types: tuple[type, ...]  # what a tool returns to hand the conversation to another agent

    @property
    def session(self) -> ReplySession: ...

    @property
    def failed(self) -> bool:
        """The model failed (or the engine is closing): nothing more can be asked of it."""

    @property
    def closed(self) -> bool: ...

    def fail(self, reason: str) -> None: ...
    async def request(self, instructions: str | None) -> rtm.RealtimeGeneration: ...
    async def wait_connected(self) -> bool: ...
    def turn_lost(self, turn: Turn, reason: str, *, stalled: bool, since: float | None = None) -> None: ...
    def handed_over(self, turn: Turn) -> TurnHandedOver: ...


class AnswerCut(Exception):
    """The answer was cut (a dropped or stalled connection, a failed response): recover, ask again."""


class Stalled(Exception):
    """The model accepted the request and did not answer in time (quiet since loop time ``since``)."""

    def __init__(self, reason: str, since: float) -> None:
        super().__init__(reason)
        self.since = since
