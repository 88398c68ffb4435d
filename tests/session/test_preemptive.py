"""Preemptive generation: the reply starts while the end of the turn is being decided."""

from __future__ import annotations

import asyncio

from _helpers import Recorder, speak_parts

from livekitex_agent import Agent
from livekitex_agent.chat import ChatContext, ChatMessage
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

TTFT = 0.3


class _Timed:
    """LLM replies by the last user message, each with a 300 ms time to first token; keeps when asked."""

    def __init__(self, replies: dict[str, str], chunk_delay: float = 0.0) -> None:
        self.replies = replies
        self.chunk_delay = chunk_delay
        self.asked: list[tuple[float, str]] = []

    def __call__(self, request: LLMRequest) -> FakeLLMResponse:
        text = request.last_user_message or ""
        self.asked.append((asyncio.get_running_loop().time(), text))
        return FakeLLMResponse(self.replies.get(text, "Okay."), ttft=TTFT, chunk_delay=self.chunk_delay)


async def _call(
    parts: list[tuple[float, float]],
    transcripts: list[str],
    detector: FakeTurnDetector,
    replies: dict[str, str],
    *,
    preemptive: bool,
    agent: Agent | None = None,
    chunk_delay: float = 0.0,
) -> tuple[AgentSession, MemoryIO, Recorder, _Timed, FakeLLM, list[float]]:
    timed = _Timed(replies, chunk_delay)
    llm = FakeLLM(default=timed)
    session = AgentSession(
        vad=FakeVAD(),
        stt=FakeSTT(transcripts, streaming=True, seconds_per_word=0.15),
        llm=llm,
        tts=FakeTTS(seconds_per_char=0.01),
        user_away_timeout=None,
        turn_detection=detector,
        preemptive_generation=preemptive,
    )
    rec = Recorder(session)
    io = MemoryIO()
    await session.start(agent or Agent("Be brief."), io=io)
    ends = await speak_parts(session, io, parts)
    return session, io, rec, timed, llm, ends


def _said(rec: Recorder, role: str) -> list[str]:
    return [
        e.item.content for e in rec.of("conversation_item_added") if getattr(e.item, "role", None) == role
    ]


@virtual_time
async def test_a_turn_that_ends_as_predicted_plays_the_reply_prepared_during_the_decision() -> None:
    replies = {"what time is it": "It is noon."}
    delays = {}
    for preemptive in (False, True):
        _, io, rec, timed, llm, (end,) = await _call(
            [(1.0, 0.0)], ["what time is it"], FakeTurnDetector(0.9), replies, preemptive=preemptive
        )
        assert _said(rec, "user") == ["what time is it"]
        assert _said(rec, "assistant") == ["It is noon."]
        assert len(llm.requests) == 1  # the prepared request is the reply's request
        assert len(io.audio_output.segments) == 1
        decided = rec.time_of("conversation_item_added:user")
        delays[preemptive] = io.audio_output.segments[0].start - end
        if preemptive:
            assert timed.asked[0][0] < decided  # asked before the turn was over
        else:
            assert timed.asked[0][0] >= decided
    assert delays[False] >= 0.2 - 0.03 + TTFT  # the pause, then the whole time to first token
    assert delays[True] <= delays[False] - 0.1  # the LLM's wait hid behind the decision
    assert delays[True] < 0.2 + TTFT - 0.1


@virtual_time
async def test_a_prepared_reply_still_streaming_when_taken_plays_every_sentence_once() -> None:
    replies = {"what time is it": "It is noon. Lunch is at one today. See you there."}
    heard = {}
    for preemptive in (False, True):
        _, io, rec, _, _, _ = await _call(
            [(1.0, 0.0)],
            ["what time is it"],
            FakeTurnDetector(0.9),
            replies,
            preemptive=preemptive,
            chunk_delay=0.1,
        )
        assert _said(rec, "assistant") == [replies["what time is it"]]
        assert len(io.audio_output.segments) == 1
        heard[preemptive] = io.audio_output.segments[0].audio.duration
    assert heard[True] == heard[False]  # the later sentences are theirs, not the first one's audio again


@virtual_time
async def test_when_the_user_goes_on_the_prepared_reply_is_never_heard_nor_kept() -> None:
    detector = FakeTurnDetector(lambda text: 0.9 if text.endswith("people") else 0.1)
    replies = {"book a table": "WRONG early answer.", "book a table for four people": "Booked for four."}
    session, io, rec, timed, _, _ = await _call(
        [(0.6, 1.0), (0.9, 0.0)],
        ["book a table", "for four people"],
        detector,
        replies,
        preemptive=True,
    )
    assert [text for _, text in timed.asked] == ["book a table", "book a table for four people"]
    assert _said(rec, "user") == ["book a table for four people"]
    assert _said(rec, "assistant") == ["Booked for four."]
    assert [m.content for m in session.history.messages()][-2:] == [
        "book a table for four people",
        "Booked for four.",
    ]
    assert len(io.audio_output.segments) == 1
    assert io.text_output.segments == ["Booked for four."]
    assert all("WRONG" not in e.transcript for e in rec.of("user_input_transcribed"))


class _Rewriting(Agent):
    async def on_user_turn_completed(self, turn_ctx: ChatContext, new_message: ChatMessage) -> None:
        new_message.content = "what time is it in Tokyo"


@virtual_time
async def test_a_turn_changed_by_on_user_turn_completed_does_not_use_the_prepared_reply() -> None:
    replies = {"what time is it": "It is noon.", "what time is it in Tokyo": "It is 9 pm in Tokyo."}
    _, _, rec, timed, _, _ = await _call(
        [(1.0, 0.0)],
        ["what time is it"],
        FakeTurnDetector(0.9),
        replies,
        preemptive=True,
        agent=_Rewriting("Be brief."),
    )
    assert [text for _, text in timed.asked] == ["what time is it", "what time is it in Tokyo"]
    assert _said(rec, "assistant") == ["It is 9 pm in Tokyo."]


def test_preemptive_generation_must_be_a_bool() -> None:
    import pytest

    from livekitex_agent.errors import ConfigError

    with pytest.raises(ConfigError, match="preemptive_generation.*'yes'"):
        AgentSession(preemptive_generation="yes")
