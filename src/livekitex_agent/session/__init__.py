"""The conversation runtime: ``AgentSession`` and its engines."""

from .agent_session import AgentSession
from .options import SessionOptions
from .realtime_stall import RealtimeStallTimeouts
from .recording import RecordingOptions, SessionReport
from .run_result import RunResult
from .speech import SpeechHandle
from .tracing import TracingOptions

__all__ = [
    "AgentSession",
    "RealtimeStallTimeouts",
    "RecordingOptions",
    "RunResult",
    "SessionOptions",
    "SessionReport",
    "SpeechHandle",
    "TracingOptions",
]
