"""Provider interfaces (VAD, STT, LLM, TTS, realtime) that plugins implement.

The fallback providers (``FallbackLLM`` ...) are imported on first use (module ``__getattr__``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_getattr
from .base import NO_RETRY, Provider, RetryPolicy, with_retries
from .llm import LLM, ChatChunk, CompletionUsage, GeneratorLLMStream, LLMStream, ToolChoice
from .realtime import (
    ConnectionState,
    GenerationResult,
    MessageGeneration,
    RealtimeEvent,
    RealtimeGeneration,
    RealtimeModel,
    RealtimeOptions,
    RealtimeSession,
    TurnDetection,
)
from .segmenter import SpeechSegmenter, WindowBuffer
from .stt import STT, SpeechAlternative, SpeechEvent, SpeechEventType, STTCapabilities, STTStream
from .tts import TTS, GeneratorTTSStream, TTSStream
from .turn import TurnDetector
from .vad import VAD, VADEvent, VADEventType, VADOptions, VADStream

if TYPE_CHECKING:
    from .fallback import AvailabilityChangedEvent, FallbackLLM, FallbackOptions, FallbackSTT, FallbackTTS

_FALLBACK = ("AvailabilityChangedEvent", "FallbackLLM", "FallbackOptions", "FallbackSTT", "FallbackTTS")
_LAZY = dict.fromkeys(_FALLBACK, ".fallback")

__all__ = [
    "LLM",
    "NO_RETRY",
    "STT",
    "TTS",
    "VAD",
    "AvailabilityChangedEvent",
    "ChatChunk",
    "CompletionUsage",
    "ConnectionState",
    "FallbackLLM",
    "FallbackOptions",
    "FallbackSTT",
    "FallbackTTS",
    "GenerationResult",
    "GeneratorLLMStream",
    "GeneratorTTSStream",
    "LLMStream",
    "MessageGeneration",
    "Provider",
    "RealtimeEvent",
    "RealtimeGeneration",
    "RealtimeModel",
    "RealtimeOptions",
    "RealtimeSession",
    "RetryPolicy",
    "STTCapabilities",
    "STTStream",
    "SpeechAlternative",
    "SpeechEvent",
    "SpeechEventType",
    "SpeechSegmenter",
    "TTSStream",
    "ToolChoice",
    "TurnDetection",
    "TurnDetector",
    "VADEvent",
    "VADEventType",
    "VADOptions",
    "VADStream",
    "WindowBuffer",
    "with_retries",
]


__getattr__ = lazy_getattr(__name__, _LAZY)
