"""The turn in flight on the realtime engine, and the promise that it is answered exactly once.

From the end of the user's turn (or a reply asked for) to the end of its answer, a :class:`TurnGuard`
follows the turn through one explicit state machine::

    idle -> awaiting        the user's turn ended, or a reply was asked for
    awaiting -> answering   the model's response was created
    awaiting|answering -> recovering   the connection dropped or stalled before the answer was complete
    recovering -> awaiting  reconnected: the answer is asked for again (continuing what was heard)
    awaiting|answering|recovering -> handed_over   the model failed: the pipeline answers the turn
    awaiting|answering|recovering -> idle   answered, or the user took the floor again
    handed_over -> idle     the pipeline answered

The speech that answers the turn (its *owner*) is the only one that may answer it; when the model
fails, that speech moves to the pipeline itself, so nobody else answers the same turn.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass

from ..chat import ChatContext, ChatMessage
from ..media.frame import AudioFrame
from .speech import SpeechHandle
from .state import IllegalTransition

logger = logging.getLogger("livekitex_agent.session")

MAX_DROPS_PER_TURN = 2  # reconnects after a dropped connection before the pipeline takes the turn
MAX_STALLS_PER_TURN = 1  # a stalled model gets one reconnect; stalled again, the pipeline answers


class TurnPhase(enum.StrEnum):
    IDLE = "idle"  # nothing is owed to the user
    AWAITING = "awaiting"  # the turn ended (or a reply was asked for); no response yet
    ANSWERING = "answering"  # a response for it streams or plays
    RECOVERING = "recovering"  # the connection dropped or stalled mid-turn; waiting for the reconnect
    HANDED_OVER = "handed_over"  # the realtime model failed: the pipeline answers the turn


_P = TurnPhase
_MOVES: dict[TurnPhase, frozenset[TurnPhase]] = {
    _P.IDLE: frozenset({_P.AWAITING}),
    _P.AWAITING: frozenset({_P.ANSWERING, _P.RECOVERING, _P.HANDED_OVER, _P.IDLE}),
    _P.ANSWERING: frozenset({_P.IDLE, _P.RECOVERING, _P.HANDED_OVER}),
    _P.RECOVERING: frozenset({_P.AWAITING, _P.HANDED_OVER, _P.IDLE}),
    _P.HANDED_OVER: frozenset({_P.IDLE}),
}


@dataclass(eq=False)
class Turn:
    """One user turn in flight."""

    owner: SpeechHandle | None = None  # the speech answering it (None: nobody has started yet)
    user_item_id: str | None = None  # the user's message in the history, once the model committed it
    spoken: tuple[float, float] | None = None  # loop times the user's words began and were committed
    partial: ChatMessage | None = None  # the part of the answer the user already heard
    drops: int = 0
    stalls: int = 0


@dataclass
class UntranscribedTurn:
    """The user's turn the model heard but never transcribed: its message (empty) and its audio."""

    message: ChatMessage
    audio: list[AudioFrame]


class TurnHandedOver(Exception):
    """The realtime model failed with the turn unanswered: the pipeline answers it in the same speech.

    ``partial`` is what the user heard of the answer (the pipeline continues it); ``untranscribed``
    is the user's turn when the model never transcribed it (the pipeline's STT does first).
    """

    def __init__(self, *, partial: ChatMessage | None, untranscribed: UntranscribedTurn | None) -> None:
        super().__init__("the realtime model failed; the pipeline answers the turn")
        self.partial = partial
        self.untranscribed = untranscribed


class TurnGuard:
    """Holds the turn in flight and its phase; :meth:`move` is the only transition."""

    def __init__(self) -> None:
        self.phase = TurnPhase.IDLE
        self.turn: Turn | None = None

    def move(self, new: TurnPhase, reason: str) -> None:
        """Go to ``new`` (logging ``old -> new``); raises :class:`IllegalTransition` on an illegal move."""
        old = self.phase
        if new is old:
            return
        if new not in _MOVES[old]:
            raise IllegalTransition(f"turn cannot go from {old.value!r} to {new.value!r} ({reason})")
        self.phase = new
        logger.debug("turn %s -> %s (%s)", old.value, new.value, reason)
        if new is TurnPhase.IDLE:
            self.turn = None

    @property
    def in_flight(self) -> bool:
        return self.phase not in (TurnPhase.IDLE, TurnPhase.HANDED_OVER)

    def begin(self, reason: str, *, owner: SpeechHandle | None = None, user_item_id: str | None = None) -> Turn:
        """A new turn awaits its answer (a turn still in flight is superseded by it)."""
        if self.phase is not TurnPhase.IDLE:
            self.move(TurnPhase.IDLE, f"superseded: {reason}")
        self.turn = Turn(owner=owner, user_item_id=user_item_id)
        self.move(TurnPhase.AWAITING, reason)
        return self.turn

    def adopt(self, speech: SpeechHandle, reason: str) -> Turn:
        """``speech`` answers the turn in flight if nobody does yet, else it starts a turn of its own.
        A turn handed over while its owner was still queued stays that owner's (to pass on)."""
        turn = self.turn
        if turn is not None and (turn.owner is speech or (self.in_flight and turn.owner is None)):
            turn.owner = speech
            return turn
        return self.begin(reason, owner=speech)

    def current(self, turn: Turn) -> bool:
        return turn is self.turn

    def handed_to(self, turn: Turn, speech: SpeechHandle) -> bool:
        """``turn`` was handed over to the pipeline with ``speech`` to answer it there."""
        return turn is self.turn and self.phase is TurnPhase.HANDED_OVER and turn.owner is speech

    def finish(self, turn: Turn, reason: str) -> None:
        """``turn`` was answered (or given up); a no-op for a turn that is no longer the current one."""
        if turn is self.turn and self.phase is not TurnPhase.HANDED_OVER:
            self.move(TurnPhase.IDLE, reason)


def continuation_instructions(heard: str, instructions: str | None = None) -> str:
    """Instructions that make a model continue an answer the user heard only the start of."""
    text = (
        "Your previous answer was cut off by a technical problem after the user heard: "
        f"\u201c{heard}\u201d. Continue that answer from exactly where it stopped, without repeating "
        "any of it and without mentioning the interruption."
    )
    return f"{instructions}\n\n{text}" if instructions else text


def merge_continuation(history: ChatContext, partial: ChatMessage, continuation: ChatMessage) -> None:
    """Make ``continuation`` the turn's one assistant message: the heard part followed by the rest."""
    if history.get(partial.id) is not None:
        history.remove(partial.id)
    head, tail = partial.content.strip(), continuation.content.strip()
    continuation.content = f"{head} {tail}".strip() if tail else head
    continuation.interrupted = continuation.interrupted or not tail
    history.update_item(continuation)
