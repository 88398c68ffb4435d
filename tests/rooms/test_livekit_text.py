"""LiveKitRoomIO text against a real livekit-server: transcription streams out, chat messages in."""

from __future__ import annotations

import asyncio
import logging

import pytest
from lk_helpers import StubSession, TextCollector, TonePublisher, connect, rooms, wait_until

from livekitex_agent.events import UserInputTranscribedEvent
from livekitex_agent.rooms.livekit import TOPIC_CHAT, TOPIC_TRANSCRIPTION, ChatLimits, LiveKitRoomIO
from livekitex_agent.testing.livekit_server import LiveKitServer

pytestmark = pytest.mark.livekit


async def test_the_agents_words_go_out_as_one_transcription_stream_per_segment(
    livekit_server: LiveKitServer,
) -> None:
    async with rooms(livekit_server, "agent-text", "caller") as (agent, caller):
        received = TextCollector(caller, TOPIC_TRANSCRIPTION)
        io = LiveKitRoomIO(agent)
        await io.start(StubSession())
        out = io.text_output
        assert out is not None
        await out.capture_text("Hello ")
        await out.capture_text("there.")
        out.flush()
        await out.capture_text("Second one.")
        out.flush()
        await wait_until(lambda: len(received.items) == 2, 10, "two transcription streams")

        first, second = received.items
        assert (first.sender, first.text) == ("agent", "Hello there.")
        assert second.text == "Second one."
        for item in received.items:
            assert item.attributes["lk.transcribed_track_id"] == io.agent_track_sid
            assert item.attributes["lk.transcription_final"] == "true"  # closed as final
            assert item.attributes["lk.segment_id"].startswith("SG_")
        assert first.attributes["lk.segment_id"] != second.attributes["lk.segment_id"]
        await received.aclose()
        await io.aclose()


async def test_user_transcripts_are_sent_on_behalf_of_the_user_with_their_track(
    livekit_server: LiveKitServer,
) -> None:
    async with rooms(livekit_server, "user-text", "caller") as (agent, caller):
        received = TextCollector(caller, TOPIC_TRANSCRIPTION)
        mic = TonePublisher(caller)
        await mic.start(max_seconds=5.0)
        session = StubSession()
        io = LiveKitRoomIO(agent)
        await io.start(session)
        await wait_until(lambda: io.user_track_sid is not None, 10, "the caller's microphone")
        assert io.linked_participant == "caller"

        session.emit("user_input_transcribed", UserInputTranscribedEvent("what is", is_final=False))
        session.emit("user_input_transcribed", UserInputTranscribedEvent("what is the time", is_final=True))
        session.emit("user_input_transcribed", UserInputTranscribedEvent("thanks", is_final=True))
        await wait_until(lambda: sum(i.text == "thanks" for i in received.items) == 1, 10, "the transcripts")

        assert mic.publication is not None
        assert all(i.sender == "caller" for i in received.items)
        assert all(i.attributes["lk.transcribed_track_id"] == mic.publication.sid for i in received.items)
        *first_utterance, last = received.items
        assert [(i.text, i.attributes["lk.transcription_final"]) for i in first_utterance] in (
            [("what is", "false"), ("what is the time", "true")],
            [("what is the time", "true")],  # a waiting interim may be superseded by the final
        )
        assert len({i.attributes["lk.segment_id"] for i in first_utterance}) == 1
        assert last.attributes["lk.transcription_final"] == "true"
        assert last.attributes["lk.segment_id"] != first_utterance[0].attributes["lk.segment_id"]
        await mic.stop()
        await received.aclose()
        await io.aclose()


