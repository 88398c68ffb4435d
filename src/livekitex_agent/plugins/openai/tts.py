"""OpenAI speech synthesis (streamed raw PCM) as a :class:`~livekitex_agent.providers.TTS`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import numpy as np

from ...errors import ConfigError
from ...media.frame import AudioFrame
from ...providers import tts
from ...providers.base import RetryPolicy, with_retries
from ...providers.tts import GeneratorTTSStream, TTSStream
from .client import OpenAIHTTPClient, bad_response, error_from_exception

logger = logging.getLogger("livekitex_agent.plugins.openai")

DEFAULT_TTS_MODEL = "gpt-4o-mini-tts"
DEFAULT_VOICE = "alloy"
TTS_SAMPLE_RATE = 24000  # response_format "pcm": 24 kHz, 16-bit little-endian, mono


@dataclass(frozen=True)
class TTSOptions:
    """The request settings of :class:`TTS`."""

    model: str = DEFAULT_TTS_MODEL  # the speech model
    voice: str = DEFAULT_VOICE  # the voice name
    speed: float | None = None  # 0.25-4.0; None: normal speed
    instructions: str | None = None  # how to speak (tone, pace), for models that take instructions


class PCMFramer:
    """Cuts a byte stream of 16-bit mono PCM into frames of ``frame_size`` samples.

    Network chunks may end in the middle of a sample; the odd byte waits for the next chunk.
    """

    def __init__(self, sample_rate: int, frame_size: int) -> None:
        if frame_size <= 0:
            raise ValueError(f"frame_size must be positive, got {frame_size!r}")
        self.sample_rate = sample_rate
        self._frame_bytes = frame_size * 2
        self._buf = bytearray()

    def push(self, data: bytes) -> list[AudioFrame]:
        self._buf += data
        n = len(self._buf) // self._frame_bytes
        if n == 0:
            return []
        cut = n * self._frame_bytes
        samples = np.frombuffer(bytes(self._buf[:cut]), dtype="<i2").astype(np.int16, copy=False)
        del self._buf[:cut]
        size = self._frame_bytes // 2
        return [AudioFrame(samples[i * size : (i + 1) * size], self.sample_rate) for i in range(n)]

    def flush(self) -> AudioFrame | None:
        """The last, shorter frame; a dangling odd byte is dropped."""
        if len(self._buf) % 2:
            logger.warning("PCM stream ended on half a sample; dropping the last byte")
            del self._buf[-1]
        if not self._buf:
            return None
        frame = AudioFrame.from_bytes(bytes(self._buf), self.sample_rate)
        self._buf.clear()
        return frame


class TTS(tts.TTS):
    """Synthesizes speech with ``POST {base_url}/audio/speech`` (``response_format: "pcm"``).

    Audio is streamed: frames of ``frame_duration`` seconds are yielded as the body arrives, so the
    first words play before the server has finished. Failures before the first frame are retried per
    ``retry_policy``; a stream that breaks later raises :class:`ProviderError`.

    - ``frame_duration``: seconds of audio per frame yielded (0.005-1.0).
    """

    sample_rate = TTS_SAMPLE_RATE
    num_channels = 1

    def __init__(
        self,
        *,
        model: str = DEFAULT_TTS_MODEL,
        voice: str = DEFAULT_VOICE,
        speed: float | None = None,
        instructions: str | None = None,
        frame_duration: float = 0.02,
        api_key: str | None = None,
        base_url: str | None = None,
        retry_policy: RetryPolicy | None = None,
        read_timeout: float = 30.0,
    ) -> None:
        if not model or not isinstance(model, str):
            raise ConfigError(f"openai.TTS: model must be a non-empty string, got {model!r}")
        if not voice or not isinstance(voice, str):
            raise ConfigError(f"openai.TTS: voice must be a non-empty string, got {voice!r}")
        if speed is not None and not 0.25 <= speed <= 4.0:
            raise ConfigError(f"openai.TTS: speed must be between 0.25 and 4.0, got {speed!r}")
        if not 0.005 <= frame_duration <= 1.0:
            raise ConfigError(
                f"openai.TTS: frame_duration must be 0.005..1.0 seconds, got {frame_duration!r}"
            )
        self.options = TTSOptions(model, voice, speed, instructions)
        self._frame_size = round(frame_duration * TTS_SAMPLE_RATE)
        if retry_policy is not None:
            self.retry_policy = retry_policy
        self._client = OpenAIHTTPClient(
            provider=self.label, api_key=api_key, base_url=base_url, read_timeout=read_timeout
        )

    @property
    def model(self) -> str:
        return self.options.model

    def request_body(self, text: str) -> dict[str, Any]:
        opts = self.options
        body: dict[str, Any] = {
            "model": opts.model,
            "input": text,
            "voice": opts.voice,
            "response_format": "pcm",
        }
        if opts.speed is not None:
            body["speed"] = opts.speed
        if opts.instructions:
            body["instructions"] = opts.instructions
        return body

    def synthesize(self, text: str) -> TTSStream:
        body = self.request_body(text)
        return GeneratorTTSStream(lambda: self._stream(body))

    async def _stream(self, body: dict[str, Any]) -> AsyncIterator[AudioFrame]:
        if not str(body["input"]).strip():
            return
        resp, framer, first = await with_retries(
            lambda: self._open(body), policy=self.retry_policy, provider=self.label
        )
        try:
            for frame in first:
                yield frame
            while True:
                data = await self._read(resp)
                if not data:
                    break
                for frame in framer.push(data):
                    yield frame
            last = framer.flush()
            if last is not None:
                yield last
            resp.release()
        finally:
            resp.close()

    async def _open(self, body: dict[str, Any]) -> tuple[aiohttp.ClientResponse, PCMFramer, list[AudioFrame]]:
        """One attempt: send the request and read up to the first frame (all of this may be retried)."""
        resp = await self._client.post("/audio/speech", json_body=body)
        try:
            ctype = resp.headers.get("Content-Type", "")
            if ctype.startswith(("application/json", "text/")):
                snippet = (await resp.content.read(200)).decode("utf-8", "replace")
                raise bad_response(f"expected PCM audio, got {ctype}: {snippet!r}", provider=self.label)
            framer = PCMFramer(TTS_SAMPLE_RATE, self._frame_size)
            first: list[AudioFrame] = []
            while not first:
                data = await self._read(resp)
                if not data:
                    last = framer.flush()
                    first = [last] if last is not None else []
                    break
                first = framer.push(data)
            return resp, framer, first
        except BaseException:
            resp.close()
            raise

    async def _read(self, resp: aiohttp.ClientResponse) -> bytes:
        try:
            return await resp.content.readany()
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            raise error_from_exception(e, provider=self.label, secrets=self._client.secrets) from None

    async def aclose(self) -> None:
        await self._client.aclose()
