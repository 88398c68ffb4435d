"""RealtimeTestServer speaks the GA protocol: event order, error cases, faults, scripting, recording."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import numpy as np
import pytest

from livekitex_agent.testing.realtime_server import (
    RealtimeTestServer,
    ScriptContext,
    ScriptedFunctionCall,
    ScriptedMessage,
    ScriptedResponse,
)


class RawClient:
    """A bare websocket client: sends dict events, reads server events."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.received: list[dict[str, Any]] = []
        self._taken: set[int] = set()

    async def send(self, event: dict[str, Any]) -> None:
        await self.ws.send_str(json.dumps(event))

    async def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        msg = await self.ws.receive(timeout=timeout)
        assert msg.type is aiohttp.WSMsgType.TEXT, f"socket ended: {msg.type} {self.ws.close_code}"
        event: dict[str, Any] = json.loads(msg.data)
        self.received.append(event)
        return event

    async def until(self, event_type: str, timeout: float = 5.0) -> dict[str, Any]:
        """The first event of ``event_type`` not returned by ``until`` yet (reading more if needed)."""
        for i, event in enumerate(self.received):
            if i not in self._taken and event["type"] == event_type:
                self._taken.add(i)
                return event
        async with asyncio.timeout(timeout):
            while True:
                event = await self.recv(timeout)
                if event["type"] == event_type:
                    self._taken.add(len(self.received) - 1)
                    return event

    async def append(self, pcm: np.ndarray) -> None:
        for i in range(0, pcm.size, 2400):
            chunk = pcm[i : i + 2400].astype("<i2").tobytes()
            await self.send({"type": "input_audio_buffer.append", "audio": base64.b64encode(chunk).decode()})

    def types(self) -> list[str]:
        return [e["type"] for e in self.received]


def tone(ms: int) -> np.ndarray:
    t = np.arange(24 * ms) / 24000
    return (0.3 * 32767 * np.sin(2 * np.pi * 300 * t)).astype(np.int16)


def silence(ms: int) -> np.ndarray:
    return np.zeros(24 * ms, dtype=np.int16)


@pytest.fixture
async def server() -> AsyncIterator[RealtimeTestServer]:
    async with RealtimeTestServer() as srv:
        yield srv


@pytest.fixture
async def client(server: RealtimeTestServer) -> AsyncIterator[RawClient]:
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(
            server.base_url.replace("http://", "ws://") + "/realtime?model=gpt-realtime",
            headers={"Authorization": f"Bearer {server.api_key}"},
        )
        c = RawClient(ws)
        created = await c.recv()
        assert created["type"] == "session.created"
        yield c
        await ws.close()


