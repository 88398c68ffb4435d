"""Pure wire-format code of the OpenAI HTTP plugin, on recorded messages (no server)."""

from __future__ import annotations

import json

import pytest

from livekitex_agent.chat import ChatContext, FunctionCall, FunctionCallOutput
from livekitex_agent.errors import ConfigError, ErrorCategory, ProviderError
from livekitex_agent.plugins.openai.chat_format import ChatStreamParser, to_messages, to_tool_choice
from livekitex_agent.plugins.openai.client import error_from_response, parse_retry_after, resolve_base_url
from livekitex_agent.plugins.openai.sse import SSEDecoder

# A tool-call completion as OpenAI streams it (trimmed ids; the fields are the real ones).
RECORDED_TOOL_STREAM = [
    '{"id":"chatcmpl-B1","object":"chat.completion.chunk","created":1736000000,"model":"gpt-4o-mini-2024-07-18",'
    '"service_tier":"default","system_fingerprint":"fp_0aa8d3e20b","choices":[{"index":0,"delta":{"role":"assistant",'
    '"content":null,"tool_calls":[{"index":0,"id":"call_W1","type":"function","function":{"name":"get_weather",'
    '"arguments":""}}],"refusal":null},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"a1"}',
    '{"id":"chatcmpl-B1","object":"chat.completion.chunk","created":1736000000,"model":"gpt-4o-mini-2024-07-18",'
    '"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\\"ci"}}]},'
    '"logprobs":null,"finish_reason":null}],"usage":null}',
    '{"id":"chatcmpl-B1","object":"chat.completion.chunk","created":1736000000,"model":"gpt-4o-mini-2024-07-18",'
    '"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_T2","type":"function","function":'
    '{"name":"get_time","arguments":"{}"}}]},"logprobs":null,"finish_reason":null}],"usage":null}',
    '{"id":"chatcmpl-B1","object":"chat.completion.chunk","created":1736000000,"model":"gpt-4o-mini-2024-07-18",'
    '"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"ty\\": \\"Oslo\\"}"}}]},'
    '"logprobs":null,"finish_reason":null}],"usage":null}',
    '{"id":"chatcmpl-B1","object":"chat.completion.chunk","created":1736000000,"model":"gpt-4o-mini-2024-07-18",'
    '"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"tool_calls"}],"usage":null}',
    '{"id":"chatcmpl-B1","object":"chat.completion.chunk","created":1736000000,"model":"gpt-4o-mini-2024-07-18",'
    '"choices":[],"usage":{"prompt_tokens":80,"completion_tokens":31,"total_tokens":111,'
    '"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0}}}',
    "[DONE]",
]


def test_parser_assembles_interleaved_tool_calls_and_usage() -> None:
    parser = ChatStreamParser(provider="openai.LLM")
    out = [c for data in RECORDED_TOOL_STREAM for c in parser.feed(data)]
    out += parser.finish()
    calls = [tc for c in out for tc in c.tool_calls]
    assert [(c.call_id, c.name, json.loads(c.arguments)) for c in calls] == [
        ("call_W1", "get_weather", {"city": "Oslo"}),
        ("call_T2", "get_time", {}),
    ]
    usage = [c.usage for c in out if c.usage]
    assert len(usage) == 1 and usage[0].total_tokens == 111
    assert all(not c.content for c in out)


def test_parser_ignores_unknown_fields_null_choices_and_other_indexes() -> None:
    parser = ChatStreamParser(provider="p")
    out = parser.feed('{"choices":null,"usage":null,"new_field":{"x":1}}')
    out += parser.feed('{"choices":[{"index":1,"delta":{"content":"other choice"}}]}')
    out += parser.feed('{"choices":[{"index":0,"delta":{"content":"mine","audio":null}}]}')
    assert [c.content for c in out] == ["mine"]


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"choices": {"index": 0}}', "'choices' is not a list"),
        ('{"choices": [{"index": 0, "delta": "text"}]}', "'delta' is not an object"),
    ],
)
def test_parser_rejects_malformed_events_clearly(data: str, needle: str) -> None:
    parser = ChatStreamParser(provider="openai.LLM")
    with pytest.raises(ProviderError, match=needle) as info:
        parser.feed(data)
    assert info.value.category is ErrorCategory.BAD_RESPONSE and info.value.provider == "openai.LLM"


def test_parser_tool_call_without_name_is_rejected() -> None:
    parser = ChatStreamParser(provider="p")
    parser.feed(
        '{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]}}]}'
    )
    with pytest.raises(ProviderError, match="no function name"):
        parser.feed("[DONE]")


