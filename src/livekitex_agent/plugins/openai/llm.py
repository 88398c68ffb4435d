"""OpenAI Chat Completions (streaming) as an :class:`~livekitex_agent.providers.LLM`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from ...chat import ChatContext
from ...errors import ConfigError
from ...providers import llm
from ...providers.base import RetryPolicy, with_retries
from ...providers.llm import ChatChunk, GeneratorLLMStream, LLMStream, ToolChoice
from ...tools.function_tool import FunctionTool
from ...validation import check_int, check_number
from .chat_format import ChatStreamParser, to_messages, to_tool_choice, to_tools
from .client import OpenAIHTTPClient, error_from_exception
from .sse import SSEDecoder

DEFAULT_LLM_MODEL = "gpt-4o-mini"


@dataclass(frozen=True)
class LLMOptions:
    """The request settings of :class:`LLM`."""

    model: str = DEFAULT_LLM_MODEL  # the Chat Completions model
    temperature: float | None = None  # sampling temperature 0-2; None: the server's default
    # allow several tool calls in one reply; None: the server's default
    parallel_tool_calls: bool | None = None
    max_completion_tokens: int | None = None  # cap on the tokens of one reply; None: no cap


class LLM(llm.LLM):
    """Streams ``POST {base_url}/chat/completions``.

    ``api_key`` defaults to ``$OPENAI_API_KEY`` and ``base_url`` to ``$OPENAI_BASE_URL`` (else the
    public API). Failed requests are retried per ``retry_policy`` until the first output arrives,
    never after: a stream that breaks mid-answer raises :class:`ProviderError`.
    """

    def __init__(
        self,
        *,
        model: str = DEFAULT_LLM_MODEL,
        temperature: float | None = None,
        parallel_tool_calls: bool | None = None,
        max_completion_tokens: int | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        retry_policy: RetryPolicy | None = None,
        read_timeout: float = 30.0,
    ) -> None:
        if not model or not isinstance(model, str):
            raise ConfigError(f"openai.LLM: model must be a non-empty string, got {model!r}")
        if temperature is not None and not 0.0 <= temperature <= 2.0:
            raise ConfigError(f"openai.LLM: temperature must be between 0 and 2, got {temperature!r}")
        check_int("openai.LLM max_completion_tokens", max_completion_tokens, minimum=1, allow_none=True)
        check_number("openai.LLM read_timeout", read_timeout, exclusive=True)
        self.options = LLMOptions(model, temperature, parallel_tool_calls, max_completion_tokens)
        if retry_policy is not None:
            self.retry_policy = retry_policy
        self._client = OpenAIHTTPClient(
            provider=self.label, api_key=api_key, base_url=base_url, read_timeout=read_timeout
        )

    @property
    def model(self) -> str:
        return self.options.model

    @property
    def base_url(self) -> str:
        return self._client.base_url

    def chat(
        self,
        *,
        chat_ctx: ChatContext,
        tools: Sequence[FunctionTool] = (),
        tool_choice: ToolChoice = "auto",
        temperature: float | None = None,
    ) -> LLMStream:
        body = self.request_body(chat_ctx, tools=tools, tool_choice=tool_choice, temperature=temperature)
        return GeneratorLLMStream(lambda: self._stream(body))

    def request_body(
        self,
        chat_ctx: ChatContext,
        *,
        tools: Sequence[FunctionTool] = (),
        tool_choice: ToolChoice = "auto",
        temperature: float | None = None,
    ) -> dict[str, Any]:
        """The JSON body sent for this completion (built when ``chat`` is called)."""
        opts = self.options
        body: dict[str, Any] = {
            "model": opts.model,
            "messages": to_messages(chat_ctx),
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        temp = temperature if temperature is not None else opts.temperature
        if temp is not None:
            body["temperature"] = temp
        if opts.max_completion_tokens is not None:
            body["max_completion_tokens"] = opts.max_completion_tokens
        if tools:
            names = {t.name for t in tools}
            if tool_choice not in ("auto", "required", "none") and tool_choice not in names:
                raise ConfigError(
                    f"tool_choice names no given tool: {tool_choice!r} (tools: {sorted(names)})"
                )
            body["tools"] = to_tools(tools)
            body["tool_choice"] = to_tool_choice(tool_choice)
            if opts.parallel_tool_calls is not None:
                body["parallel_tool_calls"] = opts.parallel_tool_calls
        return body

    async def _stream(self, body: dict[str, Any]) -> AsyncIterator[ChatChunk]:
        resp, reader, first = await with_retries(
            lambda: self._open(body), policy=self.retry_policy, provider=self.label
        )
        try:
            for chunk in first:
                yield chunk
            while (chunks := await reader.read()) is not None:
                for chunk in chunks:
                    yield chunk
            resp.release()
        finally:
            resp.close()

    async def _open(
        self, body: dict[str, Any]
    ) -> tuple[aiohttp.ClientResponse, _ChunkReader, list[ChatChunk]]:
        """One attempt: send the request and read up to the first output (all of this may be retried)."""
        resp = await self._client.post("/chat/completions", json_body=body)
        try:
            reader = _ChunkReader(resp, self._client)
            first: list[ChatChunk] = []
            while not first:
                chunks = await reader.read()
                if chunks is None:
                    break
                first = chunks
            return resp, reader, first
        except BaseException:
            resp.close()
            raise

    async def aclose(self) -> None:
        await self._client.aclose()


class _ChunkReader:
    """Reads an SSE completion body and returns parsed chunks as they arrive."""

    def __init__(self, resp: aiohttp.ClientResponse, client: OpenAIHTTPClient) -> None:
        self._resp = resp
        self._client = client
        self._decoder = SSEDecoder()
        self._parser = ChatStreamParser(provider=client.provider)
        self._ended = False

    async def read(self) -> list[ChatChunk] | None:
        """The next non-empty list of chunks, or ``None`` once the stream is complete."""
        while not self._ended:
            try:
                raw = await self._resp.content.readany()
            except (aiohttp.ClientError, TimeoutError, OSError) as e:
                raise error_from_exception(
                    e, provider=self._client.provider, secrets=self._client.secrets
                ) from None
            out: list[ChatChunk] = []
            events = self._decoder.feed(raw) if raw else self._decoder.flush()
            for event in events:
                out.extend(self._parser.feed(event.data))
            if not raw or self._parser.done:
                self._ended = True
                out.extend(self._parser.finish())
            if out:
                return out
        return None
