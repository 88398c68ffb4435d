"""OpenAI providers: Chat Completions LLM, transcription STT and speech TTS over HTTP; the Realtime API
(speech to speech, and streaming transcription with ``RealtimeSTT``)."""

from .llm import LLM, LLMOptions
from .realtime import RealtimeModel
from .realtime_stt import RealtimeSTT
from .stt import STT, STTOptions
from .tts import TTS, TTSOptions

__all__ = [
    "LLM",
    "LLMOptions",
    "RealtimeModel",
    "RealtimeSTT",
    "STT",
    "STTOptions",
    "TTS",
    "TTSOptions",
]
