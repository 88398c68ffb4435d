"""The agent and user state machines: one transition function each, which logs and emits."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Generic, TypeVar

from ..events import AgentState, UserState

logger = logging.getLogger("livekitex_agent.session")

S = TypeVar("S", AgentState, UserState)


class IllegalTransition(RuntimeError):
    pass


_AGENT_MOVES: dict[AgentState, set[AgentState]] = {
    AgentState.INITIALIZING: {
        AgentState.LISTENING,
        AgentState.THINKING,
        AgentState.SPEAKING,
        AgentState.CLOSED,
    },
    AgentState.LISTENING: {AgentState.THINKING, AgentState.SPEAKING, AgentState.CLOSED},
    AgentState.THINKING: {AgentState.LISTENING, AgentState.SPEAKING, AgentState.CLOSED},
    AgentState.SPEAKING: {AgentState.LISTENING, AgentState.THINKING, AgentState.CLOSED},
    AgentState.CLOSED: set(),
}

_USER_MOVES: dict[UserState, set[UserState]] = {
    UserState.LISTENING: {UserState.SPEAKING, UserState.AWAY},
    UserState.SPEAKING: {UserState.LISTENING},
    UserState.AWAY: {UserState.SPEAKING, UserState.LISTENING},
}


class StateMachine(Generic[S]):
    """Holds a state; ``move`` checks the transition, logs ``old -> new`` and calls ``on_change``."""

    def __init__(
        self, name: str, initial: S, moves: dict[S, set[S]], on_change: Callable[[S, S], None]
    ) -> None:
        self.name = name
        self.state: S = initial
        self._moves: dict[S, set[S]] = moves
        self._on_change: Callable[[S, S], None] = on_change

    def move(self, new: S) -> bool:
        """Go to ``new``; returns False when already there. Raises on an illegal move."""
        old = self.state
        if new == old:
            return False
        if new not in self._moves[old]:
            raise IllegalTransition(f"{self.name} state cannot go from {old.value!r} to {new.value!r}")
        self.state = new
        logger.debug("%s state %s -> %s", self.name, old.value, new.value)
        self._on_change(old, new)
        return True


def agent_state_machine(on_change: Callable[[AgentState, AgentState], None]) -> StateMachine[AgentState]:
    return StateMachine("agent", AgentState.INITIALIZING, _AGENT_MOVES, on_change)


def user_state_machine(on_change: Callable[[UserState, UserState], None]) -> StateMachine[UserState]:
    return StateMachine("user", UserState.LISTENING, _USER_MOVES, on_change)
