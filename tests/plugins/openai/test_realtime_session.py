"""The OpenAI realtime client against RealtimeTestServer: turns, tools, barge-in, history sync."""

from __future__ import annotations

import asyncio
import base64
import json

from livekitex_agent.chat import ChatContext, ChatMessage, FunctionCall, FunctionCallOutput
from livekitex_agent.providers import realtime as rt
from livekitex_agent.testing.realtime_server import RealtimeTestServer, ScriptedFunctionCall
from livekitex_agent.tools import function_tool

from ._realtime_helpers import EventReader, collect, frames, make_model, push, utterance


@function_tool
async def get_weather(city: str) -> str:
    """Look up the current weather for a city."""
    return f"It is sunny in {city}."


async def test_spoken_turn_end_to_end() -> None:
    async with RealtimeTestServer(audio_ms_per_char=40) as server:
        server.queue_transcript("What's the weather in Paris?")
        server.queue_response("It is sunny in Paris.")
        session = make_model(server).session()
        await session.connect()
        reader = EventReader(session)
        push(session, utterance(speech_ms=600, silence_ms=800))
        created = await reader.wait_for(rt.GenerationCreated)
        got = await collect(created.generation)
        usage = await reader.wait_for(rt.UsageCollected)
        await session.aclose()

        turn = [t for t in reader.types() if t not in ("connection_state_changed", "rate_limits_updated")]
        assert turn == ["input_speech_started", "input_speech_stopped", "input_audio_committed",
                        "input_transcription_delta", "input_transcription_completed", "generation_created",
                        "usage_collected"]
        committed = next(e for e in reader.seen if isinstance(e, rt.InputAudioCommitted))
        transcript = next(e for e in reader.seen if isinstance(e, rt.InputTranscriptionCompleted))
        assert transcript.item_id == committed.item_id and transcript.transcript == "What's the weather in Paris?"
        assert not created.generation.user_initiated  # the server started it (server VAD)
        assert got.text == "It is sunny in Paris."
        assert all(f.sample_rate == 24000 and f.num_channels == 1 for f in got.audio[0])
        assert got.audio_ms() == len("It is sunny in Paris.") * 40
        assert got.result is not None and got.result.status == "completed"
        assert got.result.output_item_ids == got.item_ids
        assert usage.usage.kind == "realtime" and usage.usage.output_tokens > 0

        conn = server.connections[0]
        first = conn.client_events[0]
        assert first["type"] == "session.update" and first["session"]["type"] == "realtime"
        assert first["session"]["audio"]["input"]["transcription"] == {"model": "gpt-4o-mini-transcribe"}
        assert first["session"]["audio"]["output"]["voice"] == "marin"
        appends = [e for e in conn.client_events if e["type"] == "input_audio_buffer.append"]
        assert appends and all(len(base64.b64decode(e["audio"])) == 4800 for e in appends)  # 100 ms at 24 kHz


async def test_function_call_round_trip() -> None:
    async with RealtimeTestServer() as server:
        server.queue_response(ScriptedFunctionCall("get_weather", {"city": "Paris"}, call_id="call_42"))
        server.queue_response("It is sunny in Paris.")
        session = make_model(server, turn_detection=None).session()
        await session.connect()
        await session.update_tools([get_weather])
        gen = await session.generate_reply()
        assert gen.user_initiated
        first = await collect(gen)
        assert first.texts == [] and len(first.calls) == 1
        call = first.calls[0]
        assert (call.name, call.call_id, json.loads(call.arguments)) == ("get_weather", "call_42", {"city": "Paris"})
        output = FunctionCallOutput(call_id=call.call_id, name=call.name, output="It is sunny in Paris.")
        follow = await session.send_tool_outputs([output])
        assert follow is not None and follow.user_initiated
        second = await collect(follow)
        await session.aclose()

        assert second.text == "It is sunny in Paris." and second.result is not None
        conn = server.connections[0]
        types = conn.client_types()
        i = types.index("conversation.item.create")
        assert types[i + 1] == "response.create"
        created = conn.client_events[i]["item"]
        assert created == {"id": output.id, "type": "function_call_output", "call_id": "call_42",
                           "output": "It is sunny in Paris."}
        tools = [e for e in conn.client_events if e["type"] == "session.update"][-1]["session"]["tools"]
        assert tools[0]["name"] == "get_weather" and tools[0]["type"] == "function" and "function" not in tools[0]
        assert [i["type"] for i in conn.items] == ["function_call", "function_call_output", "message"]


