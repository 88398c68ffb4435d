"""``openai.RealtimeModel``: options, credentials and endpoint of the OpenAI Realtime API (GA)."""

from __future__ import annotations

import logging
import time
import urllib.parse
from collections.abc import Callable, Sequence

from ....errors import ConfigError
from ....log import install_redaction
from ....providers import realtime
from ....providers.base import RetryPolicy
from ....providers.realtime import Modality, RealtimeOptions, TurnDetection
from ....validation import check_int
from ..client import configured_base_url, resolve_api_key
from .connection import DEFAULT_MAX_MESSAGE_BYTES
from .session import RealtimeSession

logger = logging.getLogger("livekitex_agent.plugins.openai.realtime")

DEFAULT_RETRY = RetryPolicy(max_retries=5, base_delay=0.5, max_delay=8.0, timeout=None)


def realtime_url(base_url: str, model: str, *, intent: str | None = None) -> str:
    """``https://host/v1`` → ``wss://host/v1/realtime?model=...`` (ws/wss base URLs are kept as they are);
    with ``intent`` (e.g. ``"transcription"``) → ``.../realtime?intent=...`` and no model."""
    url = base_url.strip().rstrip("/")
    scheme, sep, rest = url.partition("://")
    schemes = {"https": "wss", "http": "ws", "wss": "wss", "ws": "ws"}
    if not sep or scheme.lower() not in schemes or not rest:
        raise ConfigError(f"OpenAI base URL must start with http://, https://, ws:// or wss://, got {base_url!r}")
    query = f"intent={urllib.parse.quote(intent, safe='')}" if intent else f"model={urllib.parse.quote(model, safe='')}"
    return f"{schemes[scheme.lower()]}://{rest}/realtime?{query}"


class RealtimeModel(realtime.RealtimeModel):
    """The OpenAI Realtime API over a websocket (GA interface).

    ``api_key`` defaults to ``$OPENAI_API_KEY`` and ``base_url`` to ``$OPENAI_BASE_URL`` (else the
    public API). ``turn_detection=None`` means manual turns (``commit_audio`` + ``generate_reply``).
    ``temperature`` is not part of the GA interface: it is accepted for other providers' sake and not sent.

    Connection tuning: ``retry_policy`` drives (re)connects; ``renew_margin`` seconds before the
    server's session limit (``expires_at``) the connection is renewed at a quiet moment, as measured
    by ``clock`` (wall-clock seconds; injectable for tests). ``max_message_bytes`` is the largest server
    message the client accepts; a bigger one makes the client close the socket (code 1009) and reconnect.

    - ``model``: the realtime model.
    - ``voice``: the voice of its audio replies (None: the server's default).
    - ``turn_detection``: the server's turn detection (server VAD or semantic VAD, see
      :class:`TurnDetection`); None: manual turns.
    - ``input_transcription_model``: transcribes the user's audio for the history and
      ``user_input_transcribed`` (None: no user transcripts).
    - ``modalities``: what replies contain: ``("audio",)`` (with its transcript) or ``("text",)``.
    - ``max_output_tokens``: cap on the tokens of one reply (None: the server's limit).
    - ``reply_timeout``: seconds the server may take to start a requested reply before it fails.
    - ``renew_margin``: seconds before the server's session limit when the connection is renewed.
    - ``renew_check_interval``: seconds between checks whether the session is due for renewal.
    - ``clock``: wall-clock seconds for the renewal deadline (injectable for tests).
    - ``max_message_bytes``: the largest server message accepted; a bigger one closes the socket
      (code 1009) and the client reconnects.
    """

    def __init__(
        self,
        *,
        model: str = "gpt-realtime",
        voice: str | None = "marin",
        temperature: float | None = None,
        turn_detection: TurnDetection | None = TurnDetection(),
        input_transcription_model: str | None = "gpt-4o-mini-transcribe",
        modalities: Sequence[Modality] = ("audio",),
        max_output_tokens: int | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        retry_policy: RetryPolicy = DEFAULT_RETRY,
        connect_timeout: float = 10.0,
        reply_timeout: float = 10.0,
        heartbeat: float | None = 20.0,
        renew_margin: float = 300.0,
        renew_check_interval: float = 5.0,
        clock: Callable[[], float] = time.time,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    ) -> None:
        self.options = RealtimeOptions(
            model=model,
            voice=voice,
            temperature=temperature,
            turn_detection=turn_detection,
            input_transcription_model=input_transcription_model,
            modalities=tuple(modalities),
            max_output_tokens=max_output_tokens,
        )
        if temperature is not None:
            logger.warning("openai.RealtimeModel: the GA Realtime API has no temperature; %r is ignored", temperature)
        for name, value in (("connect_timeout", connect_timeout), ("reply_timeout", reply_timeout),
                            ("renew_check_interval", renew_check_interval)):
            if value <= 0:
                raise ConfigError(f"{name} must be positive, got {value!r}")
        check_int("max_message_bytes", max_message_bytes, minimum=1)
        if renew_margin < 0:
            raise ConfigError(f"renew_margin must be >= 0, got {renew_margin!r}")
        key = resolve_api_key(api_key)
        self._api_key = key
        install_redaction([key])
        self.base_url = configured_base_url(base_url)
        self.url = realtime_url(self.base_url, model)
        self.retry_policy = retry_policy
        self.connect_timeout = connect_timeout
        self.reply_timeout = reply_timeout
        self.heartbeat = heartbeat
        self.renew_margin = renew_margin
        self.renew_check_interval = renew_check_interval
        self.clock = clock
        self.max_message_bytes = max_message_bytes

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key}"}

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self._api_key,)

    def session(self) -> RealtimeSession:
        return RealtimeSession(self)

    def __repr__(self) -> str:  # never shows the key
        return f"openai.RealtimeModel(model={self.options.model!r}, url={self.url!r})"
