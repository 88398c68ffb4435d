"""Options of an :class:`AgentSession`, validated with messages that name the bad value."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError


@dataclass(frozen=True)
class SessionOptions:
    """Turn-taking, interruption and limit settings (seconds unless said otherwise).

    ``stt_streaming``: recognize with the STT's stream when it has one (``capabilities.streaming``):
    interim transcripts while the user speaks, the final one soon after; False transcribes each VAD
    segment once it has ended.
    """

    allow_interruptions: bool = True  # the user's speech may interrupt the agent (barge-in)
    min_interruption_duration: float = 0.5  # user speech this long over the agent's pauses it
    # the paused agent resumes when the user's speech brings no words within this long after it; None: never
    false_interruption_timeout: float | None = 2.0
    min_endpointing_delay: float = 0.5  # silence after the user's speech before the turn ends
    max_endpointing_delay: float = 6.0  # longest wait for a slow transcript before the turn ends anyway
    max_tool_steps: int = 3  # LLM rounds with tool calls per reply; the last round may not call tools
    user_away_timeout: float | None = 15.0  # quiet on both sides this long: user state becomes away
    max_session_duration: float | None = None  # the session closes after this long (max_duration)
    # the session closes after this long listening in silence (idle_timeout)
    idle_timeout: float | None = None
    max_history_items: int | None = 400  # the oldest history items are trimmed beyond this many items
    max_history_tokens: int | None = 32_000  # ... and beyond about this many tokens (~4 characters each)
    stt_streaming: bool = True

    def __post_init__(self) -> None:
        def positive(name: str, allow_zero: bool = True, allow_none: bool = False) -> None:
            value = getattr(self, name)
            if value is None and allow_none:
                return
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise ConfigError(f"{name} must be a number, got {value!r}")
            if value < 0 or (value == 0 and not allow_zero):
                raise ConfigError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")

        positive("min_interruption_duration")
        positive("false_interruption_timeout", allow_none=True)
        positive("min_endpointing_delay")
        positive("max_endpointing_delay")
        positive("user_away_timeout", allow_zero=False, allow_none=True)
        positive("max_session_duration", allow_zero=False, allow_none=True)
        positive("idle_timeout", allow_zero=False, allow_none=True)
        if self.max_endpointing_delay < self.min_endpointing_delay:
            raise ConfigError(
                f"max_endpointing_delay ({self.max_endpointing_delay!r}) must be >= "
                f"min_endpointing_delay ({self.min_endpointing_delay!r})"
            )
        if not isinstance(self.max_tool_steps, int) or self.max_tool_steps < 0:
            raise ConfigError(f"max_tool_steps must be an integer >= 0, got {self.max_tool_steps!r}")
        if not isinstance(self.stt_streaming, bool):
            raise ConfigError(f"stt_streaming must be True or False, got {self.stt_streaming!r}")
        if self.max_history_items is not None and self.max_history_items < 2:
            raise ConfigError(f"max_history_items must be >= 2 or None, got {self.max_history_items!r}")
        if self.max_history_tokens is not None and self.max_history_tokens < 16:
            raise ConfigError(f"max_history_tokens must be >= 16 or None, got {self.max_history_tokens!r}")
