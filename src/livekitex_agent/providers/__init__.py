"""Provider interfaces (VAD, STT, LLM, TTS, realtime) that plugins implement."""

from .base import NO_RETRY, Provider, RetryPolicy, with_retries
from .fallback import AvailabilityChangedEvent, FallbackLLM, FallbackOptions, FallbackSTT, FallbackTTS
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
