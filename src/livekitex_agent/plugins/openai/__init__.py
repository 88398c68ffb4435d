"""OpenAI providers: Chat Completions LLM, transcription STT and speech TTS over HTTP; the Realtime API."""

from .llm import LLM, LLMOptions
from .realtime import RealtimeModel
from .stt import STT, STTOptions
from .tts import TTS, TTSOptions

__all__ = [
    "LLM",
    "LLMOptions",
    "RealtimeModel",
    "STT",
    "STTOptions",
    "TTS",
    "TTSOptions",
]
