"""End of turn decided by a turn detector (``turn_detection=``) instead of silence alone."""

from __future__ import annotations

import numpy as np
import pytest
from _helpers import Recorder, speak_parts

from livekitex_agent import Agent
from livekitex_agent.errors import ConfigError
from livekitex_agent.session import AgentSession
from livekitex_agent.session.turn_detection import TurnAudio, transcript_unfinished
from livekitex_agent.testing import (
    FakeLLM,
    FakeSTT,
    FakeTTS,
    FakeTurnDetector,
    FakeVAD,
    MemoryIO,
    virtual_time,
)


async def _talk(
    session: AgentSession, io: MemoryIO, parts: list[tuple[float, float]], tail: float = 4.0
) -> list[float]:
    """Speak ``(seconds of speech, seconds of pause after it)`` parts; returns when each speech ended."""
    await session.start(Agent("Be brief."), io=io)
    return await speak_parts(session, io, parts, tail)


def _session(stt: FakeSTT, detector: FakeTurnDetector | str, llm: FakeLLM | None = None) -> AgentSession:
    return AgentSession(
        vad=FakeVAD(),
        stt=stt,
        llm=llm or FakeLLM(default="Sure."),
        tts=FakeTTS(seconds_per_char=0.01),
        user_away_timeout=None,
        stt_streaming=False,
        turn_detection=detector,
    )


@virtual_time
async def test_turn_ends_right_after_a_short_pause_when_the_detector_says_it_is_over() -> None:
    detector = FakeTurnDetector(0.9)
    session = _session(FakeSTT(["what time is it"]), detector)
    rec = Recorder(session)
    io = MemoryIO()
    (end,) = await _talk(session, io, [(1.0, 0.0)])

    decided = rec.time_of("conversation_item_added:user") - end
    # (MemoryIO hands a frame over at its start: the session hears 20 ms "early")
    assert detector.pause_duration - 0.03 <= decided < 0.3  # vs min_endpointing_delay (0.5 s) with "vad"
    assert [q.transcript for q in detector.questions] == ["what time is it"]
    assert 1.0 <= detector.questions[0].audio_seconds < 1.6  # the turn's audio, not 8 s of input
    reply = io.audio_output.segments[0].start - end
    assert reply < 0.35


@virtual_time
async def test_vad_turn_detection_waits_for_the_endpointing_delay() -> None:
    session = _session(FakeSTT(["what time is it"]), "vad")
    rec = Recorder(session)
    (end,) = await _talk(session, MemoryIO(), [(1.0, 0.0)])
    assert rec.time_of("conversation_item_added:user") - end >= 0.5 - 0.03


@virtual_time
async def test_a_mid_turn_pause_the_detector_holds_does_not_cut_the_user_off() -> None:
    detector = FakeTurnDetector(lambda text: 0.9 if text.endswith("people") else 0.1)
    llm = FakeLLM(default="Booked.")
    session = _session(FakeSTT(["book a table", "for four people"]), detector, llm)
    rec = Recorder(session)
    ends = await _talk(session, MemoryIO(), [(0.8, 1.2), (0.8, 0.0)])

    users = rec.of("conversation_item_added")
    assert [e.item.content for e in users if e.item.role == "user"] == ["book a table for four people"]
    assert len(llm.requests) == 1
    assert rec.time_of("conversation_item_added:user") - ends[1] < 0.3
    assert [q.transcript for q in detector.questions] == ["book a table", "book a table for four people"]


@virtual_time
async def test_a_transcript_that_cannot_end_a_sentence_holds_the_turn_whatever_the_model_says() -> None:
    detector = FakeTurnDetector(1.0)
    session = _session(FakeSTT(["I'd like a table for", "four people"]), detector)
    rec = Recorder(session)
    await _talk(session, MemoryIO(), [(0.8, 1.2), (0.6, 0.0)])

    users = [e.item.content for e in rec.of("conversation_item_added") if e.item.role == "user"]
    assert users == ["I'd like a table for four people"]
    assert [q.transcript for q in detector.questions] == ["I'd like a table for four people"]


@virtual_time
async def test_without_transcript_cues_the_model_alone_decides() -> None:
    detector = FakeTurnDetector(1.0, transcript_cues=False)
    session = _session(FakeSTT(["I'd like a table for", "four people"]), detector)
    rec = Recorder(session)
    await _talk(session, MemoryIO(), [(0.8, 1.2), (0.6, 0.0)])
    users = [e.item.content for e in rec.of("conversation_item_added") if e.item.role == "user"]
    assert users == ["I'd like a table for", "four people"]


