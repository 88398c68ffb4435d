"""What the test server records of each connection: its events both ways, its conversation, its end."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass
class RecordedEvent:
    """One event a connection received (``client``) or sent (``server``), in the server's global order."""

    seq: int  # order across all connections of the server
    direction: Literal["client", "server"]
    event: dict[str, Any]


@dataclass
class ConnectionRecord:
    """Everything one connection did: its events both ways, its conversation, how it ended."""

    index: int
    model: str
    expires_at: int
    opened_seq: int
    headers: dict[str, str]  # the Authorization value is not kept
    authorized: bool = True
    events: list[RecordedEvent] = field(default_factory=list)
    items: list[dict[str, Any]] = field(default_factory=list)
    session: dict[str, Any] = field(default_factory=dict)
    truncations: list[tuple[str, int]] = field(default_factory=list)
    intent: str = ""  # "transcription" for ``?intent=transcription`` connections (transcription sessions)
    closed: bool = False
    close_code: int | None = None
    closed_seq: int | None = None

    @property
    def client_events(self) -> list[dict[str, Any]]:
        return [r.event for r in self.events if r.direction == "client"]

    @property
    def server_events(self) -> list[dict[str, Any]]:
        return [r.event for r in self.events if r.direction == "server"]

    def client_types(self) -> list[str]:
        return [e["type"] for e in self.client_events]

    def server_types(self) -> list[str]:
        return [e["type"] for e in self.server_events]

    def seq_of(self, event_type: str, direction: Literal["client", "server"] = "server", nth: int = 0) -> int:
        """The global sequence number of the ``nth`` event of ``event_type`` (KeyError if absent)."""
        seqs = [r.seq for r in self.events if r.direction == direction and r.event.get("type") == event_type]
        if len(seqs) <= nth:
            raise KeyError(f"connection {self.index} has no {direction} event {event_type!r} #{nth}")
        return seqs[nth]
