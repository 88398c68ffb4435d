"""What the OpenAI HTTP providers share: credentials, one lazy aiohttp session, error mapping.

The error mapping (:func:`error_from_response`, :func:`error_from_exception`) is pure code so it can
be tested without a server; :class:`OpenAIHTTPClient` is the small async wrapper around it.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import time
from collections.abc import Mapping
from typing import Any

import aiohttp

from ...errors import ConfigError, ErrorCategory, ProviderError, ProviderTimeoutError
from ...log import redact
from ...validation import check_number

API_KEY_ENV = "OPENAI_API_KEY"  # the OpenAI providers' API key when none is given in code
BASE_URL_ENV = "OPENAI_BASE_URL"  # their API base URL (a proxy, a compatible server); default: api.openai.com
DEFAULT_BASE_URL = "https://api.openai.com/v1"
_MAX_MESSAGE = 300


def resolve_api_key(api_key: str | None) -> str:
    """The explicit key, else ``$OPENAI_API_KEY``; a missing key is a :class:`ConfigError`."""
    key = api_key if api_key is not None else os.environ.get(API_KEY_ENV, "")
    key = key.strip()
    if not key:
        raise ConfigError(
            f"no OpenAI API key: set the {API_KEY_ENV} environment variable or pass api_key=..."
        )
    return key


def configured_base_url(base_url: str | None) -> str:
    """The explicit URL, else ``$OPENAI_BASE_URL``, else the public API (unchecked: the Realtime
    clients also take ws:// and wss://)."""
    return (base_url or os.environ.get(BASE_URL_ENV, "") or DEFAULT_BASE_URL).strip()


def resolve_base_url(base_url: str | None) -> str:
    """The configured base URL (see :func:`configured_base_url`) for HTTP requests; must be http(s)."""
    url = configured_base_url(base_url).rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"OpenAI base URL must start with http:// or https://, got {url!r}")
    return url


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date)."""
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _error_details(body: bytes) -> tuple[str, str | None, str | None]:
    """(message, code, type) from an OpenAI error body ``{"error": {...}}``, or the raw text."""
    text = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text, None, None
    err = data.get("error") if isinstance(data, dict) else None
    if isinstance(err, dict):
        message = err.get("message")
        code, etype = err.get("code"), err.get("type")
        return (
            str(message) if message else text,
            str(code) if code is not None else None,
            str(etype) if etype is not None else None,
        )
    if isinstance(err, str):
        return err, None, None
    return text, None, None


def error_from_response(
    status: int,
    body: bytes,
    headers: Mapping[str, str],
    *,
    provider: str,
    secrets: tuple[str, ...] = (),
) -> ProviderError:
    """Map a non-2xx HTTP answer to a :class:`ProviderError` with the right category and retryability."""
    message, code, etype = _error_details(body)
    message = redact(message, secrets)
    if len(message) > _MAX_MESSAGE:
        message = message[:_MAX_MESSAGE] + "..."
    request_id = headers.get("x-request-id")
    detail = f"HTTP {status}: {message or '(empty body)'}" + (
        f" [request {request_id}]" if request_id else ""
    )
    retry_after: float | None = None
    if status in (401, 403):
        category, retryable = ErrorCategory.AUTHENTICATION, False
    elif status == 429 and "insufficient_quota" in (code, etype):
        category, retryable = ErrorCategory.QUOTA, False
    elif status == 429:
        category, retryable = ErrorCategory.RATE_LIMIT, True
        retry_after = parse_retry_after(headers)
    elif status == 408:
        category, retryable = ErrorCategory.TIMEOUT, True
    elif status >= 500 or status == 409:
        category, retryable = ErrorCategory.SERVER, True
        retry_after = parse_retry_after(headers)
    elif 400 <= status < 500:
        category, retryable = ErrorCategory.BAD_REQUEST, False
    else:
        category, retryable = ErrorCategory.BAD_RESPONSE, False
    return ProviderError(
        detail,
        provider=provider,
        retryable=retryable,
        category=category,
        status_code=status,
        code=code,
        retry_after=retry_after,
    )


def error_from_exception(
    exc: BaseException, *, provider: str, secrets: tuple[str, ...] = ()
) -> ProviderError:
    """Map a transport failure (aiohttp, timeout) to a retryable :class:`ProviderError`."""
    if isinstance(exc, ProviderError):
        return exc
    text = redact(str(exc) or type(exc).__name__, secrets)
    if isinstance(exc, TimeoutError):
        return ProviderTimeoutError(f"timed out: {text}", provider=provider)
    if isinstance(exc, aiohttp.ClientPayloadError):
        return ProviderError(
            f"response body cut off: {text}",
            provider=provider,
            retryable=True,
            category=ErrorCategory.CONNECTION,
        )
    if isinstance(exc, (aiohttp.ClientConnectionError, ConnectionError)):
        return ProviderError(
            f"connection failed: {text}", provider=provider, retryable=True, category=ErrorCategory.CONNECTION
        )
    return ProviderError(
        f"request failed: {type(exc).__name__}: {text}",
        provider=provider,
        retryable=True,
        category=ErrorCategory.CONNECTION,
    )


def bad_response(message: str, *, provider: str) -> ProviderError:
    """A 2xx answer we cannot understand: the same request would most likely get the same answer."""
    return ProviderError(message, provider=provider, retryable=False, category=ErrorCategory.BAD_RESPONSE)


class OpenAIHTTPClient:
    """Key, base URL and one lazily created aiohttp session, shared by one provider instance."""

    def __init__(
        self,
        *,
        provider: str,
        api_key: str | None,
        base_url: str | None,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
    ) -> None:
        check_number(f"{provider} connect_timeout", connect_timeout, exclusive=True)
        check_number(f"{provider} read_timeout", read_timeout, exclusive=True)
        self.provider = provider
        self._api_key = resolve_api_key(api_key)
        self.base_url = resolve_base_url(base_url)
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=connect_timeout, sock_read=read_timeout
        )
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self._api_key,)

    def __repr__(self) -> str:  # never shows the key
        return f"OpenAIHTTPClient(provider={self.provider!r}, base_url={self.base_url!r})"

    def session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout,
                headers={"Authorization": f"Bearer {self._api_key}"},
            )
            self._loop = loop
        return self._session

    async def post(
        self, path: str, *, json_body: Any = None, data: aiohttp.FormData | None = None
    ) -> aiohttp.ClientResponse:
        """POST to ``{base_url}{path}``; returns a 2xx response (the caller releases it) or raises.

        Transport failures and error statuses become :class:`ProviderError`.
        """
        url = f"{self.base_url}{path}"
        try:
            resp = await self.session().post(url, json=json_body, data=data)
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            raise error_from_exception(e, provider=self.provider, secrets=self.secrets) from None
        if resp.status >= 300:
            try:
                body = await resp.read()
            except (aiohttp.ClientError, TimeoutError, OSError):
                body = b""
            finally:
                resp.release()
            err = error_from_response(
                resp.status, body, resp.headers, provider=self.provider, secrets=self.secrets
            )
            raise err
        return resp

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None
