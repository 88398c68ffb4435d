"""Barge-in: the agent stops within a frame and keeps only what was heard; noise does not stop it."""

from __future__ import annotations

import asyncio

from _helpers import Recorder, utterance

from livekitex_agent import Agent
from livekitex_agent.chat import ChatMessage
from livekitex_agent.session import AgentSession
from livekitex_agent.testing import FakeLLM, FakeSTT, FakeTTS, FakeVAD, MemoryIO, virtual_time

LONG = " ".join(f"Sentence number {i} of a long story." for i in range(1, 9))


async def start(stt: FakeSTT, llm: FakeLLM, **opts: object) -> tuple[AgentSession, MemoryIO, Recorder]:
    io = MemoryIO()
    session = AgentSession(vad=FakeVAD(), stt=stt, llm=llm, tts=FakeTTS(), **opts)  # type: ignore[arg-type]
    rec = Recorder(session)
    await session.start(Agent("Tell stories."), io=io)
    return session, io, rec


@virtual_time
async def test_barge_in_truncates_the_assistant_message_to_what_was_heard() -> None:
    loop = asyncio.get_running_loop()
    session, io, rec = await start(
        FakeSTT(["tell me a story", "stop please"]), FakeLLM([LONG, "Okay, stopping."])
    )
    io.push_audio(utterance(1.0))
    await rec.wait_for("agent_state_changed:speaking")
    reply_start = loop.time()
    await asyncio.sleep(3.0)  # let ~3 s of the story play
    barge_at = loop.time()
    io.push_audio(utterance(1.0))
    io.push_silence(8.0)
    await rec.wait_for("conversation_item_added:assistant")

    story_seg = io.audio_output.segments[0]
    assert story_seg.result is not None and story_seg.result.interrupted
    # playout stopped within one 20 ms frame of the moment the speech passed min_interruption_duration
    hold_at = barge_at + 0.05 + 0.5  # VAD start (min speech 50 ms) + 0.5 s of speech
    last_frame_end = story_seg.frames[-1][0] + 0.02
    assert hold_at - 0.03 <= last_frame_end <= hold_at + 0.03
    heard = last_frame_end - reply_start

    story = session.history.messages()[2]
    assert isinstance(story, ChatMessage) and story.role == "assistant" and story.interrupted
    assert LONG.startswith(story.content) and 0 < len(story.content) < len(LONG)
    # worked out by hand: each sentence is 34 characters = 1.7 s of FakeTTS voice (0.05 s a character)
    # and 7 words; ~3.55 s were played: sentences 1 and 2 (0-3.4 s) whole, then 0.15 s of sentence 3,
    # less than the 0.243 s (1.7 s / 7) its first word takes: nothing of it was heard
    assert abs(heard - 3.55) <= 0.03
    assert story.content == "Sentence number 1 of a long story. Sentence number 2 of a long story."

    # then the user's words get their own reply
    await rec.wait_for("conversation_item_added:assistant")
    io.end_input()
    await asyncio.wait_for(session.wait_closed(), 120)
    contents = [m.content for m in session.history.messages()]
    assert contents[-2:] == ["stop please", "Okay, stopping."]
    assert len(io.audio_output.segments) == 2


@virtual_time
async def test_false_interruption_resumes_and_the_message_is_whole() -> None:
    # the cough yields no words: FakeSTT returns '' for the second segment
    session, io, rec = await start(FakeSTT(["tell me a story", ""]), FakeLLM([LONG]))
    io.push_audio(utterance(1.0))
    await rec.wait_for("agent_state_changed:speaking")
    await asyncio.sleep(2.0)
    io.push_audio(utterance(0.8, freq=500))  # a cough long enough to hold the agent
    io.push_silence(40.0)
    io.end_input()
    await asyncio.wait_for(session.wait_closed(), 120)

    (seg,) = io.audio_output.segments
    assert seg.result is not None and not seg.result.interrupted
    total = sum(FakeTTS().duration_for(s) for s in _sentences(LONG))
    assert abs(seg.duration - total) < 1e-6  # every frame played, none twice
    gaps = [b - a for (a, _), (b, _) in zip(seg.frames, seg.frames[1:], strict=False)]
    assert max(gaps) > 0.3  # it did hold while the noise lasted...
    assert max(gaps) < 1.5  # ...and resumed once the noise turned out to have no words
    story = session.history.messages()[-1]
    assert story.content == LONG and not story.interrupted
    assert "user_input_transcribed" not in rec.names()[5:]


