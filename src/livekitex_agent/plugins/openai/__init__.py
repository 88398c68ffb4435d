"""OpenAI providers: Chat Completions LLM, transcription STT and speech TTS over HTTP; the Realtime API
(speech to speech, and streaming transcription with ``RealtimeSTT``).

Options the providers share:

- ``api_key``: the API key; None: ``$OPENAI_API_KEY``. It never appears in logs or errors.
- ``base_url``: the API's base URL (a proxy or a compatible server); None: ``$OPENAI_BASE_URL``,
  else the public API.
- ``retry_policy``: how failed requests are retried before any output arrived (attempts, backoff, timeout).
- ``read_timeout``: seconds without a byte from the server before a streamed response fails.
- ``connect_timeout``: seconds to open the connection (websocket) before the attempt fails.
- ``heartbeat``: seconds between websocket pings that detect a dead connection; None: no pings.
- ``language``: the speech's language (ISO-639-1, e.g. ``"en"``), a hint to the transcription model.
- ``prompt``: text that guides the transcription (names, vocabulary, style).
"""

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
