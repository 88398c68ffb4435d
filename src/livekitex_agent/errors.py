"""One error taxonomy for the whole framework.

Every error a provider raises is a :class:`ProviderError` that says whether retrying can help,
what kind of failure it was and which provider raised it. Tools raise :class:`ToolError` to send
a message back to the LLM verbatim.
"""

from __future__ import annotations

import enum


class LivekitexError(Exception):
    """Base class of every error this framework raises on purpose."""

    retryable: bool = False  # whether the same request may succeed if sent again


class ConfigError(LivekitexError, ValueError):
    """Bad configuration: the message names the offending option or variable and its value."""


class ErrorCategory(enum.StrEnum):
    AUTHENTICATION = "authentication"
    RATE_LIMIT = "rate_limit"
    QUOTA = "quota"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    BAD_REQUEST = "bad_request"
    SERVER = "server"
    BAD_RESPONSE = "bad_response"
    UNKNOWN = "unknown"


class ProviderError(LivekitexError):
    """A VAD/STT/LLM/TTS/realtime provider failed.

    ``retryable`` tells the caller whether the same request may succeed if sent again.
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        retryable: bool,
        category: ErrorCategory = ErrorCategory.UNKNOWN,
        status_code: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.retryable = retryable
        self.category = category
        self.status_code = status_code
        self.code = code
        self.retry_after = retry_after  # seconds the server asked us to wait (Retry-After), if any

    def __str__(self) -> str:
        extra = f" (status {self.status_code})" if self.status_code is not None else ""
        return f"{self.provider}: {self.message}{extra}"

    def __repr__(self) -> str:
        return (
            f"ProviderError(provider={self.provider!r}, category={self.category.value!r}, "
            f"retryable={self.retryable}, message={self.message!r})"
        )


class ProviderTimeoutError(ProviderError):
    """A provider did not answer in time (always retryable)."""

    def __init__(self, message: str, *, provider: str) -> None:
        super().__init__(message, provider=provider, retryable=True, category=ErrorCategory.TIMEOUT)


class AudioInputError(LivekitexError):
    """The session's audio input failed for good: the session closes with this as its reason."""

    retryable = False


class NodeError(LivekitexError):
    """An agent's node (``Agent.llm_node``, ``tts_node``, ...) raised: the message names the node and
    the agent's class, ``__cause__`` is the original error. The session reports it (``error`` event,
    source = the node's name) and goes on: the turn it broke is cut, the next one runs the node again."""

    retryable = False

    def __init__(self, message: str, *, node: str) -> None:
        super().__init__(message)
        self.node = node  # "stt_node", "llm_node", "tts_node", "transcription_node", "realtime_audio_output_node"


class ToolError(LivekitexError):
    """Raised by a function tool: its message is given to the LLM as the tool's result, verbatim."""


class StopResponse(LivekitexError):  # noqa: N818 - a control-flow signal, not a failure
    """Raised from ``Agent.on_user_turn_completed`` to skip the reply to this user turn."""
