"""openai.LLM against OpenAITestServer: streaming, tool calls, request shape, errors and retries."""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator

import pytest

from livekitex_agent.chat import ChatContext, FunctionCall, FunctionCallOutput
from livekitex_agent.errors import ConfigError, ErrorCategory, ProviderError
from livekitex_agent.plugins import openai
from livekitex_agent.providers import ChatChunk, RetryPolicy
from livekitex_agent.testing.openai_http import (
    ChatReply,
    ErrorReply,
    OpenAITestServer,
    RawReply,
    ToolCallReply,
)
from livekitex_agent.tools import function_tool

KEY = "sk-test-very-secret-key-0123456789"
FAST = RetryPolicy(max_retries=2, base_delay=0.001, max_delay=2.0, jitter=0.0, timeout=5.0)


@pytest.fixture
async def llm(server: OpenAITestServer) -> AsyncIterator[openai.LLM]:
    model = openai.LLM(api_key=KEY, base_url=server.base_url, retry_policy=FAST)
    yield model
    await model.aclose()


def user_ctx(text: str = "Hi") -> ChatContext:
    ctx = ChatContext()
    ctx.add_message("user", text)
    return ctx


async def collect(model: openai.LLM, ctx: ChatContext | None = None, **kwargs: object) -> list[ChatChunk]:
    async with model.chat(chat_ctx=ctx or user_ctx(), **kwargs) as stream:  # type: ignore[arg-type]
        return [chunk async for chunk in stream]


@function_tool
async def get_weather(city: str, unit: str = "celsius") -> str:
    """Look up the current weather for a city."""
    return f"sunny in {city}"


@function_tool
async def get_time(timezone: str) -> str:
    """Current time in a timezone."""
    return "noon"


async def test_streams_text_deltas_in_order_then_usage(server: OpenAITestServer, llm: openai.LLM) -> None:
    server.queue_chat(ChatReply(text=["Hel", "lo", " there", "!"], usage=(21, 4)))
    chunks = await collect(llm)
    assert [c.content for c in chunks if c.content] == ["Hel", "lo", " there", "!"]
    usage = [c.usage for c in chunks if c.usage is not None]
    assert len(usage) == 1 and chunks[-1].usage is usage[0]
    assert (usage[0].prompt_tokens, usage[0].completion_tokens, usage[0].total_tokens) == (21, 4, 25)


async def test_parallel_tool_calls_are_assembled_by_index(server: OpenAITestServer, llm: openai.LLM) -> None:
    server.queue_chat(
        ChatReply(
            text="Let me check.",
            tool_calls=[
                ToolCallReply("get_weather", {"city": "Paris", "unit": "celsius"}, call_id="call_a"),
                ToolCallReply("get_time", {"timezone": "Europe/Paris"}, call_id="call_b"),
            ],
            interleave_tool_calls=True,
            argument_chunk_size=3,
        )
    )
    chunks = await collect(llm, tools=[get_weather, get_time])
    assert "".join(c.content for c in chunks) == "Let me check."
    calls = [tc for c in chunks for tc in c.tool_calls]
    assert [(c.call_id, c.name, c.arguments) for c in calls] == [
        ("call_a", "get_weather", '{"city": "Paris", "unit": "celsius"}'),
        ("call_b", "get_time", '{"timezone": "Europe/Paris"}'),
    ]
    # the calls come complete, together, after the text
    call_chunks = [i for i, c in enumerate(chunks) if c.tool_calls]
    assert len(call_chunks) == 1
    assert call_chunks[0] > max(i for i, c in enumerate(chunks) if c.content)


