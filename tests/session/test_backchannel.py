"""Backchannels ("mm-hm", "yeah") do not interrupt the agent; "wait", "no, stop" and longer speech do."""

from __future__ import annotations

import asyncio

import pytest
from _helpers import Recorder, utterance

from livekitex_agent import Agent
from livekitex_agent.errors import ConfigError
from livekitex_agent.session import AgentSession
from livekitex_agent.session.backchannel import backchannel_words, interrupts
from livekitex_agent.session.sentences import SentenceStream
from livekitex_agent.testing import FakeLLM, FakeSTT, FakeTTS, FakeVAD, MemoryIO, virtual_time

STORY = " ".join(f"Sentence number {i} of a long story." for i in range(1, 7))


async def _story_with(
    words: str, seconds: float, **opts: object
) -> tuple[AgentSession, MemoryIO, Recorder, FakeLLM]:
    """The agent tells a story; 1.5 s into it the user says ``words`` (``seconds`` long)."""
    io = MemoryIO()
    llm = FakeLLM([STORY], default="Yes?")
    session = AgentSession(
        vad=FakeVAD(),
        stt=FakeSTT(["tell me a story", words]),
        llm=llm,
        tts=FakeTTS(),
        **opts,  # type: ignore[arg-type]
    )
    rec = Recorder(session)
    await session.start(Agent("Tell stories."), io=io)
    io.push_audio(utterance(1.0))
    await rec.wait_for("agent_state_changed:speaking")
    await asyncio.sleep(1.5)
    io.push_audio(utterance(seconds, freq=450))
    io.push_silence(30.0)
    io.end_input()
    await asyncio.wait_for(session.wait_closed(), 120)
    return session, io, rec, llm


def _users(session: AgentSession) -> list[str]:
    return [m.content for m in session.history.messages() if m.role == "user"]


@pytest.mark.parametrize(
    ("words", "seconds"),
    [
        ("mm-hm", 0.3),  # too short to hold the agent: only the turn could stop it
        ("yeah okay", 0.8),  # long enough to pause the agent, which then resumes
        ("Okay.", 0.3),
    ],
)
@virtual_time
async def test_a_backchannel_does_not_stop_the_agent_nor_become_a_turn(words: str, seconds: float) -> None:
    session, io, _, llm = await _story_with(words, seconds)
    (seg,) = io.audio_output.segments
    assert seg.result is not None and not seg.result.interrupted
    sentences = SentenceStream()
    total = sum(FakeTTS().duration_for(t) for t in sentences.push(STORY + " ") + sentences.flush())
    assert seg.duration == pytest.approx(total)  # every frame of the story played, none twice
    assert _users(session) == ["tell me a story"]
    assert len(llm.requests) == 1
    story = session.history.messages()[-1]
    assert story.content == STORY and not story.interrupted


@pytest.mark.parametrize(
    ("words", "seconds"),
    [
        ("wait", 0.3),
        ("no, stop", 0.8),
        ("yeah yeah okay", 0.8),  # min_interruption_words (3): longer speech interrupts
        ("okay but what about the dragon", 1.2),
    ],
)
@virtual_time
async def test_a_real_interruption_stops_the_agent_and_gets_an_answer(words: str, seconds: float) -> None:
    session, io, _, llm = await _story_with(words, seconds)
    story_seg = io.audio_output.segments[0]
    assert story_seg.result is not None and story_seg.result.interrupted
    assert _users(session) == ["tell me a story", words]
    assert len(llm.requests) == 2
    story = next(m for m in session.history.messages() if m.role == "assistant")
    assert story.interrupted and len(story.content) < len(STORY)


@virtual_time
async def test_custom_backchannels_and_word_count() -> None:
    session, io, _, _ = await _story_with("wait", 0.3, backchannel_words=("wait",))
    assert not io.audio_output.segments[0].result.interrupted  # type: ignore[union-attr]
    session, io, _, _ = await _story_with("yeah", 0.3, min_interruption_words=1)
    assert io.audio_output.segments[0].result.interrupted  # type: ignore[union-attr]


def test_interrupts_by_language_and_word_count() -> None:
    en = backchannel_words(None)
    assert not interrupts("Mm-hmm.", words=en, min_words=3)
    assert not interrupts("uh huh", words=en, min_words=3)
    assert interrupts("uh huh, right", words=en, min_words=3)  # three words: longer speech
    assert interrupts("no, stop", words=en, min_words=3)
    assert interrupts("yeah yeah yeah", words=en, min_words=3)
    assert not interrupts("", words=en, min_words=3)
    fr = backchannel_words("fr-FR")
    assert not interrupts("ouais d'accord", words=fr, min_words=3)
    assert interrupts("attends", words=fr, min_words=3)
    assert backchannel_words("xx") == en  # unknown language: English


@pytest.mark.parametrize(
    ("option", "value"),
    [("min_interruption_words", 0), ("min_interruption_words", "2"), ("backchannel_words", "yeah")],
)
def test_bad_interruption_options_are_named(option: str, value: object) -> None:
    with pytest.raises(ConfigError, match=f"{option}.*{value!r}"):
        AgentSession(**{option: value})  # type: ignore[arg-type]
