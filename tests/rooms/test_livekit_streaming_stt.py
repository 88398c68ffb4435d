"""Interim user transcripts reach the caller over LiveKit (``lk.transcription``, interim then final)."""

from __future__ import annotations

import pytest
from lk_helpers import ReceivedText, TextCollector, TonePublisher, rooms, wait_until

import livekitex_agent.rooms.livekit  # noqa: F401 - registers the room I/O factory
from livekitex_agent import Agent, AgentSession
from livekitex_agent.rooms.livekit import TOPIC_TRANSCRIPTION
from livekitex_agent.testing import FakeLLM, FakeSTT, FakeTTS, FakeVAD
from livekitex_agent.testing.livekit_server import LiveKitServer

pytestmark = pytest.mark.livekit


async def test_the_caller_gets_interim_transcripts_of_their_speech_before_the_final_one(
    livekit_server: LiveKitServer,
) -> None:
    async with rooms(livekit_server, "session-interim", "caller") as (agent_room, caller):
        transcripts = TextCollector(caller, TOPIC_TRANSCRIPTION)
        stt = FakeSTT(["what is the weather"], streaming=True, seconds_per_word=0.2)
        session = AgentSession(
            vad=FakeVAD(), stt=stt, llm=FakeLLM(["It is sunny."]), tts=FakeTTS(seconds_per_char=0.02)
        )
        await session.start(Agent(instructions="Be brief."), room=agent_room, input_sample_rate=16000)
        mic = TonePublisher(caller)
        await mic.start(tone_seconds=1.2, max_seconds=6.0)  # speech, then silence ends the turn

        def said(sender: str) -> list[ReceivedText]:
            return [i for i in transcripts.items if i.sender == sender]

        await wait_until(
            lambda: any(i.text == "It is sunny." for i in said("agent")), 15, "the agent's reply"
        )
        user = said("caller")
        finals = [i for i in user if i.attributes["lk.transcription_final"] == "true"]
        interims = [i for i in user if i.attributes["lk.transcription_final"] == "false"]
        assert [i.text for i in finals] == ["what is the weather"]
        assert interims, [(i.text, i.attributes) for i in user]
        assert user.index(interims[0]) < user.index(finals[0])  # opened before the final
        for interim in interims:  # word-by-word prefixes of the final, in the final's segment
            assert "what is the weather".startswith(interim.text) and interim.text
            assert interim.attributes["lk.segment_id"] == finals[0].attributes["lk.segment_id"]
        assert mic.publication is not None
        assert interims[0].attributes["lk.transcribed_track_id"] == mic.publication.sid
        await mic.stop()
        await session.aclose()
        await transcripts.aclose()