async def test_request_shape_messages_tools_and_options(server: OpenAITestServer) -> None:
    model = openai.LLM(api_key=KEY, base_url=server.base_url, model="gpt-test", temperature=0.3)
    ctx = ChatContext()
    ctx.set_instructions("Be brief.")
    ctx.add_message("user", "Weather and time in Paris?")
    ctx.add_message("assistant", "Checking.")
    ctx.append(FunctionCall(name="get_weather", arguments='{"city":"Paris"}', call_id="c1"))
    ctx.append(FunctionCall(name="get_time", arguments='{"timezone":"CET"}', call_id="c2"))
    ctx.append(FunctionCallOutput(call_id="c1", name="get_weather", output="sunny"))
    ctx.append(FunctionCallOutput(call_id="c2", name="get_time", output="noon"))
    ctx.add_message("assistant", "Sunny, and it is noon.")
    ctx.add_message("user", "Thanks")
    try:
        await collect(model, ctx, tools=[get_weather, get_time], tool_choice="get_time", temperature=0.7)
    finally:
        await model.aclose()

    (req,) = server.requests_to("chat")
    assert req.headers["Authorization"] == f"Bearer {KEY}"
    body = req.json
    assert body["model"] == "gpt-test"
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["temperature"] == 0.7  # the per-call value wins over the instance default
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather and time in Paris?"},
        {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                },
                {
                    "id": "c2",
                    "type": "function",
                    "function": {"name": "get_time", "arguments": '{"timezone":"CET"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
        {"role": "tool", "tool_call_id": "c2", "content": "noon"},
        {"role": "assistant", "content": "Sunny, and it is noon."},
        {"role": "user", "content": "Thanks"},
    ]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "get_time"}}
    weather = body["tools"][0]
    assert weather["type"] == "function"
    assert weather["function"]["name"] == "get_weather"
    assert weather["function"]["description"] == "Look up the current weather for a city."
    params = weather["function"]["parameters"]
    assert params["type"] == "object"
    assert set(params["properties"]) == {"city", "unit"}
    assert params["required"] == ["city"]


async def test_no_tools_means_no_tool_fields(server: OpenAITestServer, llm: openai.LLM) -> None:
    await collect(llm)
    body = server.requests_to("chat")[0].json
    assert "tools" not in body and "tool_choice" not in body and "temperature" not in body


async def test_unknown_forced_tool_is_a_clear_error(llm: openai.LLM) -> None:
    with pytest.raises(ConfigError, match="'nope'"):
        llm.chat(chat_ctx=user_ctx(), tools=[get_weather], tool_choice="nope")


async def test_rate_limit_then_success_waits_for_retry_after(
    server: OpenAITestServer, llm: openai.LLM
) -> None:
    server.queue_chat(ErrorReply.rate_limited(retry_after=0.3), "Recovered.")
    chunks = await collect(llm)
    assert "".join(c.content for c in chunks) == "Recovered."
    first, second = server.requests_to("chat")
    # the policy's own backoff is 1 ms: only Retry-After explains a pause this long
    assert second.received_at - first.received_at >= 0.3


async def test_retry_after_longer_than_policy_allows_fails_at_once(server: OpenAITestServer) -> None:
    model = openai.LLM(api_key=KEY, base_url=server.base_url, retry_policy=FAST)
    server.queue_chat(ErrorReply.rate_limited(retry_after=30.0), "never reached")
    with pytest.raises(ProviderError) as info:
        await collect(model)
    await model.aclose()
    assert info.value.category is ErrorCategory.RATE_LIMIT
    assert info.value.retryable and info.value.retry_after == 30.0
    assert len(server.requests_to("chat")) == 1


async def test_server_error_is_retried(server: OpenAITestServer, llm: openai.LLM) -> None:
    server.queue_chat(ErrorReply.server_error(500), ErrorReply.server_error(503), "Third time lucky.")
    chunks = await collect(llm)
    assert "".join(c.content for c in chunks) == "Third time lucky."
    assert len(server.requests_to("chat")) == 3


async def test_server_errors_beyond_the_policy_raise(server: OpenAITestServer, llm: openai.LLM) -> None:
    server.queue_chat(*[ErrorReply.server_error()] * 3)
    with pytest.raises(ProviderError) as info:
        await collect(llm)
    assert info.value.category is ErrorCategory.SERVER and info.value.status_code == 500
    assert len(server.requests_to("chat")) == 3


async def test_unauthorized_is_not_retried(server: OpenAITestServer, llm: openai.LLM) -> None:
    server.queue_chat(ErrorReply.unauthorized(), "never reached")
    with pytest.raises(ProviderError) as info:
        await collect(llm)
    assert info.value.category is ErrorCategory.AUTHENTICATION
    assert not info.value.retryable and info.value.status_code == 401
    assert len(server.requests_to("chat")) == 1


async def test_insufficient_quota_is_not_retried(server: OpenAITestServer, llm: openai.LLM) -> None:
    server.queue_chat(ErrorReply.quota_exceeded())
    with pytest.raises(ProviderError) as info:
        await collect(llm)
    assert info.value.category is ErrorCategory.QUOTA and not info.value.retryable
    assert len(server.requests_to("chat")) == 1


async def test_bad_request_is_not_retried(server: OpenAITestServer, llm: openai.LLM) -> None:
    server.queue_chat(ErrorReply.bad_request("Invalid 'messages[0]'"))
    with pytest.raises(ProviderError, match="Invalid 'messages\\[0\\]'") as info:
        await collect(llm)
    assert info.value.category is ErrorCategory.BAD_REQUEST and not info.value.retryable


