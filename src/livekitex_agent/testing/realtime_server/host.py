"""What a test-server connection needs from the server that accepted it (so connections do not
import the server)."""

from __future__ import annotations

from typing import Any, Literal, Protocol

from .records import ConnectionRecord
from .responses import ResponseRun, ResponseSettings
from .script import ScriptContext, ScriptedResponse


class InjectedError(Protocol):
    """An error the server answers a client event with instead of handling it."""

    @property
    def code(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def error_type(self) -> str: ...


class ConnectionHost(ResponseSettings, Protocol):
    """What a connection needs from the server that accepted it: its knobs, scripted replies and
    transcripts, injected faults, and the event record."""

    @property
    def event_delay(self) -> float: ...
    @property
    def never_answer(self) -> bool: ...
    @property
    def transcription_after_response(self) -> bool: ...

    def _record(self, record: ConnectionRecord, direction: Literal["client", "server"],
                event: dict[str, Any]) -> None: ...
    def _take_event_fault(self, event_type: str) -> InjectedError | None: ...
    def _next_response(self, ctx: ScriptContext) -> ScriptedResponse: ...
    def _next_transcript(self) -> str | None: ...
    async def _after_audio_delta(self, index: int, run: ResponseRun) -> None:
        """After each audio delta of ``run`` on connection ``index``: maybe inject a fault."""
