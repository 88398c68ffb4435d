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

Each provider's module (and aiohttp with it) is imported when the provider is first used
(module ``__getattr__``), so importing the plugin costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...lazy import lazy_getattr

if TYPE_CHECKING:
    from .llm import LLM, LLMOptions
    from .realtime import RealtimeModel
    from .realtime_stt import RealtimeSTT
    from .stt import STT, STTOptions
    from .tts import TTS, TTSOptions

_EXPORTS = {
    "LLM": ".llm",
    "LLMOptions": ".llm",
    "RealtimeModel": ".realtime",
    "RealtimeSTT": ".realtime_stt",
    "STT": ".stt",
    "STTOptions": ".stt",
    "TTS": ".tts",
    "TTSOptions": ".tts",
}

__all__ = ["LLM", "LLMOptions", "RealtimeModel", "RealtimeSTT", "STT", "STTOptions", "TTS", "TTSOptions"]

__getattr__ = lazy_getattr(__name__, _EXPORTS)
