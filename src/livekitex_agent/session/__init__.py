"""The conversation runtime: ``AgentSession`` and its engines."""

from .agent_session import AgentSession
from .options import SessionOptions
from .run_result import RunResult
from .speech import SpeechHandle

__all__ = ["AgentSession", "RunResult", "SessionOptions", "SpeechHandle"]
