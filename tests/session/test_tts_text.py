"""The TTS hears the spoken form; the history and the transcript keep what the LLM wrote."""

from __future__ import annotations

import asyncio

from _helpers import Recorder, speak_parts

from livekitex_agent import Agent
from livekitex_agent.session import AgentSession
from livekitex_agent.testing import (
    FakeLLM,
    FakeLLMResponse,
    FakeSTT,
    FakeTTS,
    FakeTurnDetector,
    FakeVAD,
    LLMRequest,
    MemoryIO,
    virtual_time,
)
from livekitex_agent.text import Pronunciations

REPLY = "Your **total** is $1,234.50, due 2026-12-02 at 3:45 pm. 🎉 Call +1 415 555 0100 or jane.doe@example.com!"


async def _one_turn(session: AgentSession, agent: Agent, io: MemoryIO) -> None:
    await session.start(agent, io=io)
    await session.run(user_input="what do I owe?")
    await session.aclose()


@virtual_time
async def test_tts_gets_spoken_forms_while_history_and_transcript_keep_the_llm_text() -> None:
    io, tts = MemoryIO(), FakeTTS()
    session = AgentSession(
        vad=FakeVAD(), stt=FakeSTT([]), llm=FakeLLM([REPLY]), tts=tts,
        tts_text_transforms=["markdown", "emoji", "spoken_forms"],
    )
    await _one_turn(session, Agent("You are a billing bot."), io)

    assert tts.requests == [
        "Your total is one thousand two hundred thirty-four dollars and fifty cents, "
        "due December second, twenty twenty-six at three forty-five P M.",
        "Call plus one, four one five, five five five, zero one zero zero or jane dot doe at example dot com!",
    ]
    assert session.history.messages()[-1].content == REPLY
    assert "".join(io.text_output.segments) == REPLY  # what goes to lk.transcription
    # the audio is as long as the spoken form, not the written one
    (segment,) = io.audio_output.segments
    assert abs(segment.duration - sum(tts.duration_for(t) for t in tts.requests)) < 1e-6


WRITTEN = "# Total: **$5** today.\n- That is *all*! 🎉"


@virtual_time
async def test_by_default_markdown_and_emoji_go_and_an_emoji_alone_is_not_synthesized() -> None:
    io, tts = MemoryIO(), FakeTTS()
    session = AgentSession(vad=FakeVAD(), stt=FakeSTT([]), llm=FakeLLM([WRITTEN]), tts=tts)
    await _one_turn(session, Agent("hi"), io)
    assert tts.requests == ["Total: $5 today.", "That is all!"]  # "🎉" alone was not sent to the TTS
    assert session.history.messages()[-1].content == WRITTEN
    assert "".join(io.text_output.segments) == " ".join(WRITTEN.split())  # sentences joined by a space


@virtual_time
async def test_an_agents_transforms_replace_the_sessions_and_a_failing_one_is_reported() -> None:
    io, tts = MemoryIO(), FakeTTS()

    def broken(text: str) -> str:
        raise ValueError(f"cannot read {text!r}")

    session = AgentSession(vad=FakeVAD(), stt=FakeSTT([]), llm=FakeLLM(["Restart **nginx** now.", "Ok then."]), tts=tts)
    rec = Recorder(session)
    agent = Agent("hi", tts_text_transforms=[Pronunciations({"nginx": "engine x"})])
    await session.start(agent, io=io)
    await session.run(user_input="what now?")
    assert tts.requests == ["Restart **engine x** now."]  # the agent's list replaces the default

    agent.tts_text_transforms = (broken,)
    await session.run(user_input="and?")
    assert tts.requests[-1] == "Ok then."  # spoken as written: a bad transform never silences the agent
    (error,) = rec.of("error")
    assert error.source == "tts_text_transforms" and error.recoverable
    assert not session.closed
    await session.aclose()


@virtual_time
async def test_a_preemptive_reply_prepares_the_spoken_form_which_the_reply_then_plays() -> None:
    asked: list[float] = []

    def reply(request: LLMRequest) -> FakeLLMResponse:
        asked.append(asyncio.get_running_loop().time())
        return FakeLLMResponse("It costs **$5** today! See you then.")

    io, tts = MemoryIO(), FakeTTS(seconds_per_char=0.01)
    session = AgentSession(
        vad=FakeVAD(), stt=FakeSTT(["how much is it"], streaming=True, seconds_per_word=0.15),
        llm=FakeLLM(default=reply), tts=tts, user_away_timeout=None,
        turn_detection=FakeTurnDetector(0.9), preemptive_generation=True,
        tts_text_transforms=["markdown", "spoken_forms"],
    )
    rec = Recorder(session)
    await session.start(Agent("hi"), io=io)
    await speak_parts(session, io, [(1.0, 0.0)])
    (asked_at,) = asked
    assert asked_at < rec.time_of("conversation_item_added:user")  # prepared before the turn ended
    # each sentence synthesized once, in its spoken form: the prepared first one was the one played
    assert tts.requests == ["It costs five dollars today!", "See you then."]
    assert session.history.messages()[-1].content == "It costs **$5** today! See you then."
