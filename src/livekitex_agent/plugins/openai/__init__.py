"""OpenAI providers: Chat Completions LLM, transcription STT and speech TTS over HTTP."""

from .llm import LLM, LLMOptions
from .stt import STT, STTOptions
from .tts import TTS, TTSOptions

__all__ = [
    "LLM",
    "LLMOptions",
    "STT",
    "STTOptions",
    "TTS",
    "TTSOptions",
]
