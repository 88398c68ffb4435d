"""A local, protocol-faithful OpenAI Realtime (GA) server for tests: scripted replies, fault injection,
and a record of every event. See :class:`RealtimeTestServer`."""

from .records import ConnectionRecord, RecordedEvent
from .script import (
    Script,
    ScriptContext,
    ScriptedFunctionCall,
    ScriptedMessage,
    ScriptedResponse,
    ScriptItem,
    ToneGenerator,
)
from .server import RealtimeTestServer

__all__ = [
    "ConnectionRecord",
    "RealtimeTestServer",
    "RecordedEvent",
    "Script",
    "ScriptContext",
    "ScriptItem",
    "ScriptedFunctionCall",
    "ScriptedMessage",
    "ScriptedResponse",
    "ToneGenerator",
]