async def test_barge_in_cancels_and_truncate_sends_min_of_played_and_received() -> None:
    text = " ".join(f"word{i}" for i in range(20))
    async with RealtimeTestServer(audio_ms_per_char=20) as server:
        server.delta_delay = 0.05
        server.queue_response(text)
        session = make_model(server).session()
        await session.connect()
        reader = EventReader(session)
        push(session, utterance(speech_ms=400, silence_ms=700))
        gen = (await reader.wait_for(rt.GenerationCreated)).generation
        msg = await anext(gen.messages)
        await anext(msg.audio_stream)  # the reply is playing: the user talks over it
        push(session, frames(300, loud=True))
        await reader.wait_for(rt.InputSpeechStarted)
        got = await collect(gen)
        assert got.result is not None
        assert (got.result.status, got.result.reason) == ("cancelled", "turn_detected")
        received_ms = msg.audio_bytes // 48
        assert 0 < received_ms < len(text) * 20  # cut short

        # played more than received (a clock ahead of the audio): clamped to exactly what was received
        await session.truncate(msg.item_id, received_ms + 5000)
        first = await server.wait_for_client_event("conversation.item.truncate")
        assert first["audio_end_ms"] == received_ms and first["item_id"] == msg.item_id
        await server.wait_for_server_event("conversation.item.truncated")
        # played less than received: the played position is sent as it is
        await session.truncate(msg.item_id, received_ms - 7)
        second = await server.wait_for_client_event("conversation.item.truncate", count=2)
        assert second["audio_end_ms"] == received_ms - 7
        await server.wait_for_server_event("conversation.item.truncated", count=2)
        # the item is now that short: a later truncation never goes past it
        await session.truncate(msg.item_id, received_ms)
        third = await server.wait_for_client_event("conversation.item.truncate", count=3)
        assert third["audio_end_ms"] == received_ms - 7
        await server.wait_for_server_event("conversation.item.truncated", count=3)
        await session.aclose()
        assert "error" not in server.connections[0].server_types()


async def test_interrupt_cancels_the_reply_and_is_a_no_op_when_idle() -> None:
    async with RealtimeTestServer() as server:
        server.delta_delay = 0.05
        server.queue_response(" ".join(["blah"] * 30))
        session = make_model(server, turn_detection=None).session()
        await session.connect()
        await session.interrupt()  # nothing in progress: nothing sent
        gen = await session.generate_reply(instructions="Talk a lot.")
        msg = await anext(gen.messages)
        await anext(msg.audio_stream)
        await session.interrupt()
        got = await collect(gen)
        await session.aclose()
        assert got.result is not None and (got.result.status, got.result.reason) == ("cancelled", "client_cancelled")
        conn = server.connections[0]
        assert conn.client_types().count("response.cancel") == 1
        create = next(e for e in conn.client_events if e["type"] == "response.create")
        assert create["response"]["instructions"] == "Talk a lot."


async def test_manual_turn_commit_and_benign_errors_are_not_events() -> None:
    async with RealtimeTestServer() as server:
        server.queue_transcript("hello there")
        session = make_model(server, turn_detection=None).session()
        await session.connect()
        reader = EventReader(session)
        await session.commit_audio()  # empty buffer: input_audio_buffer_commit_empty, benign
        await server.wait_for_server_event("error")
        push(session, frames(250, loud=True))
        await session.commit_audio()
        committed = await reader.wait_for(rt.InputAudioCommitted)
        done = await reader.wait_for(rt.InputTranscriptionCompleted)
        assert done.item_id == committed.item_id
        gen = await session.generate_reply()
        got = await collect(gen)
        await session.aclose()
        assert got.text == "OK."
        assert not any(isinstance(e, rt.RealtimeErrorEvent) for e in reader.seen)
        conn = server.connections[0]
        assert conn.session["audio"]["input"]["turn_detection"] is None
        assert conn.items[0]["content"][0]["transcript"] == "hello there"


async def test_generate_reply_while_active_raises_the_server_error() -> None:
    async with RealtimeTestServer() as server:
        server.delta_delay = 0.05
        server.queue_response(" ".join(["long"] * 30))
        session = make_model(server, turn_detection=None).session()
        await session.connect()
        gen = await session.generate_reply()
        try:
            await session.generate_reply()
        except Exception as e:  # noqa: BLE001 - checked below
            err = e
        else:
            raise AssertionError("a second reply while one is active must fail")
        assert getattr(err, "code", None) == "conversation_already_has_active_response"
        await session.interrupt()
        await collect(gen)
        await session.aclose()


