"""The conversation runtime: ``AgentSession`` and its engines."""

from .agent_session import AgentSession
from .options import SessionOptions
from .realtime_stall import RealtimeStallTimeouts
from .run_result import RunResult
from .speech import SpeechHandle

__all__ = ["AgentSession", "RealtimeStallTimeouts", "RunResult", "SessionOptions", "SpeechHandle"]
