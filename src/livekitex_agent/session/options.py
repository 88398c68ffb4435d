"""Options of an :class:`AgentSession`, validated with messages that name the bad value."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError
from ..providers.turn import TurnDetector
from ..text import DEFAULT_TTS_TEXT_TRANSFORMS, TextTransformLike, check_transforms
from ..validation import check_bool, check_instance, check_int, check_number


@dataclass(frozen=True)
class SessionOptions:
    """Turn-taking, interruption and limit settings (seconds unless said otherwise).

    ``stt_streaming``: recognize with the STT's stream when it has one (``capabilities.streaming``):
    interim transcripts while the user speaks, the final one soon after; False transcribes each VAD
    segment once it has ended.

    ``turn_detection``: how the end of the user's turn is decided. ``"vad"``: after
    ``min_endpointing_delay`` of silence. A :class:`~livekitex_agent.providers.TurnDetector` (e.g.
    ``plugins.local.SmartTurnDetector()``): asked after its ``pause_duration`` of silence, from the
    audio and the transcript; ``min_endpointing_delay`` does not apply, its ``max_pause`` does.

    ``preemptive_generation``: once the user's words are transcribed but the turn is not yet
    decided, start the LLM request and the first sentence's TTS; the reply plays them if the turn
    ends with those words, and they are dropped (never heard, never in the history) if the user
    goes on. Hides LLM and TTS latency behind the end-of-turn decision, at the cost of requests
    for turns that go on.

    ``tts_text_transforms``: what the TTS hears instead of the LLM's text, in order (names or
    functions ``str -> str``, see :mod:`livekitex_agent.text`); markdown and emoji stripped by
    default, ``()`` for none. An agent's own ``tts_text_transforms`` replace these while it speaks.
    The history and the transcript keep the text the LLM wrote.
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
    # speech over the agent with fewer words than this interrupts only if a word is not a
    # backchannel ("mm-hm", "yeah", "okay" do not stop the agent; "wait", "no, stop" do)
    min_interruption_words: int = 3
    backchannel_words: tuple[str, ...] | None = None  # None: the default list of the session's language
    stt_streaming: bool = True
    preemptive_generation: bool = False
    turn_detection: str | TurnDetector = "vad"
    tts_text_transforms: tuple[TextTransformLike, ...] = DEFAULT_TTS_TEXT_TRANSFORMS

    def __post_init__(self) -> None:
        check_bool("allow_interruptions", self.allow_interruptions)
        check_number("min_interruption_duration", self.min_interruption_duration)
        check_number("false_interruption_timeout", self.false_interruption_timeout, allow_none=True)
        check_number("min_endpointing_delay", self.min_endpointing_delay)
        check_number("max_endpointing_delay", self.max_endpointing_delay)
        check_number("user_away_timeout", self.user_away_timeout, exclusive=True, allow_none=True)
        check_number("max_session_duration", self.max_session_duration, exclusive=True, allow_none=True)
        check_number("idle_timeout", self.idle_timeout, exclusive=True, allow_none=True)
        if self.max_endpointing_delay < self.min_endpointing_delay:
            raise ConfigError(
                f"max_endpointing_delay ({self.max_endpointing_delay!r}) must be >= "
                f"min_endpointing_delay ({self.min_endpointing_delay!r})"
            )
        check_int("max_tool_steps", self.max_tool_steps)
        check_bool("stt_streaming", self.stt_streaming)
        if not isinstance(self.turn_detection, TurnDetector) and self.turn_detection != "vad":
            raise ConfigError(
                f"turn_detection={self.turn_detection!r} must be 'vad' or a TurnDetector "
                "(e.g. plugins.local.SmartTurnDetector())"
            )
        check_int("min_interruption_words", self.min_interruption_words, minimum=1)
        if self.backchannel_words is not None and (
            isinstance(self.backchannel_words, str)
            or not all(isinstance(w, str) and w.strip() for w in self.backchannel_words)
        ):
            raise ConfigError(
                f"backchannel_words={self.backchannel_words!r} must be a sequence of words or None"
            )
        check_bool("preemptive_generation", self.preemptive_generation)
        transforms = check_transforms("tts_text_transforms", self.tts_text_transforms)
        object.__setattr__(self, "tts_text_transforms", transforms)  # a list given is kept as a tuple
        check_int("max_history_items", self.max_history_items, minimum=2, allow_none=True)
        check_int("max_history_tokens", self.max_history_tokens, minimum=16, allow_none=True)


def check_session_arguments(
    *,
    providers: dict[str, tuple[Any, type]],
    realtime_connect_timeout: Any,
    realtime_reconnect_grace: Any,
    realtime_recovery_interval: Any,
    flags: dict[str, Any],
) -> None:
    """Validate ``AgentSession``'s own arguments (its options are a :class:`SessionOptions`)."""
    for name, (value, kind) in providers.items():
        check_instance(name, value, kind)
    check_number("realtime_connect_timeout", realtime_connect_timeout, exclusive=True)
    check_number("realtime_reconnect_grace", realtime_reconnect_grace, allow_none=True)
    interval = realtime_recovery_interval
    if not isinstance(interval, tuple) or len(interval) != 2:
        raise ConfigError(
            f"realtime_recovery_interval={interval!r} must be a (first, max) pair of seconds"
        )
    check_number("realtime_recovery_interval[0]", interval[0], exclusive=True)
    check_number("realtime_recovery_interval[1]", interval[1], minimum=interval[0])
    for name, value in flags.items():
        check_bool(name, value)
