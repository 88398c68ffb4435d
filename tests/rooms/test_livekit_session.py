"""A real AgentSession (with the testing fakes) in a real LiveKit room: ``session.start(agent, room=room)``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import pytest
from livekit import rtc
from lk_helpers import AudioRecorder, ReceivedText, TextCollector, TonePublisher, rooms, wait_until

import livekitex_agent.rooms.livekit  # noqa: F401 - registers the room I/O factory
from livekitex_agent import Agent, AgentSession
from livekitex_agent.events import CloseEvent, CloseReason
from livekitex_agent.rooms.livekit import ATTR_AGENT_STATE, TOPIC_CHAT, TOPIC_TRANSCRIPTION
from livekitex_agent.testing import FakeLLM, FakeSTT, FakeTTS, FakeVAD
from livekitex_agent.testing.livekit_server import LiveKitServer

pytestmark = pytest.mark.livekit


def make_session(*, transcripts: Sequence[str] = (), replies: Sequence[str]) -> tuple[AgentSession, FakeLLM]:
    llm = FakeLLM(replies)
    session = AgentSession(
        vad=FakeVAD(), stt=FakeSTT(transcripts), llm=llm, tts=FakeTTS(seconds_per_char=0.02)
    )
    return session, llm


def record_agent_states(caller: rtc.Room) -> list[str]:
    states: list[str] = []

    def on_changed(changed: dict[str, str], participant: Any) -> None:
        if participant.identity == "agent" and ATTR_AGENT_STATE in changed:
            states.append(changed[ATTR_AGENT_STATE])

    caller.on("participant_attributes_changed", on_changed)
    return states


async def test_a_chat_message_is_answered_in_voice_and_text(livekit_server: LiveKitServer) -> None:
    async with rooms(livekit_server, "session-chat", "caller") as (agent_room, caller):
        transcripts = TextCollector(caller, TOPIC_TRANSCRIPTION)
        recorder = AudioRecorder(caller, "agent")
        recorder.start()
        states = record_agent_states(caller)
        session, llm = make_session(replies=["Sure, it is sunny today."])
        await session.start(Agent(instructions="Be brief."), room=agent_room)
        await wait_until(lambda: states[-1:] == ["listening"], 10, "the agent to be listening")
        await wait_until(lambda: bool(recorder.track_sids), 10, "the caller to subscribe to the agent")

        await caller.local_participant.send_text("What's the weather?", topic=TOPIC_CHAT)

        def agent_said() -> list[str]:
            return [i.text for i in transcripts.items if i.sender == "agent"]

        await wait_until(
            lambda: agent_said() == ["Sure, it is sunny today."], 15, "the agent's transcription"
        )
        assert llm.requests[-1].last_user_message == "What's the weather?"
        await wait_until(lambda: states[-1:] == ["listening"], 10, "the agent to listen again")
        assert "speaking" in states
        heard = sum(f.duration for f in recorder.loud())
        assert heard >= 0.3, heard  # FakeTTS: 0.02 s per character
        await session.aclose()
        await recorder.stop()
        await transcripts.aclose()


async def test_a_spoken_turn_is_transcribed_for_the_caller_and_answered(
    livekit_server: LiveKitServer,
) -> None:
    async with rooms(livekit_server, "session-voice", "caller") as (agent_room, caller):
        transcripts = TextCollector(caller, TOPIC_TRANSCRIPTION)
        session, llm = make_session(transcripts=["what is the weather"], replies=["It is sunny."])
        await session.start(Agent(instructions="Be brief."), room=agent_room, input_sample_rate=16000)
        mic = TonePublisher(caller)
        await mic.start(tone_seconds=0.8, max_seconds=6.0)  # speech, then silence ends the turn

        def said(sender: str) -> list[ReceivedText]:
            return [i for i in transcripts.items if i.sender == sender]

        await wait_until(
            lambda: any(i.text == "It is sunny." for i in said("agent")), 15, "the agent's reply"
        )
        user = said("caller")
        assert mic.publication is not None
        assert user[-1].text == "what is the weather"
        assert user[-1].attributes["lk.transcription_final"] == "true"
        assert user[-1].attributes["lk.transcribed_track_id"] == mic.publication.sid
        assert llm.requests[-1].last_user_message == "what is the weather"
        await mic.stop()
        await session.aclose()
        await transcripts.aclose()


async def test_the_session_closes_when_the_caller_leaves_for_longer_than_the_grace(
    livekit_server: LiveKitServer,
) -> None:
    async with rooms(livekit_server, "session-leave", "caller") as (agent_room, caller):
        session, _ = make_session(replies=[])
        closes: list[CloseEvent] = []
        session.on("close", closes.append)
        await session.start(Agent(instructions="Be brief."), room=agent_room, disconnect_grace=0.5)
        await wait_until(lambda: "caller" in agent_room.remote_participants, 10, "the caller to be seen")
        assert agent_room.local_participant.track_publications  # the agent's voice is published

        left_at = time.monotonic()
        await caller.disconnect()
        await asyncio.wait_for(session.wait_closed(), 10)
        assert time.monotonic() - left_at >= 0.5  # not before the grace period
        assert [c.reason for c in closes] == [CloseReason.PARTICIPANT_DISCONNECTED]
        assert not agent_room.local_participant.track_publications  # unpublished on close
