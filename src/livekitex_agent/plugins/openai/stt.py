"""OpenAI audio transcription, one request per speech segment: an STT provider."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass

import aiohttp

from ...errors import ConfigError
from ...media.frame import AudioFrame, combine_frames
from ...media.resample import resample
from ...media.wav import write_wav
from ...providers import stt
from ...providers.base import RetryPolicy, with_retries
from ...providers.stt import SpeechAlternative, SpeechEvent, SpeechEventType
from .client import OpenAIHTTPClient, bad_response, error_from_exception

DEFAULT_STT_MODEL = "gpt-4o-mini-transcribe"
STT_SAMPLE_RATE = 16000


@dataclass(frozen=True)
class STTOptions:
    """The request settings of :class:`STT`."""

    model: str = DEFAULT_STT_MODEL  # the transcription model
    language: str | None = None  # ISO-639-1 hint (e.g. "en"); None: detected by the model
    prompt: str | None = None  # text that guides the transcription (names, vocabulary)


def wav_bytes(frame: AudioFrame) -> bytes:
    """``frame`` as a complete 16-bit PCM WAV file."""
    buf = io.BytesIO()
    write_wav(buf, frame)
    return buf.getvalue()


class STT(stt.STT):
    """Transcribes a speech segment with ``POST {base_url}/audio/transcriptions``.

    The segment is sent as a 16 kHz mono WAV file; ``language`` (ISO-639-1, e.g. ``"en"``) is a hint
    that may also be given per call.
    """

    sample_rate = STT_SAMPLE_RATE

    def __init__(
        self,
        *,
        model: str = DEFAULT_STT_MODEL,
        language: str | None = None,
        prompt: str | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        retry_policy: RetryPolicy | None = None,
        read_timeout: float = 30.0,
    ) -> None:
        if not model or not isinstance(model, str):
            raise ConfigError(f"openai.STT: model must be a non-empty string, got {model!r}")
        if language is not None and not language.strip():
            raise ConfigError(f"openai.STT: language must be a language code or None, got {language!r}")
        self.options = STTOptions(model, language, prompt)
        if retry_policy is not None:
            self.retry_policy = retry_policy
        self._client = OpenAIHTTPClient(
            provider=self.label, api_key=api_key, base_url=base_url, read_timeout=read_timeout
        )

    @property
    def model(self) -> str:
        return self.options.model

    async def recognize(self, frames: Sequence[AudioFrame], *, language: str | None = None) -> SpeechEvent:
        language = language or self.options.language
        if not frames:
            return SpeechEvent(
                SpeechEventType.FINAL_TRANSCRIPT, [SpeechAlternative(text="", language=language)]
            )
        audio = combine_frames([f.to_mono() for f in frames])
        if audio.sample_rate != STT_SAMPLE_RATE:
            audio = resample(audio, STT_SAMPLE_RATE)
        wav = wav_bytes(audio)
        text = await with_retries(
            lambda: self._transcribe(wav, language), policy=self.retry_policy, provider=self.label
        )
        alt = SpeechAlternative(text=text, language=language, end_time=audio.duration)
        return SpeechEvent(SpeechEventType.FINAL_TRANSCRIPT, [alt], audio_duration=audio.duration)

    async def _transcribe(self, wav: bytes, language: str | None) -> str:
        form = aiohttp.FormData()
        form.add_field("file", wav, filename="audio.wav", content_type="audio/wav")
        form.add_field("model", self.options.model)
        form.add_field("response_format", "json")
        if language:
            form.add_field("language", language)
        if self.options.prompt:
            form.add_field("prompt", self.options.prompt)
        resp = await self._client.post("/audio/transcriptions", data=form)
        try:
            body = await resp.read()
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            raise error_from_exception(e, provider=self.label, secrets=self._client.secrets) from None
        finally:
            resp.release()
        return self._parse(body)

    def _parse(self, body: bytes) -> str:
        try:
            data = json.loads(body)
        except ValueError:
            snippet = body[:120].decode("utf-8", "replace")
            raise bad_response(
                f"transcription response is not JSON: {snippet!r}", provider=self.label
            ) from None
        text = data.get("text") if isinstance(data, dict) else None
        if not isinstance(text, str):
            raise bad_response(
                f"transcription response has no 'text' string: {str(data)[:120]!r}", provider=self.label
            )
        return text.strip()

    async def aclose(self) -> None:
        await self._client.aclose()
