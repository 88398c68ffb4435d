"""LiveKit room conventions for agents (topics, attribute names) and the pure rules built on them.

Everything here is synchronous and free of I/O so it can be tested without a server: which
participant the agent links to, the attributes of a transcription stream, and how pending
transcription updates are merged when the room is slower than the session.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from livekit import rtc

TOPIC_TRANSCRIPTION = "lk.transcription"
TOPIC_CHAT = "lk.chat"
ATTR_TRANSCRIBED_TRACK_ID = "lk.transcribed_track_id"
ATTR_SEGMENT_ID = "lk.segment_id"
ATTR_TRANSCRIPTION_FINAL = "lk.transcription_final"
ATTR_AGENT_STATE = "lk.agent.state"
# dev data (off unless enabled; see dev_data.py): per-turn latency and tool calls, JSON data packets
TOPIC_AGENT_METRICS = "lk.agent.metrics"
TOPIC_AGENT_TOOLS = "lk.agent.tools"

# Participants whose microphone an agent may listen to: people (browsers, apps), phone callers
# and connectors/bridges that carry a person's audio. Never other agents, egress or ingress.
LINKABLE_KINDS: frozenset[int] = frozenset(
    {
        rtc.ParticipantKind.PARTICIPANT_KIND_STANDARD,
        rtc.ParticipantKind.PARTICIPANT_KIND_SIP,
        rtc.ParticipantKind.PARTICIPANT_KIND_CONNECTOR,
        rtc.ParticipantKind.PARTICIPANT_KIND_BRIDGE,
    }
)


def new_segment_id() -> str:
    """A fresh transcription segment id (``SG_`` + 12 hex digits)."""
    return "SG_" + uuid.uuid4().hex[:12]


def select_participant(
    candidates: Iterable[tuple[str, int]],
    *,
    identity: str | None,
    linkable_kinds: frozenset[int] = LINKABLE_KINDS,
) -> str | None:
    """Pick the participant to link from ``(identity, kind)`` pairs in join order.

    With ``identity`` only that participant qualifies (whatever its kind); otherwise the first one
    whose kind is linkable. Returns ``None`` when nobody qualifies yet.
    """
    for ident, kind in candidates:
        if identity is not None:
            if ident == identity:
                return ident
        elif kind in linkable_kinds:
            return ident
    return None


def transcription_attributes(segment_id: str, track_sid: str | None, *, final: bool) -> dict[str, str]:
    """Attributes of a ``lk.transcription`` text stream."""
    attrs = {ATTR_SEGMENT_ID: segment_id, ATTR_TRANSCRIPTION_FINAL: "true" if final else "false"}
    if track_sid:
        attrs[ATTR_TRANSCRIBED_TRACK_ID] = track_sid
    return attrs


# -- pending transcription operations ------------------------------------------------------------


@dataclass
class DeltaOp:
    """Append ``text`` to the open stream of ``segment_id`` (opened on first use)."""

    segment_id: str
    text: str


@dataclass
class CloseOp:
    """Close the stream of ``segment_id`` and mark it final."""

    segment_id: str


@dataclass
class SendOp:
    """Send ``text`` as one whole stream (used for user transcripts: each update repeats the text)."""

    segment_id: str
    text: str
    final: bool
    sender_identity: str
    track_sid: str | None


TranscriptionOp = DeltaOp | CloseOp | SendOp


class PendingOps:
    """A FIFO of transcription operations that merges what the room has not taken yet.

    Consecutive deltas of one segment are joined into one write, and an interim user transcript
    still waiting is replaced by the newer one of the same segment (only the latest matters).
    Nothing final is ever dropped, and the order of segments is kept.
    """

    def __init__(self) -> None:
        self._ops: deque[TranscriptionOp] = deque()

    def __len__(self) -> int:
        return len(self._ops)

    def push(self, op: TranscriptionOp) -> None:
        last = self._ops[-1] if self._ops else None
        if isinstance(op, DeltaOp) and isinstance(last, DeltaOp) and last.segment_id == op.segment_id:
            last.text += op.text
            return
        if (
            isinstance(op, SendOp)
            and isinstance(last, SendOp)
            and last.segment_id == op.segment_id
            and not last.final
        ):
            self._ops[-1] = op
            return
        self._ops.append(op)

    def pop(self) -> TranscriptionOp | None:
        return self._ops.popleft() if self._ops else None

    def clear(self) -> None:
        self._ops.clear()
