"""Connection life of the OpenAI realtime client: reconnect + replay, fatal errors, renewal, leniency."""

from __future__ import annotations

import asyncio
import logging

import pytest

from livekitex_agent.chat import ChatContext, ChatMessage, FunctionCall, FunctionCallOutput
from livekitex_agent.errors import ProviderError
from livekitex_agent.providers import realtime as rt
from livekitex_agent.providers.base import RetryPolicy
from livekitex_agent.testing.realtime_server import RealtimeTestServer
from livekitex_agent.tools import function_tool

from ._realtime_helpers import EventReader, collect, make_model, push, utterance

CS = rt.ConnectionState


@function_tool
async def lookup(order_id: str) -> str:
    """Look up an order."""
    return "shipped"


def history() -> ChatContext:
    ctx = ChatContext()
    ctx.set_instructions("You are a shop assistant.")
    ctx.append(ChatMessage(role="user", content="Where is order 7?", id="u1"))
    ctx.append(FunctionCall(name="lookup", arguments='{"order_id":"7"}', call_id="c7", id="fc7"))
    ctx.append(FunctionCallOutput(call_id="c7", name="lookup", output="shipped", id="fo7"))
    ctx.append(ChatMessage(role="assistant", content="Order 7 has shipped.", id="a1"))
    ctx.append(ChatMessage(role="user", content="", id="audio_without_transcript"))
    return ctx


async def test_dropped_socket_mid_response_reconnects_and_replays_settings_and_history() -> None:
    async with RealtimeTestServer() as server:
        server.delta_delay = 0.01
        server.queue_response("This reply will be cut off by the network, sadly.")
        server.fail_next_response(after_audio_deltas=2, action="drop")
        session = make_model(server, turn_detection=None).session()
        await session.update_instructions("You are a shop assistant.")
        await session.update_tools([lookup])
        await session.connect()
        reader = EventReader(session)
        ctx = history()
        await session.update_chat_ctx(ctx)
        gen = await session.generate_reply()
        got = await collect(gen)
        assert got.result is not None and (got.result.status, got.result.reason) == ("failed", "connection_lost")
        reconnecting = await reader.wait_for(rt.ConnectionStateChanged, new=CS.RECONNECTING)
        assert reconnecting.attempt == 1 and reconnecting.error is not None and reconnecting.error.retryable
        back = await reader.wait_for(rt.ConnectionStateChanged, new=CS.CONNECTED)
        assert back.reconnected
        second = await server.wait_for_connections(2)
        await server.wait_for_client_event("conversation.item.create", count=4, index=1)

        update = second.client_events[0]
        assert update["type"] == "session.update"
        cfg = update["session"]
        assert cfg["instructions"] == "You are a shop assistant."
        assert [t["name"] for t in cfg["tools"]] == ["lookup"]
        assert cfg["audio"]["output"]["voice"] == "marin"
        assert cfg["audio"]["input"]["turn_detection"] is None
        replayed = [e["item"] for e in second.client_events if e["type"] == "conversation.item.create"]
        assert replayed == [
            {"id": "u1", "type": "message", "role": "user",
             "content": [{"type": "input_text", "text": "Where is order 7?"}]},
            {"id": "fc7", "type": "function_call", "call_id": "c7", "name": "lookup",
             "arguments": '{"order_id":"7"}'},
            {"id": "fo7", "type": "function_call_output", "call_id": "c7", "output": "shipped"},
            {"id": "a1", "type": "message", "role": "assistant",
             "content": [{"type": "output_text", "text": "Order 7 has shipped."}]},
        ]
        # the new connection works: a reply on it
        again = await collect(await session.generate_reply())
        assert again.text == "OK."
        await session.aclose()
        assert [i["id"] for i in second.items][:4] == ["u1", "fc7", "fo7", "a1"]


