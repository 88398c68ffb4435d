"""``OpenAITestServer``: the aiohttp application and its request handlers."""

from __future__ import annotations

import asyncio
import collections
import io
import itertools
import json
import math
import time
import wave
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from aiohttp import web

from ...media.frame import AudioFrame
from ...media.wav import read_wav
from .replies import (
    ChatReply,
    ErrorReply,
    RawReply,
    Reply,
    SpeechReply,
    TranscriptReply,
    chat_completion,
    chat_stream_chunks,
    error_body,
    validate_chat_request,
)

Endpoint = Literal["chat", "transcription", "speech"]
SPEECH_SAMPLE_RATE = 24000
_AUDIO_EXTENSIONS = ("flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "wav", "webm")


@dataclass
class UploadedFile:
    filename: str
    content_type: str
    data: bytes

    def wav(self) -> AudioFrame:
        """The upload parsed as a 16-bit PCM WAV file."""
        return read_wav(io.BytesIO(self.data))


@dataclass
class RecordedRequest:
    """One request as the server received it."""

    endpoint: Endpoint
    path: str
    headers: dict[str, str]
    json: Any = None
    form: dict[str, str] = field(default_factory=dict)
    files: dict[str, UploadedFile] = field(default_factory=dict)
    received_at: float = field(default_factory=time.monotonic)


class OpenAITestServer:
    """A scriptable OpenAI HTTP API on 127.0.0.1; use ``base_url`` in the providers.

    ``api_key``: when set, requests must carry exactly this key (else 401 ``invalid_api_key``);
    otherwise any non-empty bearer token is accepted.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        default_transcript: str = "Hello.",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.api_key = api_key
        self.default_transcript = default_transcript
        self.requests: list[RecordedRequest] = []
        self.responses_completed = 0  # responses whose body was sent completely
        self.responses_aborted = 0  # streamed responses the client hung up on
        self._host, self._port = host, port
        self._queues: dict[Endpoint, collections.deque[Reply]] = {
            "chat": collections.deque(),
            "transcription": collections.deque(),
            "speech": collections.deque(),
        }
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- lifecycle ------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        if not self.port:
            raise RuntimeError("OpenAITestServer is not started (use 'async with' or await start())")
        return f"http://{self._host}:{self.port}/v1"

    async def start(self) -> OpenAITestServer:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/audio/transcriptions", self._transcription)
        app.router.add_post("/v1/audio/speech", self._speech)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5, handler_cancellation=True, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def aclose(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> OpenAITestServer:
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    # -- scripting ------------------------------------------------------------------------------
    def queue_chat(self, *replies: ChatReply | ErrorReply | RawReply | str) -> None:
        """Queue answers for ``/chat/completions``; a string is a text reply."""
        self._queues["chat"].extend(ChatReply(text=r) if isinstance(r, str) else r for r in replies)

    def queue_transcription(self, *replies: TranscriptReply | ErrorReply | RawReply | str) -> None:
        """Queue answers for ``/audio/transcriptions``; a string is a transcript."""
        self._queues["transcription"].extend(
            TranscriptReply(text=r) if isinstance(r, str) else r for r in replies
        )

    def queue_speech(self, *replies: SpeechReply | ErrorReply | RawReply | bytes | AudioFrame) -> None:
        """Queue answers for ``/audio/speech``; bytes or a frame are the PCM audio to send."""
        self._queues["speech"].extend(r if isinstance(r, Reply) else SpeechReply(audio=r) for r in replies)

    def pending(self, endpoint: Endpoint) -> int:
        """How many scripted replies are still queued for ``endpoint``."""
        return len(self._queues[endpoint])

    def requests_to(self, endpoint: Endpoint) -> list[RecordedRequest]:
        return [r for r in self.requests if r.endpoint == endpoint]

    # -- shared helpers -------------------------------------------------------------------------
    def _request_id(self) -> str:
        return f"req_test{next(self._ids):06d}"

    def _check_auth(self, request: web.Request) -> web.Response | None:
        auth = request.headers.get("Authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        if not token:
            return self._error(ErrorReply(401, "You didn't provide an API key.", "invalid_request_error"))
        if self.api_key is not None and token != self.api_key:
            masked = token[:3] + "*" * max(0, len(token) - 7) + token[-4:] if len(token) > 8 else "***"
            message = f"Incorrect API key provided: {masked}."
            return self._error(ErrorReply(401, message, "invalid_request_error", code="invalid_api_key"))
        return None

    def _error(self, reply: ErrorReply) -> web.Response:
        headers = {"x-request-id": self._request_id()}
        if reply.retry_after is not None:
            headers["retry-after"] = str(max(0, math.ceil(reply.retry_after)))
            headers["retry-after-ms"] = str(round(reply.retry_after * 1000))
        return web.json_response(error_body(reply), status=reply.status, headers=headers)

    def _bad_request(self, message: str, param: str | None = None) -> web.Response:
        return self._error(ErrorReply(400, message, "invalid_request_error", param=param))

    def _raw(self, reply: RawReply) -> web.Response:
        body = reply.body.encode() if isinstance(reply.body, str) else reply.body
        headers = {"Content-Type": reply.content_type, "x-request-id": self._request_id()}
        return web.Response(body=body, status=reply.status, headers=headers)

    async def _next(self, endpoint: Endpoint) -> Reply | None:
        queue = self._queues[endpoint]
        reply = queue.popleft() if queue else None
        if reply is not None and reply.delay > 0:
            await asyncio.sleep(reply.delay)
        return reply

    async def _stream(
        self,
        request: web.Request,
        content_type: str,
        pieces: Sequence[bytes],
        faults: ChatReply | SpeechReply,
    ) -> web.StreamResponse:
        """Send ``pieces`` as a chunked body with the reply's faults (pauses, a gate, a cut)."""
        cut_after, gate = faults.cut_after, faults.gate
        resp = web.StreamResponse(headers={"Content-Type": content_type, "x-request-id": self._request_id()})
        resp.enable_chunked_encoding()
        try:
            await resp.prepare(request)
            for n, piece in enumerate(pieces, start=1):
                await resp.write(piece)
                if cut_after is not None and n >= cut_after:
                    await asyncio.sleep(0.01)  # let the bytes leave before the connection drops
                    if request.transport is not None:
                        request.transport.abort()
                    return resp
                if gate is not None and n == faults.gate_after:
                    await gate.wait()
                if faults.chunk_delay > 0:
                    await asyncio.sleep(faults.chunk_delay)
            await resp.write_eof()
        except (ConnectionError, asyncio.CancelledError):
            self.responses_aborted += 1  # the client went away mid-body
            raise
        self.responses_completed += 1
        return resp

    # -- /chat/completions ----------------------------------------------------------------------
    async def _chat(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except ValueError:
            body = None
        self.requests.append(RecordedRequest("chat", request.path, dict(request.headers), json=body))
        if (denied := self._check_auth(request)) is not None:
            return denied
        problem = validate_chat_request(body)
        if problem is not None:
            return self._bad_request(*problem)
        reply = await self._next("chat")
        if isinstance(reply, ErrorReply):
            return self._error(reply)
        if isinstance(reply, RawReply):
            return self._raw(reply)
        if not isinstance(reply, ChatReply):
            reply = ChatReply(text=_echo(body["messages"]))
        model = str(body["model"])
        if not body.get("stream"):
            return web.json_response(chat_completion(reply, model, body["messages"]))
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        chunks = chat_stream_chunks(reply, model, body["messages"], include_usage=include_usage)
        pieces = [f"data: {json.dumps(c, separators=(',', ':'))}\n\n".encode() for c in chunks]
        pieces.append(b"data: [DONE]\n\n")
        return await self._stream(request, "text/event-stream; charset=utf-8", pieces, reply)

    # -- /audio/transcriptions ------------------------------------------------------------------
    async def _transcription(self, request: web.Request) -> web.StreamResponse:
        record = RecordedRequest("transcription", request.path, dict(request.headers))
        self.requests.append(record)
        if not request.content_type.startswith("multipart/form-data"):
            return self._bad_request("Expected a multipart/form-data request body.")
        post = await request.post()
        for name, value in post.items():
            if isinstance(value, web.FileField):
                record.files[name] = UploadedFile(value.filename, value.content_type, value.file.read())
            else:
                record.form[name] = str(value)
        if (denied := self._check_auth(request)) is not None:
            return denied
        upload = record.files.get("file")
        if upload is None:
            return self._bad_request("Missing required parameter: 'file'.", "file")
        if not record.form.get("model"):
            return self._bad_request("Missing required parameter: 'model'.", "model")
        ext = upload.filename.rsplit(".", 1)[-1].lower() if "." in upload.filename else ""
        if ext not in _AUDIO_EXTENSIONS:
            return self._bad_request(
                f"Invalid file format. Supported formats: {list(_AUDIO_EXTENSIONS)}", "file"
            )
        duration = 0.0
        if ext == "wav":
            try:
                duration = upload.wav().duration
            except ValueError:  # read_wav's error for anything that is not 16-bit PCM WAV
                return self._bad_request("Audio file might be corrupted or unsupported", "file")
        fmt = record.form.get("response_format", "json")
        if fmt not in ("json", "text", "verbose_json"):
            return self._bad_request(f"The test server does not produce response_format={fmt!r}.")
        reply = await self._next("transcription")
        if isinstance(reply, ErrorReply):
            return self._error(reply)
        if isinstance(reply, RawReply):
            return self._raw(reply)
        text = reply.text if isinstance(reply, TranscriptReply) else self.default_transcript
        self.responses_completed += 1
        if fmt == "text":
            return web.Response(text=text + "\n", content_type="text/plain")
        if fmt == "verbose_json":
            language = record.form.get("language", "en")
            return web.json_response(
                {
                    "task": "transcribe",
                    "language": language,
                    "duration": duration,
                    "text": text,
                    "segments": [],
                }
            )
        return web.json_response(
            {"text": text, "usage": _transcription_usage(record.form["model"], duration, text)}
        )

    # -- /audio/speech --------------------------------------------------------------------------
    async def _speech(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except ValueError:
            body = None
        self.requests.append(RecordedRequest("speech", request.path, dict(request.headers), json=body))
        if (denied := self._check_auth(request)) is not None:
            return denied
        if not isinstance(body, dict):
            return self._bad_request("We could not parse the JSON body of your request.")
        for name in ("model", "input", "voice"):
            if not body.get(name):
                return self._bad_request(f"Missing required parameter: '{name}'.", name)
        if not isinstance(body["input"], str) or len(body["input"]) > 4096:
            return self._bad_request("'input' must be a string of at most 4096 characters.", "input")
        fmt = body.get("response_format", "mp3")
        if fmt not in ("pcm", "wav"):
            return self._bad_request(
                f"The test server produces only pcm and wav, not {fmt!r}.", "response_format"
            )
        speed = body.get("speed", 1.0)
        if not isinstance(speed, (int, float)) or not 0.25 <= speed <= 4.0:
            return self._bad_request(f"Invalid 'speed': {speed!r}; expected 0.25 to 4.0.", "speed")
        reply = await self._next("speech")
        if isinstance(reply, ErrorReply):
            return self._error(reply)
        if isinstance(reply, RawReply):
            return self._raw(reply)
        if not isinstance(reply, SpeechReply):
            reply = SpeechReply()
        pcm = _speech_pcm(reply.audio, body["input"], float(speed))
        content_type = "audio/pcm"
        if fmt == "wav":
            pcm, content_type = _wav_header(len(pcm)) + pcm, "audio/wav"
        size = max(1, reply.chunk_size)
        pieces = [pcm[i : i + size] for i in range(0, len(pcm), size)]
        return await self._stream(request, content_type, pieces, reply)


def _echo(messages: list[dict[str, Any]]) -> str:
    """The default chat answer: repeat the last user message (or tool result)."""
    for msg in reversed(messages):
        if msg.get("role") == "tool":
            return f"The tool said: {msg.get('content')}"
        if msg.get("role") == "user":
            return f"You said: {msg.get('content')}"
    return "Hello from the OpenAI test server."


def _transcription_usage(model: str, duration: float, text: str) -> dict[str, Any]:
    if model == "whisper-1":
        return {"type": "duration", "seconds": math.ceil(duration)}
    audio_tokens = max(1, round(duration * 10))
    out = max(1, len(text) // 4)
    return {
        "type": "tokens",
        "input_tokens": audio_tokens,
        "input_token_details": {"text_tokens": 0, "audio_tokens": audio_tokens},
        "output_tokens": out,
        "total_tokens": audio_tokens + out,
    }


def _speech_pcm(audio: bytes | AudioFrame | None, text: str, speed: float) -> bytes:
    if isinstance(audio, AudioFrame):
        if audio.sample_rate != SPEECH_SAMPLE_RATE or audio.num_channels != 1:
            raise ValueError(f"SpeechReply audio must be 24 kHz mono, got {audio!r}")
        return audio.to_bytes()
    if audio is not None:
        return bytes(audio)
    duration = min(10.0, max(0.2, 0.06 * len(text))) / speed
    t = np.arange(round(duration * SPEECH_SAMPLE_RATE)) / SPEECH_SAMPLE_RATE
    tone = (0.1 * np.sin(2 * np.pi * 220.0 * t) * 32767).astype("<i2")
    return tone.tobytes()


def _wav_header(data_len: int) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SPEECH_SAMPLE_RATE)
        w.setnframes(data_len // 2)
        w.writeframes(b"")
    header = bytearray(buf.getvalue())
    header[4:8] = (36 + data_len).to_bytes(4, "little")
    header[40:44] = data_len.to_bytes(4, "little")
    return bytes(header)