@virtual_time
async def test_no_transcript_within_timeout_resumes() -> None:
    # a slow STT: the agent may not stay silent longer than false_interruption_timeout after the noise
    session, io, rec = await start(
        FakeSTT(["tell me a story", ""]), FakeLLM([LONG]), false_interruption_timeout=1.0
    )
    io.push_audio(utterance(1.0))
    await rec.wait_for("agent_state_changed:speaking")
    session.stt.delay = 5.0  # type: ignore[union-attr]
    await asyncio.sleep(1.0)
    io.push_audio(utterance(0.8, freq=500))
    io.push_silence(40.0)
    io.end_input()
    await asyncio.wait_for(session.wait_closed(), 120)
    (seg,) = io.audio_output.segments
    gaps = [b - a for (a, _), (b, _) in zip(seg.frames, seg.frames[1:], strict=False)]
    # held from 0.55 s into the noise until 1.0 s after it ended (+ VAD min silence 0.3 s)
    assert 0.25 + 0.3 + 1.0 - 0.05 <= max(gaps) <= 0.25 + 0.3 + 1.0 + 0.05
    assert not seg.result.interrupted  # type: ignore[union-attr]


@virtual_time
async def test_speech_that_disallows_interruptions_plays_through() -> None:
    session, io, rec = await start(FakeSTT(["hello", "wait"]), FakeLLM(["Sure."]))
    handle = session.say(LONG, allow_interruptions=False)
    await rec.wait_for("agent_state_changed:speaking")
    await asyncio.sleep(1.0)
    io.push_audio(utterance(1.5))
    io.push_silence(1.0)
    await handle
    assert not handle.interrupted
    seg = io.audio_output.segments[0]
    gaps = [b - a for (a, _), (b, _) in zip(seg.frames, seg.frames[1:], strict=False)]
    assert max(gaps) < 0.03  # never paused
    # the user's words are answered after the speech
    await rec.wait_for("conversation_item_added:assistant")
    io.end_input()
    await asyncio.wait_for(session.wait_closed(), 120)
    assert [m.content for m in session.history.messages()][-3:] == [LONG, "hello", "Sure."]


def _sentences(text: str) -> list[str]:
    from livekitex_agent.session.sentences import SentenceStream

    s = SentenceStream()
    return s.push(text + " ") + s.flush()


def _words_heard(text: str, heard: float, total: float) -> int:
    from livekitex_agent.session.timeline import SpeechTimeline

    tl = SpeechTimeline()
    tts = FakeTTS()
    for s in _sentences(text):
        tl.begin_text(s, 0)
        tl.add_audio(tts.duration_for(s))
    assert abs(tl.audio_written - total) < 1e-9
    return len(tl.heard_text(heard, 0).split())


@virtual_time
async def test_typed_input_interrupts_the_current_reply() -> None:
    session, io, rec = await start(FakeSTT(["tell me a story"]), FakeLLM([LONG, "Sure, here is the weather."]))
    io.push_audio(utterance(1.0))
    await rec.wait_for("agent_state_changed:speaking")
    await asyncio.sleep(1.0)
    handle = session.generate_reply(user_input="actually, what's the weather?")
    await handle
    story = session.history.messages()[2]
    assert story.interrupted and len(story.content) < len(LONG)
    assert [m.content for m in session.history.messages()][-2:] == [
        "actually, what's the weather?",
        "Sure, here is the weather.",
    ]
    await session.aclose()