@virtual_time
async def test_a_held_turn_still_ends_after_max_pause() -> None:
    detector = FakeTurnDetector(0.0, max_pause=1.5)
    session = _session(FakeSTT(["so I was thinking"]), detector)
    rec = Recorder(session)
    (end,) = await _talk(session, MemoryIO(), [(1.0, 0.0)])
    assert rec.time_of("conversation_item_added:user") - end == pytest.approx(1.5, abs=0.06)


@virtual_time
async def test_a_failing_detector_is_reported_and_the_turn_ends_after_max_pause() -> None:
    detector = FakeTurnDetector(lambda _: RuntimeError("model exploded"), max_pause=1.0)
    session = _session(FakeSTT(["hello there"]), detector)
    rec = Recorder(session)
    (end,) = await _talk(session, MemoryIO(), [(1.0, 0.0)])
    errors = rec.of("error")
    assert [(e.source, str(e.error)) for e in errors] == [("turn_detection", "model exploded")]
    assert rec.time_of("conversation_item_added:user") - end == pytest.approx(1.0, abs=0.06)


@virtual_time
async def test_speech_resuming_while_the_detector_thinks_cancels_its_answer() -> None:
    detector = FakeTurnDetector(0.9, delay=0.4)
    session = _session(FakeSTT(["my number is five five five", "one two three four"]), detector)
    rec = Recorder(session)
    await _talk(session, MemoryIO(), [(1.0, 0.45), (1.0, 0.0)])
    users = [e.item.content for e in rec.of("conversation_item_added") if e.item.role == "user"]
    assert users == ["my number is five five five one two three four"]


def test_turn_detection_rejects_anything_but_vad_or_a_detector() -> None:
    with pytest.raises(ConfigError, match="'smart'"):
        AgentSession(turn_detection="smart")
    with pytest.raises(ConfigError, match="turn_detection"):
        AgentSession(turn_detection=None)


@pytest.mark.parametrize(
    ("text", "language", "unfinished"),
    [
        ("I'd like a table for", "en", True),
        ("my number is", "en-US", True),
        ("book it and", None, True),
        ("the booking should be under", "en", True),
        ("can you turn it over", "en", False),
        ("a table for four people", "en", False),
        ("can you book it for tomorrow?", "en", False),
        ("is it for me.", "en", False),  # the STT punctuated an end
        ("thank you", "en", False),
        ("une table pour", "fr", True),
        ("une table pour", "ja", False),  # no cue list: no opinion
        ("", "en", False),
    ],
)
def test_transcript_cues(text: str, language: str | None, unfinished: bool) -> None:
    assert transcript_unfinished(text, language) is unfinished


def test_turn_audio_keeps_the_turn_from_its_start_and_at_most_its_length() -> None:
    audio = TurnAudio(16000, seconds=1.0)
    audio.push(np.full(8000, 1, dtype=np.int16))  # before the turn
    audio.push(np.full(4000, 2, dtype=np.int16))
    audio.start_turn(4000 / 16000)
    audio.push(np.full(4000, 3, dtype=np.int16))
    turn = audio.turn_audio(16000)
    assert turn.size == 8000
    assert np.allclose(turn * 32768, np.r_[np.full(4000, 2), np.full(4000, 3)])
    audio.push(np.full(20000, 4, dtype=np.int16))  # longer than the buffer: the last second stays
    turn = audio.turn_audio(16000)
    assert turn.size == 16000 and np.allclose(turn * 32768, 4)
    audio.end_turn()
    assert audio.turn_audio(8000).size == 8000  # no open turn: the whole buffer, resampled


@pytest.mark.parametrize("chunks", [[320] * 60, [5000, 20000, 320], [16001], [7, 16000, 3]])
def test_turn_audio_comes_out_in_the_order_it_was_heard_across_the_ring(chunks: list[int]) -> None:
    audio = TurnAudio(16000, seconds=1.0)
    heard = np.arange(sum(chunks), dtype=np.int64) % 30000 - 15000  # a ramp: any reordering shows
    pos = 0
    for n in chunks:
        audio.push(heard[pos : pos + n].astype(np.int16))
        pos += n
    assert np.array_equal(audio.turn_audio(16000) * 32768, heard[-16000:])
    audio.start_turn(0.25)
    audio.push(heard[:800].astype(np.int16))
    assert np.array_equal(audio.turn_audio(16000) * 32768, np.r_[heard[-4000:], heard[:800]])