async def test_close_1001_is_a_retryable_end() -> None:
    async with RealtimeTestServer(session_duration=0.3, enforce_session_duration=True) as server:
        session = make_model(server).session()
        await session.connect()
        reader = EventReader(session)
        await reader.wait_for(rt.ConnectionStateChanged, new=CS.RECONNECTING)
        await reader.wait_for(rt.ConnectionStateChanged, new=CS.CONNECTED)
        assert server.connections[0].close_code == 1001
        await session.aclose()


async def test_fatal_error_fails_without_retry() -> None:
    async with RealtimeTestServer() as server:
        session = make_model(server).session()
        await session.connect()
        reader = EventReader(session)
        await server.send_error("insufficient_quota", "You exceeded your current quota.")
        rest = await reader.rest()
        errors = [e for e in rest if isinstance(e, rt.RealtimeErrorEvent)]
        assert len(errors) == 1 and errors[0].fatal and errors[0].error.code == "insufficient_quota"
        changes = [e for e in rest if isinstance(e, rt.ConnectionStateChanged)]
        assert [(e.old, e.new) for e in changes] == [
            (CS.IDLE, CS.CONNECTING), (CS.CONNECTING, CS.CONNECTED), (CS.CONNECTED, CS.FAILED)
        ]
        assert session.state is CS.FAILED
        with pytest.raises(ProviderError) as info:
            await session.generate_reply()
        assert not info.value.retryable
        await server.wait_until(lambda: server.connections[0].closed, what="client close")
        assert len(server.connections) == 1 and server.refused == 0
        await session.aclose()


async def test_wrong_api_key_fails_connect_without_retry_and_without_leaking_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with RealtimeTestServer() as server:
        model = make_model(server)
        model._api_key = "sk-wrong-key-0123456789"
        session = model.session()
        with pytest.raises(ProviderError) as info:
            await session.connect()
        assert info.value.code == "invalid_api_key" and not info.value.retryable
        assert session.state is CS.FAILED
        assert len(server.connections) == 1 and not server.connections[0].authorized
        assert "sk-wrong-key" not in str(info.value) and "sk-wrong-key" not in caplog.text
        await session.aclose()


async def test_refused_connections_are_retried_until_success() -> None:
    async with RealtimeTestServer() as server:
        server.refuse_connections(2, status=503)
        session = make_model(server).session()
        await session.connect()
        assert session.state is CS.CONNECTED
        assert server.refused == 2 and len(server.connections) == 1
        await session.aclose()


async def test_reconnect_gives_up_after_the_retry_budget() -> None:
    async with RealtimeTestServer() as server:
        policy = RetryPolicy(max_retries=2, base_delay=0.01, max_delay=0.02, timeout=None)
        session = make_model(server, retry_policy=policy).session()
        await session.connect()
        reader = EventReader(session)
        server.refuse_connections(5, status=503)
        await server.close_connection(code=1011)
        rest = await reader.rest()
        states = [(e.new, e.attempt) for e in rest if isinstance(e, rt.ConnectionStateChanged)]
        assert states[2:] == [(CS.RECONNECTING, 1), (CS.RECONNECTING, 2), (CS.FAILED, 0)]
        failed = [e for e in rest if isinstance(e, rt.ConnectionStateChanged)][-1]
        assert failed.reason is not None and "gave up reconnecting after 2 attempts" in failed.reason
        assert server.refused == 2
        await session.aclose()


async def test_non_retryable_close_code_fails() -> None:
    async with RealtimeTestServer() as server:
        session = make_model(server).session()
        await session.connect()
        reader = EventReader(session)
        await server.close_connection(code=1008, reason="policy")
        rest = await reader.rest()
        states = [e.new for e in rest if isinstance(e, rt.ConnectionStateChanged)]
        assert states == [CS.CONNECTING, CS.CONNECTED, CS.FAILED]
        await session.aclose()


