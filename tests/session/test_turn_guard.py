"""The turn-in-flight state machine and the stall bounds, as pure code."""

from __future__ import annotations

import logging

import pytest

from livekitex_agent.chat import ChatContext, ChatMessage
from livekitex_agent.errors import ConfigError
from livekitex_agent.session import AgentSession, RealtimeStallTimeouts
from livekitex_agent.session.speech import SpeechHandle
from livekitex_agent.session.state import IllegalTransition
from livekitex_agent.session.turn_guard import (
    TurnGuard,
    TurnPhase,
    continuation_instructions,
    merge_continuation,
)

P = TurnPhase


async def test_a_turn_moves_through_its_phases_and_logs_each_move(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="livekitex_agent.session")
    guard = TurnGuard()
    turn = guard.begin("the user's turn ended", user_item_id="u1")
    for phase in (P.ANSWERING, P.RECOVERING, P.AWAITING, P.ANSWERING):
        guard.move(phase, "test")
    guard.finish(turn, "answered")
    assert guard.phase is P.IDLE and guard.turn is None
    assert "turn idle -> awaiting (the user's turn ended)" in caplog.text
    assert "turn recovering -> awaiting (test)" in caplog.text


async def test_illegal_moves_raise() -> None:
    guard = TurnGuard()
    with pytest.raises(IllegalTransition, match="turn cannot go from 'idle' to 'answering'"):
        guard.move(P.ANSWERING, "no turn")
    guard.begin("t")
    guard.move(P.HANDED_OVER, "failed")
    with pytest.raises(IllegalTransition, match="'handed_over' to 'recovering'"):
        guard.move(P.RECOVERING, "too late")


async def test_one_speech_owns_a_turn_and_a_new_turn_supersedes_the_old_one() -> None:
    guard = TurnGuard()
    first = SpeechHandle(source="generate_reply", allow_interruptions=True, user_initiated=False)
    other = SpeechHandle(source="generate_reply", allow_interruptions=True, user_initiated=True)
    turn = guard.begin("committed")
    assert guard.adopt(first, "reply") is turn and turn.owner is first
    second = guard.adopt(other, "another reply")  # the turn is taken: a turn of its own
    assert second is not turn and second.owner is other and not guard.current(turn)
    guard.finish(turn, "late finish of a superseded turn")  # a no-op
    assert guard.phase is P.AWAITING and guard.current(second)


def test_continuation_merges_into_one_assistant_message() -> None:
    ctx = ChatContext()
    ctx.append(ChatMessage(role="user", content="tell me"))
    partial = ChatMessage(role="assistant", content="Once upon a", interrupted=True)
    rest = ChatMessage(role="assistant", content="time, the end.")
    ctx.append(partial)
    ctx.append(rest)
    merge_continuation(ctx, partial, rest)
    assert [(m.role, m.content, m.interrupted) for m in ctx.messages()] == [
        ("user", "tell me", False), ("assistant", "Once upon a time, the end.", False)
    ]
    assert "\u201cOnce upon a\u201d" in continuation_instructions("Once upon a", "Be brief.")


@pytest.mark.parametrize("field", ["response_created", "first_output", "output_gap"])
@pytest.mark.parametrize("bad", [0, -1.0, float("inf"), float("nan"), "2", True])
def test_stall_bounds_name_the_bad_value(field: str, bad: object) -> None:
    with pytest.raises(ConfigError, match=rf"realtime_stall_timeouts\.{field}={bad!r} must be"):
        RealtimeStallTimeouts(**{field: bad})  # type: ignore[arg-type]


def test_stall_bounds_must_be_given_as_realtime_stall_timeouts() -> None:
    with pytest.raises(ConfigError, match="realtime_stall_timeouts must be a RealtimeStallTimeouts, got dict"):
        AgentSession(realtime_stall_timeouts={"output_gap": 1})  # type: ignore[arg-type]