def test_parser_stream_without_done_is_an_error() -> None:
    parser = ChatStreamParser(provider="p")
    parser.feed('{"choices":[{"index":0,"delta":{"content":"Hi"}}]}')
    with pytest.raises(ProviderError, match="before \\[DONE\\]") as info:
        parser.finish()
    assert info.value.retryable


def test_sse_decoder_handles_split_bytes_crlf_comments_and_multiline() -> None:
    raw = ': keep-alive\r\n\r\ndata: {"a":\r\ndata: "é"}\r\n\r\nevent: done\ndata: [DONE]\n\n'.encode()
    decoder = SSEDecoder()
    events = []
    for i in range(len(raw)):  # one byte at a time: splits CRLF and the UTF-8 'é'
        events += decoder.feed(raw[i : i + 1])
    events += decoder.flush()
    assert [(e.event, e.data) for e in events] == [("message", '{"a":\n"é"}'), ("done", "[DONE]")]


def test_sse_decoder_flushes_an_unterminated_last_event() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: tail") == []
    assert [e.data for e in decoder.flush()] == ["tail"]


def test_messages_drop_unanswered_calls_and_orphan_outputs() -> None:
    ctx = ChatContext()
    ctx.add_message("user", "hi")
    ctx.append(FunctionCall(name="a", arguments="", call_id="answered"))
    ctx.append(FunctionCall(name="b", arguments="{}", call_id="unanswered"))
    ctx.append(FunctionCallOutput(call_id="ghost", name="x", output="orphan"))
    ctx.append(FunctionCallOutput(call_id="answered", name="a", output="42"))
    assert to_messages(ctx) == [
        {"role": "user", "content": "hi"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "answered", "type": "function", "function": {"name": "a", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "answered", "content": "42"},
    ]


def test_sequential_tool_steps_stay_separate_messages() -> None:
    ctx = ChatContext()
    ctx.add_message("user", "hi")
    for n in ("1", "2"):
        ctx.append(FunctionCall(name="f", arguments="{}", call_id=n))
        ctx.append(FunctionCallOutput(call_id=n, name="f", output=f"out{n}"))
    roles = [(m["role"], len(m.get("tool_calls", ()))) for m in to_messages(ctx)]
    assert roles == [("user", 0), ("assistant", 1), ("tool", 0), ("assistant", 1), ("tool", 0)]


def test_tool_choice_forms() -> None:
    assert to_tool_choice("required") == "required"
    assert to_tool_choice("lookup") == {"type": "function", "function": {"name": "lookup"}}


@pytest.mark.parametrize(
    ("status", "body", "category", "retryable"),
    [
        (
            400,
            {"error": {"message": "bad", "type": "invalid_request_error"}},
            ErrorCategory.BAD_REQUEST,
            False,
        ),
        (401, {"error": {"message": "no", "code": "invalid_api_key"}}, ErrorCategory.AUTHENTICATION, False),
        (403, {"error": {"message": "region"}}, ErrorCategory.AUTHENTICATION, False),
        (404, {"error": {"message": "model not found"}}, ErrorCategory.BAD_REQUEST, False),
        (408, {}, ErrorCategory.TIMEOUT, True),
        (
            429,
            {"error": {"message": "slow down", "code": "rate_limit_exceeded"}},
            ErrorCategory.RATE_LIMIT,
            True,
        ),
        (429, {"error": {"message": "pay", "type": "insufficient_quota"}}, ErrorCategory.QUOTA, False),
        (500, {"error": {"message": "oops"}}, ErrorCategory.SERVER, True),
        (503, "<html>Service Unavailable</html>", ErrorCategory.SERVER, True),
    ],
)
def test_error_mapping(status: int, body: object, category: ErrorCategory, retryable: bool) -> None:
    raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    err = error_from_response(status, raw, {"x-request-id": "req_1"}, provider="openai.LLM")
    assert (err.category, err.retryable, err.status_code) == (category, retryable, status)
    assert "req_1" in err.message


def test_error_message_redacts_the_key_and_is_bounded() -> None:
    key = "sk-live-abcdefghijklmnop1234"
    body = json.dumps({"error": {"message": f"key {key} rejected " + "x" * 1000}}).encode()
    err = error_from_response(401, body, {}, provider="openai.LLM", secrets=(key,))
    assert key not in str(err) and len(err.message) < 400


def test_retry_after_forms() -> None:
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:10 GMT"}, now=1445412480.0) == 10.0
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


def test_base_url_must_be_http() -> None:
    with pytest.raises(ConfigError, match="ftp://x"):
        resolve_base_url("ftp://x")
    assert resolve_base_url("http://127.0.0.1:1/v1/") == "http://127.0.0.1:1/v1"