async def test_malformed_sse_is_a_clear_bad_response(server: OpenAITestServer, llm: openai.LLM) -> None:
    server.queue_chat(RawReply.malformed_sse())
    with pytest.raises(ProviderError, match="not JSON") as info:
        await collect(llm)
    assert info.value.category is ErrorCategory.BAD_RESPONSE
    assert len(server.requests_to("chat")) == 1


async def test_error_event_inside_the_stream(server: OpenAITestServer, llm: openai.LLM) -> None:
    body = 'data: {"error": {"message": "The model is overloaded", "type": "server_error"}}\n\n'
    server.queue_chat(RawReply(body, content_type="text/event-stream"), "ok")
    chunks = await collect(llm)  # nothing was streamed yet, so the request is retried
    assert "".join(c.content for c in chunks) == "ok"
    assert len(server.requests_to("chat")) == 2


async def test_stream_cut_after_first_token_raises_without_retry(
    server: OpenAITestServer, llm: openai.LLM
) -> None:
    # events: role chunk, "One", " two" ...: cut after the first content delta
    server.queue_chat(ChatReply(text="One two three", cut_after=2), "should not be requested")
    received: list[str] = []
    with pytest.raises(ProviderError) as info:
        async with llm.chat(chat_ctx=user_ctx()) as stream:
            async for chunk in stream:
                received.append(chunk.content)
    assert received == ["One"]
    assert info.value.category is ErrorCategory.CONNECTION
    assert len(server.requests_to("chat")) == 1
    assert server.pending("chat") == 1


async def test_stream_ending_without_done_after_output_raises(
    server: OpenAITestServer, llm: openai.LLM
) -> None:
    chunk = '{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hi"}}]}'
    server.queue_chat(RawReply(f"data: {chunk}\n\n", content_type="text/event-stream"))
    received: list[str] = []
    with pytest.raises(ProviderError, match="before \\[DONE\\]"):
        async with llm.chat(chat_ctx=user_ctx()) as stream:
            async for c in stream:
                received.append(c.content)
    assert received == ["Hi"]
    assert len(server.requests_to("chat")) == 1


async def test_no_answer_within_the_timeout(server: OpenAITestServer) -> None:
    policy = RetryPolicy(max_retries=0, timeout=0.2)
    model = openai.LLM(api_key=KEY, base_url=server.base_url, retry_policy=policy)
    server.queue_chat(ChatReply(text="late", delay=5.0))
    with pytest.raises(ProviderError) as info:
        await collect(model)
    await model.aclose()
    assert info.value.category is ErrorCategory.TIMEOUT and info.value.retryable


async def test_connection_refused_is_a_retryable_connection_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    policy = RetryPolicy(max_retries=1, base_delay=0.001, jitter=0.0, timeout=5.0)
    model = openai.LLM(api_key=KEY, base_url=f"http://127.0.0.1:{port}/v1", retry_policy=policy)
    with pytest.raises(ProviderError) as info:
        await collect(model)
    await model.aclose()
    assert info.value.category is ErrorCategory.CONNECTION and info.value.retryable


async def test_missing_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        openai.LLM()


async def test_key_and_base_url_from_the_environment(
    server: OpenAITestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "env-key-123456")
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    model = openai.LLM()
    assert model.base_url == server.base_url
    await collect(model)
    await model.aclose()
    assert server.requests_to("chat")[0].headers["Authorization"] == "Bearer env-key-123456"


async def test_default_reply_echoes_the_user(server: OpenAITestServer, llm: openai.LLM) -> None:
    chunks = await collect(llm, user_ctx("ping"))
    assert "".join(c.content for c in chunks) == "You said: ping"


async def test_api_key_never_in_logs_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    secret = "sk-proj-Zy8w7v6u5t4s3r2q1p0o"
    caplog.set_level(logging.DEBUG)
    async with OpenAITestServer() as server:
        model = openai.LLM(api_key=secret, base_url=server.base_url, retry_policy=FAST)
        server.queue_chat(ErrorReply.rate_limited(retry_after=0.0), "ok")
        await collect(model)  # a logged retry
        server.api_key = "the-right-key"  # now the server rejects ours, echoing it masked like OpenAI
        with pytest.raises(ProviderError) as info:
            await collect(model)
        await model.aclose()
    assert info.value.category is ErrorCategory.AUTHENTICATION
    assert "Incorrect API key" in str(info.value)
    assert any("retry 1/2" in r.getMessage() for r in caplog.records)
    for text in (str(info.value), repr(info.value), caplog.text, repr(model), repr(model.options)):
        assert secret not in text