async def test_unknown_events_fields_and_malformed_messages_are_skipped(caplog: pytest.LogCaptureFixture) -> None:
    async with RealtimeTestServer() as server:
        server.inject_unknown = True
        server.queue_transcript("hi")
        server.queue_response("Hello!")
        session = make_model(server).session()
        await session.connect()
        reader = EventReader(session)
        await server.send_raw("{this is not json")
        await server.send_raw({"event_id": "e1", "no": "type"})
        await server.send_raw({"type": "brand_new.event", "payload": {"x": 1}})
        push(session, utterance())
        got = await collect((await reader.wait_for(rt.GenerationCreated)).generation)
        assert got.text == "Hello!" and got.result is not None and got.result.status == "completed"
        assert "response.future_event" in server.connections[0].server_types()
        assert session.state is CS.CONNECTED
        assert not any(isinstance(e, rt.RealtimeErrorEvent) for e in reader.seen)
        assert "skipping a malformed server message" in caplog.text and "not valid JSON" in caplog.text
        assert "has no 'type'" in caplog.text
        await session.aclose()


async def test_renewal_before_expiry_happens_only_between_responses() -> None:
    now = [1_000.0]

    def clock() -> float:
        return now[0]

    async with RealtimeTestServer(clock=clock, session_duration=3600) as server:
        server.delta_delay = 0.02
        server.queue_response(" ".join(["speaking"] * 12), "Still here.")
        session = make_model(server, turn_detection=None, clock=clock, renew_margin=300,
                              renew_check_interval=0.005).session()
        await session.connect()
        reader = EventReader(session)
        ctx = ChatContext([ChatMessage(role="user", content="Remember: blue.", id="u1")])
        await session.update_chat_ctx(ctx)
        gen = await session.generate_reply()
        msg = await anext(gen.messages)
        await anext(msg.audio_stream)
        now[0] = 1_000.0 + 3600 - 200  # inside the renewal margin while a response is in progress
        got = await collect(gen)
        assert got.result is not None and got.result.status == "completed"
        second = await server.wait_for_connections(2)
        first = server.connections[0]
        assert second.opened_seq > first.seq_of("response.done")  # not during the response
        await server.wait_until(lambda: first.closed, what="old connection closed")
        assert first.close_code == 1000
        assert second.client_types()[:2] == ["session.update", "conversation.item.create"]
        assert second.client_events[1]["item"]["id"] == "u1"
        follow = await collect(await session.generate_reply())
        assert follow.text == "Still here."
        assert "response.create" in second.client_types()
        assert not any(isinstance(e, rt.ConnectionStateChanged) and e.new is CS.RECONNECTING for e in reader.seen)
        await session.aclose()


def our_tasks() -> list[str]:
    return sorted(
        t.get_name() for t in asyncio.all_tasks()
        if not t.done() and t.get_name().startswith(("openai.RealtimeModel-", "realtime#"))
    )


async def test_no_task_outlives_the_session() -> None:
    async with RealtimeTestServer() as server:
        session = make_model(server).session()
        await session.connect()
        reader = EventReader(session)
        assert our_tasks() == ["openai.RealtimeModel-renew-timer", "openai.RealtimeModel-supervisor",
                               "realtime#1-writer"]
        await server.drop_connection()
        await reader.wait_for(rt.ConnectionStateChanged, old=CS.RECONNECTING, new=CS.CONNECTED)
        assert "realtime#1-writer" not in our_tasks() and "realtime#2-writer" in our_tasks()
        await session.aclose()
        assert our_tasks() == []
        failing = make_model(server).session()
        await failing.connect()
        reader = EventReader(failing)
        await server.send_error("account_deactivated")
        await reader.rest()
        for _ in range(200):  # the supervisor releases everything right after the failure
            if not our_tasks():
                break
            await asyncio.sleep(0.01)
        assert our_tasks() == []  # released on failure, before aclose
        await server.wait_until(lambda: server.connections[-1].closed, what="close after failure")
        await failing.aclose()