async def test_chat_messages_of_the_linked_participant_become_replies(
    livekit_server: LiveKitServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with rooms(livekit_server, "chat", "alice") as (agent, alice):
        session = StubSession()
        io = LiveKitRoomIO(agent)
        await io.start(session)
        await wait_until(lambda: io.linked_participant is not None, 10, "a linked participant")
        assert io.linked_participant == "alice"
        bob = await connect(livekit_server, agent.name, "bob")
        try:
            await wait_until(lambda: "bob" in agent.remote_participants, 10, "bob to be seen")
            with caplog.at_level(logging.DEBUG, logger="livekitex_agent.rooms"):
                await bob.local_participant.send_text("I am not the user", topic=TOPIC_CHAT)
                await alice.local_participant.send_text("  What's the weather?  ", topic=TOPIC_CHAT)
                await alice.local_participant.send_text("   ", topic=TOPIC_CHAT)  # nothing to answer
                await alice.local_participant.send_text("And tomorrow?", topic=TOPIC_CHAT)
                await wait_until(lambda: "And tomorrow?" in "\n".join(session.replies), 10, "the replies")
                await wait_until(lambda: "chat message from bob" in caplog.text, 10, "bob's message, refused")
            assert "\n".join(session.replies) == "What's the weather?\nAnd tomorrow?"
            assert io.linked_participant == "alice"  # someone joining later changes nothing
        finally:
            await bob.disconnect()
        await io.aclose()


class SpeakingSession(StubSession):
    """Each reply takes 0.3 s to say (the chat input waits for it, as for a real speech handle)."""

    def generate_reply(self, *, user_input: str | None = None, instructions: str | None = None) -> object:
        self.replies.append(user_input)
        return asyncio.sleep(0.3)


async def test_a_chat_burst_keeps_its_order_and_is_answered_in_few_turns(livekit_server: LiveKitServer) -> None:
    async with rooms(livekit_server, "chat-burst", "alice") as (agent, alice):
        session = SpeakingSession()
        io = LiveKitRoomIO(agent, chat_limits=ChatLimits(burst=100, max_per_second=100, max_pending=100))
        await io.start(session)
        await wait_until(lambda: io.linked_participant == "alice", 10, "alice linked")
        for i in range(60):
            await alice.local_participant.send_text(f"m{i}", topic=TOPIC_CHAT)
        await wait_until(lambda: "m59" in "\n".join(session.replies), 20, "the last message answered")
        answered = [line for reply in session.replies for line in reply.split("\n")]  # type: ignore[union-attr]
        assert answered == [f"m{i}" for i in range(60)]  # every message once, in the order sent
        assert len(session.replies) < 15  # the rest coalesced while the agent was speaking
        await io.aclose()


async def test_chat_beyond_the_limits_is_dropped_unread(
    livekit_server: LiveKitServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with rooms(livekit_server, "chat-limits", "alice") as (agent, alice):
        session = StubSession()
        io = LiveKitRoomIO(agent, chat_limits=ChatLimits(max_chars=1000, burst=5, max_per_second=1.0))
        await io.start(session)
        await wait_until(lambda: io.linked_participant == "alice", 10, "alice linked")
        with caplog.at_level(logging.INFO, logger="livekitex_agent.rooms"):
            await alice.local_participant.send_text("x" * 200_000, topic=TOPIC_CHAT)  # streamed in chunks
            # refused as announced (the stream header says its size), or where reading reached the limit
            await wait_until(lambda: "ignoring a chat message" in caplog.text, 10, "the long one refused")
            loop = asyncio.get_running_loop()
            started = loop.time()
            for i in range(30):
                await alice.local_participant.send_text(f"n{i}", topic=TOPIC_CHAT)
            elapsed = loop.time() - started
            await wait_until(lambda: "dropping them" in caplog.text, 10, "the flood noticed")
            await wait_until(lambda: "n3" in "\n".join(session.replies), 10, "the first messages answered")
        answered = [line for reply in session.replies for line in reply.split("\n")]  # type: ignore[union-attr]
        assert "x" * 1000 not in "".join(answered)
        # the burst of 5 (the long message took one), plus what the bucket refilled while sending
        assert answered == [f"n{i}" for i in range(len(answered))]
        assert 4 <= len(answered) <= 4 + int(elapsed * 1.0) + 1
        await io.aclose()
