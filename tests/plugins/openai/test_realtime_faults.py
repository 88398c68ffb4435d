"""The OpenAI realtime client under server faults: missing metadata, oversized messages, forced
reconnects, and the user's untranscribed turn surviving a reconnect."""

from __future__ import annotations

import asyncio
import base64

from livekitex_agent.chat import ChatContext, ChatMessage
from livekitex_agent.providers import realtime as rt
from livekitex_agent.testing.realtime_server import RealtimeTestServer

from ._realtime_helpers import EventReader, collect, make_model, push, utterance

CS = rt.ConnectionState


async def test_reply_from_a_server_that_does_not_echo_metadata_arrives_at_once() -> None:
    async with RealtimeTestServer() as server:
        server.echo_metadata = False
        server.queue_response("Here you go.")
        session = make_model(server, turn_detection=None, reply_timeout=5.0).session()
        await session.connect()
        loop = asyncio.get_running_loop()
        started = loop.time()
        gen = await session.generate_reply()
        assert loop.time() - started < 1.0  # not the reply_timeout
        assert gen.user_initiated
        got = await collect(gen)
        assert got.text == "Here you go."
        assert server.connections[0].server_events[-1]["response"]["metadata"] is None
        await session.aclose()


async def test_oversized_message_is_reported_as_the_clients_own_limit_and_reconnects() -> None:
    async with RealtimeTestServer() as server:
        session = make_model(server, max_message_bytes=64 * 1024).session()
        await session.connect()
        reader = EventReader(session)
        await server.send_oversized(100 * 1024)
        lost = await reader.wait_for(rt.ConnectionStateChanged, new=CS.RECONNECTING)
        assert lost.reason is not None and "closed by the client" in lost.reason and "1009" in lost.reason
        assert "by the server" not in lost.reason
        assert lost.error is not None and lost.error.retryable
        await reader.wait_for(rt.ConnectionStateChanged, new=CS.CONNECTED)
        await session.aclose()


async def test_reconnect_drops_a_stalled_response_and_opens_a_fresh_connection() -> None:
    async with RealtimeTestServer() as server:
        server.queue_response("one two three four five six")
        server.fail_next_response(after_audio_deltas=1, action="stall")
        session = make_model(server, turn_detection=None).session()
        await session.connect()
        reader = EventReader(session)
        gen = await session.generate_reply()
        await server.wait_for_server_event("response.output_audio.delta")
        assert gen.first_output_at is not None
        await session.reconnect("no audio for 2s")
        got = await collect(gen)
        assert got.result is not None and (got.result.status, got.result.reason) == ("failed", rt.CONNECTION_LOST)
        lost = await reader.wait_for(rt.ConnectionStateChanged, new=CS.RECONNECTING)
        assert lost.reason == "no audio for 2s"
        await reader.wait_for(rt.ConnectionStateChanged, new=CS.CONNECTED)
        assert len(server.connections) == 2
        again = await collect(await session.generate_reply())
        assert again.text == "OK."
        await session.aclose()


async def test_untranscribed_user_turn_is_replayed_as_its_audio_after_a_reconnect() -> None:
    async with RealtimeTestServer() as server:
        server.never_answer = True  # the turn is committed, the model has not answered it yet
        session = make_model(server, input_transcription_model=None).session()
        await session.connect()
        reader = EventReader(session)
        ctx = ChatContext()
        ctx.append(ChatMessage(role="user", content="earlier question", id="u0"))
        await session.update_chat_ctx(ctx)
        push(session, utterance(speech_ms=500, silence_ms=800))
        committed = await reader.wait_for(rt.InputAudioCommitted)
        ctx.append(ChatMessage(role="user", content="", id=committed.item_id))  # no transcript (yet)
        await server.drop_connection()
        await reader.wait_for(rt.ConnectionStateChanged, new=CS.CONNECTED)
        second = await server.wait_for_connections(2)
        await server.wait_for_client_event("conversation.item.create", count=2, index=1)
        replayed = [e["item"] for e in second.client_events if e["type"] == "conversation.item.create"]
        assert [i["id"] for i in replayed] == ["u0", committed.item_id]
        (part,) = replayed[1]["content"]
        assert part["type"] == "input_audio"
        audio_ms = len(base64.b64decode(part["audio"])) / 48
        assert 1000 <= audio_ms <= 1400  # the user's turn as it was sent (speech and trailing silence)
        await session.aclose()