async def test_session_created_first_and_update(client: RawClient, server: RealtimeTestServer) -> None:
    created = client.received[0]["session"]
    assert created["type"] == "realtime" and created["model"] == "gpt-realtime"
    assert created["expires_at"] > 0 and created["audio"]["input"]["turn_detection"]["type"] == "server_vad"
    await client.send({"type": "session.update", "session": {
        "type": "realtime", "instructions": "Be brief.",
        "audio": {"output": {"voice": "cedar"}, "input": {"turn_detection": None}}}})
    updated = await client.recv()
    assert updated["type"] == "session.updated"
    assert updated["session"]["instructions"] == "Be brief."
    assert updated["session"]["audio"]["output"]["voice"] == "cedar"
    assert updated["session"]["audio"]["output"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert updated["session"]["audio"]["input"]["turn_detection"] is None
    assert server.connections[0].client_types() == ["session.update"]


@pytest.mark.parametrize(("session", "code", "param"), [
    ({"modalities": ["text"], "voice": "alloy"}, "missing_required_parameter", "session.type"),
    ({"type": "realtime", "voice": "alloy"}, "unknown_parameter", "session.voice"),
    ({"type": "realtime", "tools": [{"type": "function", "function": {"name": "f"}}]}, "invalid_value",
     "session.tools[0]"),
    ({"type": "realtime", "output_modalities": ["text", "audio"]}, "invalid_value", "session.output_modalities"),
])
async def test_beta_shaped_session_updates_are_rejected(client: RawClient, session: dict[str, Any], code: str,
                                                        param: str) -> None:
    await client.send({"type": "session.update", "session": session, "event_id": "evt_1"})
    error = (await client.recv())["error"]
    assert (error["code"], error["param"], error["event_id"]) == (code, param, "evt_1")


async def test_spoken_turn_event_order(client: RawClient, server: RealtimeTestServer) -> None:
    server.queue_response("Hi there, friend.")
    await client.send({"type": "session.update", "session": {
        "type": "realtime", "audio": {"input": {"transcription": {"model": "gpt-4o-mini-transcribe"}}}}})
    server.queue_transcript("hello")
    await client.append(np.concatenate([silence(500), tone(500), silence(700)]))
    await client.until("response.done")
    order = [t for t in client.types() if t not in ("session.created", "session.updated", "rate_limits.updated")]
    deltas = ["response.output_audio_transcript.delta", "response.output_audio.delta"] * 3
    assert order == [
        "input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped", "input_audio_buffer.committed",
        "conversation.item.added", "conversation.item.done",
        "conversation.item.input_audio_transcription.delta", "conversation.item.input_audio_transcription.completed",
        "response.created", "response.output_item.added", "conversation.item.added", "response.content_part.added",
        *deltas,
        "response.output_audio.done", "response.output_audio_transcript.done", "response.content_part.done",
        "response.output_item.done", "conversation.item.done", "response.done",
    ]
    ev = {e["type"]: e for e in client.received}
    started, stopped = ev["input_audio_buffer.speech_started"], ev["input_audio_buffer.speech_stopped"]
    assert started["audio_start_ms"] == 500 - 300  # speech began at 500 ms; 300 ms of prefix padding
    assert stopped["audio_end_ms"] == 1000 and stopped["item_id"] == started["item_id"]
    assert ev["input_audio_buffer.committed"]["item_id"] == started["item_id"]
    done = ev["response.done"]["response"]
    assert done["status"] == "completed" and done["usage"]["output_tokens"] > 0
    assert done["output"][0]["content"] == [{"type": "output_audio", "transcript": "Hi there, friend."}]
    audio = b"".join(base64.b64decode(e["delta"]) for e in client.received
                     if e["type"] == "response.output_audio.delta")
    assert len(audio) == len("Hi there, friend.") * server.audio_ms_per_char * 48
    items = server.connections[0].items
    assert [(i["role"], i["content"][0].get("transcript")) for i in items] == [
        ("user", "hello"), ("assistant", "Hi there, friend.")]


async def test_function_call_round_trip(client: RawClient, server: RealtimeTestServer) -> None:
    server.queue_response(ScriptedFunctionCall("get_weather", {"city": "Oslo"}, call_id="call_1"))

    def script(ctx: ScriptContext) -> str:
        last = ctx.last_item or {}
        return f"Result: {last.get('output')}" if last.get("type") == "function_call_output" else "?"

    server.script = script
    await client.send({"type": "response.create"})
    done = await client.until("response.function_call_arguments.done")
    assert (done["name"], done["call_id"], json.loads(done["arguments"])) == ("get_weather", "call_1", {"city": "Oslo"})
    await client.until("response.done")
    await client.send({"type": "conversation.item.create",
                       "item": {"type": "function_call_output", "call_id": "call_1", "output": "cold"}})
    await client.send({"type": "response.create"})
    final = await client.until("response.done")
    assert final["response"]["output"][0]["content"][0]["transcript"] == "Result: cold"


async def test_error_cases(client: RawClient, server: RealtimeTestServer) -> None:
    # commit of less than 100 ms
    await client.send({"type": "session.update", "session": {"type": "realtime",
                                                             "audio": {"input": {"turn_detection": None}}}})
    await client.until("session.updated")
    await client.append(silence(50))
    await client.send({"type": "input_audio_buffer.commit"})
    assert (await client.until("error"))["error"]["code"] == "input_audio_buffer_commit_empty"
    # cancel with nothing active
    await client.send({"type": "response.cancel"})
    assert (await client.until("error"))["error"]["code"] == "response_cancel_not_active"
    # unknown items
    await client.send({"type": "conversation.item.truncate", "item_id": "nope", "content_index": 0,
                       "audio_end_ms": 10})
    assert "does not exist" in (await client.until("error"))["error"]["message"]
    await client.send({"type": "conversation.item.delete", "item_id": "nope"})
    assert (await client.until("error"))["error"]["param"] == "item_id"
    # response.create while one is active
    server.delta_delay = 0.05
    server.queue_response("one two three four five six")
    await client.send({"type": "response.create"})
    created = await client.until("response.created")
    await client.send({"type": "response.create", "event_id": "second"})
    error = (await client.until("error"))["error"]
    assert (error["code"], error["event_id"]) == ("conversation_already_has_active_response", "second")
    assert created["response"]["id"] in error["message"]
    item_id = (await client.until("response.output_item.added"))["item"]["id"]
    await client.until("response.output_audio.delta")
    await client.send({"type": "response.cancel"})
    done = await client.until("response.done")
    assert done["response"]["status"] == "cancelled"
    assert done["response"]["status_details"] == {"type": "cancelled", "reason": "client_cancelled"}
    assert done["response"]["output"][0]["status"] == "incomplete"
    # truncating past the end of the audio
    sent_ms = sum(len(base64.b64decode(e["delta"])) for e in client.received
                  if e["type"] == "response.output_audio.delta") // 48
    await client.send({"type": "conversation.item.truncate", "item_id": item_id, "content_index": 0,
                       "audio_end_ms": sent_ms + 1})
    error = (await client.until("error"))["error"]
    assert error["code"] == "invalid_value" and f"Audio content of {sent_ms}ms is already shorter" in error["message"]
    await client.send({"type": "conversation.item.truncate", "item_id": item_id, "content_index": 0,
                       "audio_end_ms": sent_ms})
    assert (await client.recv())["type"] == "conversation.item.truncated"
    # an unknown client event type
    await client.send({"type": "response.audio.delta"})
    assert (await client.until("error"))["error"]["param"] == "type"


async def test_items_create_delete_and_previous_item_id(client: RawClient, server: RealtimeTestServer) -> None:
    def user(text: str, id: str) -> dict[str, Any]:
        return {"id": id, "type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}

    await client.send({"type": "conversation.item.create", "item": user("b", "b")})
    added = await client.until("conversation.item.added")
    assert added["previous_item_id"] is None and added["item"]["status"] == "completed"
    await client.send({"type": "conversation.item.create", "item": user("a", "a"), "previous_item_id": "root"})
    await client.send({"type": "conversation.item.create", "item": user("c", "c"), "previous_item_id": "b"})
    await client.send({"type": "conversation.item.create", "item": user("dup", "a")})
    assert "already exists" in (await client.until("error"))["error"]["message"]
    await client.send({"type": "conversation.item.create", "item": {
        "type": "message", "role": "assistant", "content": [{"type": "text", "text": "beta shape"}]}})
    assert (await client.until("error"))["error"]["param"] == "item.content[0].type"
    await client.send({"type": "conversation.item.delete", "item_id": "b"})
    assert (await client.until("conversation.item.deleted"))["item_id"] == "b"
    assert [i["id"] for i in server.connections[0].items] == ["a", "c"]


async def test_barge_in_cancels_only_with_interrupt_response(client: RawClient, server: RealtimeTestServer) -> None:
    server.delta_delay = 0.05
    server.queue_response(" ".join(["word"] * 40), " ".join(["again"] * 40))
    await client.append(np.concatenate([tone(300), silence(600)]))
    await client.until("response.output_audio.delta")
    await client.append(tone(200))
    await client.until("input_audio_buffer.speech_started")
    done = await client.until("response.done")
    assert done["response"]["status_details"] == {"type": "cancelled", "reason": "turn_detected"}
    # without interrupt_response, speech does not cancel
    await client.send({"type": "session.update", "session": {"type": "realtime", "audio": {"input": {
        "turn_detection": {"type": "server_vad", "interrupt_response": False, "create_response": False}}}}})
    await client.append(silence(600))
    await client.until("input_audio_buffer.speech_stopped")
    server.delta_delay = 0.0
    await client.send({"type": "response.create"})
    await client.until("response.output_audio.delta")
    await client.append(np.concatenate([tone(200), silence(600)]))
    done = await client.until("response.done")
    assert done["response"]["status"] == "completed"


async def test_transcription_failure_and_script_sees_conversation(client: RawClient,
                                                                  server: RealtimeTestServer) -> None:
    seen: list[str | None] = []

    def script(ctx: ScriptContext) -> ScriptedResponse:
        seen.append(ctx.last_user_text)
        return ScriptedResponse([ScriptedMessage("plain")], status="incomplete")

    server.script = script
    server.queue_transcript(None)
    await client.send({"type": "session.update", "session": {"type": "realtime", "output_modalities": ["text"],
                                                             "audio": {"input": {"transcription": {"model": "m"}}}}})
    await client.append(np.concatenate([tone(300), silence(700)]))
    failed = await client.until("conversation.item.input_audio_transcription.failed")
    assert failed["error"]["code"] == "audio_unintelligible"
    done = await client.until("response.done")
    assert done["response"]["status"] == "incomplete"
    assert "response.output_text.delta" in client.types() and "response.output_audio.delta" not in client.types()
    assert seen == [""]


async def test_auth_and_beta_shape_rejections(server: RealtimeTestServer) -> None:
    url = server.base_url.replace("http://", "ws://") + "/realtime?model=gpt-realtime"
    async with aiohttp.ClientSession() as http:
        for headers, code in [({"Authorization": "Bearer sk-wrong"}, "invalid_api_key"),
                              ({"Authorization": f"Bearer {server.api_key}", "OpenAI-Beta": "realtime=v1"},
                               "beta_api_shape_disabled")]:
            ws = await http.ws_connect(url, headers=headers)
            msg = await ws.receive(timeout=5)
            assert json.loads(msg.data)["error"]["code"] == code
            closing = await ws.receive(timeout=5)
            assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
            await ws.close()
        server.refuse_connections(1, status=503)
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await http.ws_connect(url, headers={"Authorization": f"Bearer {server.api_key}"})
        assert info.value.status == 503
    assert [c.authorized for c in server.connections] == [False, True]
    assert all("Authorization" not in c.headers for c in server.connections)


async def test_faults_close_codes_drop_and_unknown_events(client: RawClient, server: RealtimeTestServer) -> None:
    server.inject_unknown = True
    server.queue_response("hello world")
    await client.send({"type": "response.create"})
    await client.until("response.done")
    assert "response.future_event" in client.types()
    assert all("obfuscation" in e for e in client.received if e["type"].endswith(".delta"))
    server.fail_next_response(after_audio_deltas=1, action="close", close_code=1011)
    server.queue_response("bye now")
    await client.send({"type": "response.create"})
    msg = None
    while True:
        msg = await client.ws.receive(timeout=5)
        if msg.type is not aiohttp.WSMsgType.TEXT:
            break
    assert client.ws.close_code == 1011
    await server.wait_until(lambda: server.connections[0].closed, what="close")
    assert server.connections[0].close_code == 1011


async def test_never_answer_accepts_response_create_and_sends_nothing(client: RawClient,
                                                                      server: RealtimeTestServer) -> None:
    server.never_answer = True
    await client.send({"type": "response.create", "event_id": "e1"})
    await client.append(np.concatenate([tone(400), silence(700)]))  # a user turn under server VAD too
    await client.until("conversation.item.done")
    with pytest.raises(TimeoutError):
        await client.until("response.created", timeout=0.3)
    assert "error" not in client.types()


async def test_echo_metadata_off_answers_with_metadata_null(client: RawClient, server: RealtimeTestServer) -> None:
    server.echo_metadata = False
    await client.send({"type": "response.create", "response": {"metadata": {"lkx_request": "r1"}}})
    created = await client.until("response.created")
    done = await client.until("response.done")
    assert created["response"]["metadata"] is None and done["response"]["metadata"] is None


async def test_fail_on_answers_the_named_client_event_with_an_error(client: RawClient,
                                                                    server: RealtimeTestServer) -> None:
    server.fail_on("response.create")
    await client.send({"type": "response.create", "event_id": "evt_a"})
    err = await client.until("error")
    assert err["error"]["code"] == "insufficient_quota" and err["error"]["event_id"] == "evt_a"
    assert "response.created" not in client.types()
    await client.send({"type": "response.create", "event_id": "evt_b"})  # only the first one failed
    await client.until("response.done")
    server.fail_on("session.update", "invalid_api_key", count=1)
    await client.send({"type": "session.update", "session": {"type": "realtime"}, "event_id": "evt_c"})
    err = await client.until("error")
    assert err["error"]["code"] == "invalid_api_key" and err["error"]["event_id"] == "evt_c"
    with pytest.raises(ValueError, match="count must be >= 1, got 0"):
        server.fail_on("response.create", count=0)


async def test_stall_stops_a_response_mid_way_and_keeps_the_socket_open(client: RawClient,
                                                                         server: RealtimeTestServer) -> None:
    server.queue_response("one two three four five")
    server.fail_next_response(after_audio_deltas=2, action="stall")
    await client.send({"type": "response.create"})
    await client.until("response.output_audio.delta")
    await client.until("response.output_audio.delta")
    with pytest.raises(TimeoutError):
        await client.until("response.output_audio.delta", timeout=0.3)
    assert not client.ws.closed and "response.done" not in client.types()


async def test_oversized_message_goes_over_the_clients_limit(server: RealtimeTestServer) -> None:
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(
            server.base_url.replace("http://", "ws://") + "/realtime?model=gpt-realtime",
            headers={"Authorization": f"Bearer {server.api_key}"}, max_msg_size=64 * 1024,
        )
        assert (await ws.receive()).type is aiohttp.WSMsgType.TEXT  # session.created
        await server.send_oversized(100 * 1024)
        msg = await ws.receive(timeout=5)
        assert msg.type is aiohttp.WSMsgType.ERROR and ws.close_code == 1009
        await ws.close()
