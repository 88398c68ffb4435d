"""``openai.RealtimeSTT``: streaming transcription over a Realtime API transcription session (GA).

One websocket per speech segment: ``wss://.../v1/realtime?intent=transcription``, then
``session.update`` with ``session.type = "transcription"`` (manual turns: ``turn_detection: null``).
The segment's audio is appended as it arrives (24 kHz PCM16, ~100 ms chunks); ``end_input``
commits it; ``conversation.item.input_audio_transcription.delta`` events become interim
transcripts and ``.completed`` the final one. The socket opens while the user starts speaking,
so its set-up time is hidden behind the speech.

The message handling (:class:`TranscriptAssembler`) is pure code, tested on recorded messages;
:class:`RealtimeSTTStream` is the async shell around it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

import aiohttp

from ...errors import ConfigError, ErrorCategory, ProviderError
from ...log import install_redaction
from ...media.frame import AudioFrame
from ...providers.base import RetryPolicy
from ...providers.stt import (
    STT,
    EventQueue,
    SpeechAlternative,
    SpeechEvent,
    SpeechEventType,
    STTCapabilities,
    STTStream,
    iterate_events,
)
from ...validation import check_number
from .client import configured_base_url, resolve_api_key
from .realtime.audio import AudioChunker
from .realtime.client_events import audio_append, audio_commit, dumps, session_update
from .realtime.connection import Connection, close_error, open_connection, server_error
from .realtime.model import realtime_url
from .realtime.protocol import (
    SAMPLE_RATE,
    AudioCommitted,
    ErrorEvent,
    ProtocolError,
    ServerEvent,
    TranscriptionCompleted,
    TranscriptionDelta,
    TranscriptionFailed,
    parse_server_event,
)

logger = logging.getLogger("livekitex_agent.plugins.openai")

_MIN_COMMIT_BYTES = SAMPLE_RATE * 2 // 10  # the server refuses to commit less than 100 ms
_MAX_PENDING = 600  # messages (~60 s of audio) held while the socket opens
_BENIGN_CODES = frozenset({"input_audio_buffer_commit_empty"})


def transcription_session(model: str, language: str | None, prompt: str | None) -> dict[str, Any]:
    """The ``session`` of a ``session.update`` for a transcription session with manual turns."""
    transcription: dict[str, Any] = {"model": model}
    if language:
        transcription["language"] = language.split("-")[0].lower()  # ISO-639-1: "en-US" → "en"
    if prompt:
        transcription["prompt"] = prompt
    return {
        "type": "transcription",
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": SAMPLE_RATE},
                "transcription": transcription,
                "turn_detection": None,
            }
        },
    }


class TranscriptAssembler:
    """Turns the server events of one committed segment into interim and final speech events.

    ``feed`` returns the speech event an event produced (or None) and raises :class:`ProviderError`
    for a failed transcription or a server error; ``done`` is True once the final has been produced.
    """

    def __init__(self, provider: str, *, language: str | None, secrets: tuple[str, ...] = ()) -> None:
        self._provider = provider
        self._language = language
        self._secrets = secrets
        self._item_id: str | None = None
        self._text = ""
        self.done = False

    def feed(self, event: ServerEvent) -> SpeechEvent | None:
        if isinstance(event, AudioCommitted):
            self._item_id = event.item_id
        elif isinstance(event, TranscriptionDelta) and self._ours(event.item_id):
            self._text += event.delta
            text = self._text.strip()
            return self._event(SpeechEventType.INTERIM_TRANSCRIPT, text) if text else None
        elif isinstance(event, TranscriptionCompleted) and self._ours(event.item_id):
            self.done = True
            return self._event(SpeechEventType.FINAL_TRANSCRIPT, event.transcript.strip())
        elif isinstance(event, TranscriptionFailed) and self._ours(event.item_id):
            raise ProviderError(
                f"transcription failed: {event.code or 'error'}: {event.message}",
                provider=self._provider,
                retryable=False,
                category=ErrorCategory.BAD_RESPONSE,
                code=event.code,
            )
        elif isinstance(event, ErrorEvent) and event.code not in _BENIGN_CODES:
            raise server_error(event, provider=self._provider, secrets=self._secrets)
        return None

    def _ours(self, item_id: str) -> bool:
        return self._item_id is None or item_id == self._item_id

    def _event(self, kind: SpeechEventType, text: str) -> SpeechEvent:
        return SpeechEvent(kind, [SpeechAlternative(text, language=self._language)])


class RealtimeSTT(STT):
    """Streaming speech-to-text with an OpenAI Realtime transcription session.

    ``model``: a transcription model (``gpt-4o-transcribe``, ``gpt-4o-mini-transcribe``, ...);
    ``language`` (ISO-639-1, optional) and ``prompt`` help the model. ``api_key`` defaults to
    ``$OPENAI_API_KEY``, ``base_url`` to ``$OPENAI_BASE_URL`` (else the public API).
    ``recognize`` streams the whole segment at once over the same protocol.
    """

    capabilities = STTCapabilities(streaming=True, interim_results=True)
    sample_rate = SAMPLE_RATE
    retry_policy = RetryPolicy(max_retries=2, base_delay=0.25, max_delay=2.0, timeout=15.0)

    def __init__(
        self,
        *,
        model: str = "gpt-4o-transcribe",
        language: str | None = None,
        prompt: str | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        connect_timeout: float = 10.0,
        heartbeat: float | None = 20.0,
    ) -> None:
        if not model:
            raise ConfigError(f"RealtimeSTT model must be a model name, got {model!r}")
        check_number("RealtimeSTT connect_timeout", connect_timeout, exclusive=True)
        check_number("RealtimeSTT heartbeat", heartbeat, exclusive=True, allow_none=True)
        self.model = model
        self.language = language
        self.prompt = prompt
        self._api_key = resolve_api_key(api_key)
        install_redaction([self._api_key])
        self.url = realtime_url(configured_base_url(base_url), model, intent="transcription")
        self.connect_timeout = connect_timeout
        self.heartbeat = heartbeat
        self._http: aiohttp.ClientSession | None = None
        self._streams = 0

    def stream(self, *, language: str | None = None) -> STTStream:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession()
        self._streams += 1
        return RealtimeSTTStream(
            self, self._http, language or self.language, name=f"transcription#{self._streams}"
        )

    async def recognize(self, frames: Sequence[AudioFrame], *, language: str | None = None) -> SpeechEvent:
        stream = self.stream(language=language)
        try:
            for frame in frames:
                stream.push_frame(frame)
            stream.end_input()
            final: SpeechEvent | None = None
            async for event in stream:
                if event.type is SpeechEventType.FINAL_TRANSCRIPT:
                    final = event
            if final is None:
                raise ProviderError("no transcript came back", provider=self.label, retryable=True)
            final.audio_duration = sum(f.duration for f in frames)
            return final
        finally:
            await stream.aclose()

    async def aclose(self) -> None:
        http, self._http = self._http, None
        if http is not None:
            await http.close()

    def __repr__(self) -> str:  # never shows the key
        return f"openai.RealtimeSTT(model={self.model!r}, url={self.url!r})"


class RealtimeSTTStream(STTStream):
    """One segment on its own transcription session (opened at once, in an owned task)."""

    def __init__(
        self, stt: RealtimeSTT, http: aiohttp.ClientSession, language: str | None, *, name: str
    ) -> None:
        self._stt = stt
        self._http = http
        self._language = language
        self._name = name
        self._chunker = AudioChunker(100)
        self._conn: Connection | None = None
        self._pending: list[str] = []  # what was sent before the socket opened
        self._committed_bytes = 0
        self._ended = False
        self._events: EventQueue = asyncio.Queue()
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"{name}-reader")

    def push_frame(self, frame: AudioFrame) -> None:
        if self._ended:
            raise RuntimeError("push_frame after end_input")
        for chunk in self._chunker.push(frame):
            self._send_audio(chunk)

    def end_input(self) -> None:
        if self._ended:
            return
        self._ended = True
        tail = self._chunker.flush() or b""
        if self._committed_bytes + len(tail) < _MIN_COMMIT_BYTES:  # pad a very short segment with silence
            tail += bytes(_MIN_COMMIT_BYTES - self._committed_bytes - len(tail))
        self._send_audio(tail)
        self._send(dumps(audio_commit()))

    def _send_audio(self, pcm: bytes) -> None:
        if pcm:
            self._committed_bytes += len(pcm)
            self._send(audio_append(pcm))

    def _send(self, text: str) -> None:
        if self._conn is not None:
            self._conn.send(text)
        elif len(self._pending) < _MAX_PENDING:
            self._pending.append(text)
        else:
            self._events.put_nowait(
                ProviderError(
                    "the transcription socket did not open in time",
                    provider=self._stt.label,
                    retryable=True,
                    category=ErrorCategory.CONNECTION,
                )
            )

    def __aiter__(self) -> AsyncIterator[SpeechEvent]:
        return iterate_events(self._events)

    async def aclose(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        stt = self._stt
        conn: Connection | None = None
        try:
            conn = await open_connection(
                self._http,
                stt.url,
                headers={"Authorization": f"Bearer {stt._api_key}"},
                timeout=stt.connect_timeout,
                heartbeat=stt.heartbeat,
                provider=stt.label,
                secrets=(stt._api_key,),
                name=self._name,
            )
            conn.send(dumps(session_update(transcription_session(stt.model, self._language, stt.prompt))))
            for text in self._pending:
                conn.send(text)
            self._pending.clear()
            self._conn = conn
            assembler = TranscriptAssembler(stt.label, language=self._language, secrets=(stt._api_key,))
            async for raw in conn.messages():
                try:
                    event = parse_server_event(raw)
                except ProtocolError as e:
                    logger.warning("%s: skipping a malformed message: %s", self._name, e)
                    continue
                speech = assembler.feed(event)
                if speech is not None:
                    self._events.put_nowait(speech)
                if assembler.done:
                    return
            info = conn.close_info()
            raise close_error(info.code, info.reason, provider=stt.label)
        except ProviderError as e:
            self._events.put_nowait(e)
        finally:
            self._events.put_nowait(None)
            self._conn = None
            if conn is not None:
                await conn.close()