async def test_update_chat_ctx_creates_missing_and_deletes_removed_items() -> None:
    async with RealtimeTestServer() as server:
        session = make_model(server, turn_detection=None).session()
        await session.connect()
        ctx = ChatContext()
        ctx.set_instructions("Be brief.")
        ctx.append(ChatMessage(role="user", content="My name is Ada.", id="u1"))
        ctx.append(ChatMessage(role="assistant", content="Hi Ada!", id="a1"))
        ctx.append(FunctionCall(name="get_weather", arguments='{"city":"Paris"}', call_id="c1", id="fc1"))
        ctx.append(FunctionCallOutput(call_id="c1", name="get_weather", output="sunny", id="fo1"))
        await session.update_chat_ctx(ctx)
        await server.wait_for_server_event("conversation.item.done", count=4)
        ctx.remove("a1")
        ctx.items.insert(0, ChatMessage(role="system", content="Earlier: user likes tea.", id="s0"))
        await session.update_chat_ctx(ctx)
        await server.wait_for_server_event("conversation.item.deleted")
        await server.wait_for_server_event("conversation.item.done", count=5)
        await session.aclose()
        conn = server.connections[0]
        assert [i["id"] for i in conn.items] == ["s0", "u1", "fc1", "fo1"]
        assert conn.items[0]["content"] == [{"type": "input_text", "text": "Earlier: user likes tea."}]
        creates = [e for e in conn.client_events if e["type"] == "conversation.item.create"]
        assert creates[-1]["previous_item_id"] == "root"
        assert "error" not in conn.server_types()


async def test_instructions_are_sent_and_kept() -> None:
    async with RealtimeTestServer() as server:
        session = make_model(server).session()
        await session.update_instructions("You are a pirate.")  # before connect: sent with the first update
        await session.connect()
        await server.wait_for_server_event("session.updated")
        assert server.connections[0].session["instructions"] == "You are a pirate."
        await session.update_instructions("You are a robot.")
        await server.wait_for_server_event("session.updated", count=2)
        assert server.connections[0].session["instructions"] == "You are a robot."
        await session.aclose()
        await asyncio.sleep(0)
        assert session.state is rt.ConnectionState.CLOSED


async def test_clear_audio_drops_uncommitted_audio() -> None:
    async with RealtimeTestServer() as server:
        session = make_model(server, turn_detection=None).session()
        await session.connect()
        push(session, frames(250, loud=True))
        await session.clear_audio()
        await session.commit_audio()
        error = await server.wait_for_server_event("error")
        assert error["error"]["code"] == "input_audio_buffer_commit_empty"
        assert server.connections[0].client_types()[-2:] == ["input_audio_buffer.clear", "input_audio_buffer.commit"]
        await session.aclose()


async def test_slow_server_and_late_transcripts() -> None:
    async with RealtimeTestServer(transcription_after_response=True) as server:
        server.event_delay = 0.002
        server.queue_transcript("late words")
        server.queue_response("Quick answer.")
        session = make_model(server).session()
        await session.connect()
        reader = EventReader(session)
        push(session, utterance())
        got = await collect((await reader.wait_for(rt.GenerationCreated)).generation)
        done = await reader.wait_for(rt.InputTranscriptionCompleted)
        await session.aclose()
        assert got.text == "Quick answer." and done.transcript == "late words"
        types = server.connections[0].server_types()
        assert types.index("conversation.item.input_audio_transcription.completed") > types.index("response.done")


async def test_interrupt_before_the_response_exists_cancels_it_once_created() -> None:
    async with RealtimeTestServer() as server:
        server.queue_response(" ".join(["late"] * 30))
        session = make_model(server, turn_detection=None).session()
        await session.connect()
        server.event_delay = 0.3  # response.created comes late
        reply = asyncio.ensure_future(session.generate_reply())
        await server.wait_for_client_event("response.create")
        await session.interrupt()
        server.event_delay = 0.0
        got = await collect(await reply)
        await session.aclose()
        assert got.result is not None and (got.result.status, got.result.reason) == ("cancelled", "client_cancelled")
        cancel = next(e for e in server.connections[0].client_events if e["type"] == "response.cancel")
        assert cancel["response_id"] == (await reply).response_id
