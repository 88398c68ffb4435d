"""Streaming speech recognition in the pipeline: interim transcripts, the final, fallback, barge-in, close."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import numpy as np
import pytest
from _helpers import Recorder, utterance

from livekitex_agent import Agent
from livekitex_agent.chat import ChatMessage
from livekitex_agent.errors import ErrorCategory, ProviderError
from livekitex_agent.media import AudioFrame, combine_frames
from livekitex_agent.metrics import TurnMetrics, UsageMetrics
from livekitex_agent.providers import (
    STT,
    SpeechAlternative,
    SpeechEvent,
    SpeechEventType,
    STTCapabilities,
    STTStream,
)
from livekitex_agent.session import AgentSession
from livekitex_agent.session.recognition import AudioRecognition, RecognitionHooks
from livekitex_agent.session.turn_timing import TurnTiming
from livekitex_agent.testing import FakeLLM, FakeSTT, FakeTTS, FakeVAD, MemoryIO, virtual_time
from livekitex_agent.testing.fakes import FAST_RETRY


async def start(stt: STT, llm: FakeLLM, **opts: object) -> tuple[AgentSession, MemoryIO, Recorder]:
    io = MemoryIO()
    session = AgentSession(vad=FakeVAD(), stt=stt, llm=llm, tts=FakeTTS(), **opts)  # type: ignore[arg-type]
    rec = Recorder(session)
    await session.start(Agent("Be brief."), io=io)
    return session, io, rec


def transcripts(rec: Recorder) -> list[tuple[str, bool]]:
    return [(e.transcript, e.is_final) for e in rec.of("user_input_transcribed")]


def turn_metrics(rec: Recorder) -> list[TurnMetrics]:
    return [e.metrics for e in rec.of("metrics_collected") if isinstance(e.metrics, TurnMetrics)]


@virtual_time
async def test_interim_transcripts_arrive_word_by_word_before_the_final() -> None:
    loop = asyncio.get_running_loop()
    stt = FakeSTT(["what is the weather in paris"], streaming=True, seconds_per_word=0.2)
    session, io, rec = await start(stt, FakeLLM(["Sunny."]))
    io.push_silence(0.5)
    io.push_audio(utterance(1.5))
    io.push_silence(4.0)
    io.end_input()
    await asyncio.wait_for(session.wait_closed(), 60)

    assert transcripts(rec) == [
        ("what", False),
        ("what is", False),
        ("what is the", False),
        ("what is the weather", False),
        ("what is the weather in", False),
        ("what is the weather in paris", False),
        ("what is the weather in paris", True),
    ]
    # interims come while the user speaks: the first one 0.2 s of audio after the segment opened
    # (0.1 s of prefix padding + 0.05 s of speech to start it are in the stream at once)
    first_interim = rec.time_of("user_input_transcribed")
    speech_start = 0.5
    assert speech_start < first_interim < speech_start + 0.2
    final_at = rec.time_of("user_input_transcribed", 6)
    speech_end = 0.5 + 1.5
    assert final_at == pytest.approx(speech_end + 0.3, abs=0.03)  # at the VAD's end of speech
    assert rec.time_of("user_state_changed:listening") <= final_at
    # the turn is the final text, answered min_endpointing_delay after the user stopped
    assert [m.content for m in session.history.messages()][1:] == ["what is the weather in paris", "Sunny."]
    (call,) = stt.calls
    assert call.streamed
    assert 1.5 + 0.1 <= call.audio_duration <= 1.5 + 0.1 + 0.3 + 0.03  # prefix padding + speech + VAD silence
    (turn,) = turn_metrics(rec)
    assert turn.transcription_delay == 0.0
    assert abs(turn.end_of_utterance_delay - 0.5) <= 0.03  # type: ignore[operator]
    usage = [e.metrics for e in rec.of("metrics_collected") if isinstance(e.metrics, UsageMetrics)]
    (stt_usage,) = [u for u in usage if u.kind == "stt"]
    assert stt_usage.audio_duration == pytest.approx(call.audio_duration)
    assert loop.time() < 60


@virtual_time
async def test_a_slow_final_is_the_transcription_delay_and_the_turn_waits_for_it() -> None:
    stt = FakeSTT(["book a table"], streaming=True, delay=0.8)
    session, io, rec = await start(stt, FakeLLM(["Done."]), min_endpointing_delay=0.5)
    io.push_silence(0.5)
    io.push_audio(utterance(1.0))
    io.push_silence(4.0)
    io.end_input()
    await asyncio.wait_for(session.wait_closed(), 60)

    assert transcripts(rec)[-1] == ("book a table", True)
    (turn,) = turn_metrics(rec)
    assert turn.transcription_delay == pytest.approx(0.8, abs=0.001)
    # the VAD reports the end 0.3 s after the speech; the final comes 0.8 s later
    assert turn.end_of_utterance_delay == pytest.approx(0.3 + 0.8, abs=0.03)


@virtual_time
async def test_streaming_can_be_turned_off() -> None:
    stt = FakeSTT(["hello there"], streaming=True)
    session, io, rec = await start(stt, FakeLLM(["Hi."]), stt_streaming=False)
    io.push_audio(utterance(1.0))
    io.push_silence(3.0)
    io.end_input()
    await asyncio.wait_for(session.wait_closed(), 60)
    assert transcripts(rec) == [("hello there", True)]
    assert [c.streamed for c in stt.calls] == [False]


@virtual_time
async def test_a_broken_stream_falls_back_to_recognize_and_the_user_is_answered() -> None:
    broken = ProviderError("stream reset by peer", provider="FakeSTT", retryable=True)
    stt = FakeSTT([broken, "cancel my order", "thanks"], streaming=True)
    session, io, rec = await start(stt, FakeLLM(["Cancelled.", "You're welcome."]))
    io.push_audio(utterance(1.0))
    io.push_silence(3.0)
    io.push_audio(utterance(0.8))  # the next segment streams again
    io.push_silence(3.0)
    io.end_input()
    await asyncio.wait_for(session.wait_closed(), 60)

    (error,) = rec.of("error")
    assert error.error is broken and error.source == "stt" and error.recoverable
    assert transcripts(rec)[0] == ("cancel my order", True)
    assert [c.streamed for c in stt.calls] == [False, True]  # recognize() on the segment, then a stream
    assert stt.calls[0].audio_duration >= 1.0  # the whole segment was recognized
    contents = [m.content for m in session.history.messages()][1:]
    assert contents == ["cancel my order", "Cancelled.", "thanks", "You're welcome."]


class _BuggySTT(STT):
    """Streams that go wrong as a provider's can: ``stream()`` raises (a bug), or no final ever comes."""

    capabilities = STTCapabilities(streaming=True, interim_results=True)
    retry_policy = FAST_RETRY  # 10 s per attempt: also the wait for a final after the end of speech

    def __init__(self, how: str) -> None:
        self.how = how
        self.recognized: list[float] = []
        self.streams: list[_SilentStream] = []

    async def recognize(self, frames: Sequence[AudioFrame], *, language: str | None = None) -> SpeechEvent:
        self.recognized.append(sum(f.duration for f in frames))
        return SpeechEvent(SpeechEventType.FINAL_TRANSCRIPT, [SpeechAlternative("hello anyway")])

    def stream(self, *, language: str | None = None) -> STTStream:
        if self.how == "open":
            raise RuntimeError("bug in stream()")
        stream = _SilentStream()
        self.streams.append(stream)
        return stream


class _SilentStream(STTStream):
    def __init__(self) -> None:
        self.closed = asyncio.Event()
        self.pushed = 0

    def push_frame(self, frame: AudioFrame) -> None:
        self.pushed += 1

    def end_input(self) -> None:
        pass

    async def __aiter__(self) -> AsyncIterator[SpeechEvent]:
        await self.closed.wait()  # never answers
        return
        yield

    async def aclose(self) -> None:
        self.closed.set()


@pytest.mark.parametrize("how", ["open", "silent"])
@virtual_time
async def test_a_stream_that_fails_to_open_or_never_answers_falls_back(how: str) -> None:
    stt = _BuggySTT(how)
    session, io, rec = await start(stt, FakeLLM(["Hi."]), max_endpointing_delay=20.0)
    io.push_audio(utterance(1.0))
    io.push_silence(15.0)
    io.end_input()
    await asyncio.wait_for(session.wait_closed(), 60)

    (error,) = rec.of("error")
    assert error.source == "stt"
    if how == "open":
        assert isinstance(error.error, RuntimeError)
    else:  # no final 10 s (the STT's retry timeout) after the end of speech
        assert isinstance(error.error, ProviderError) and error.error.category is ErrorCategory.TIMEOUT
        assert "10 s" in str(error.error)
        assert stt.streams[0].pushed > 0 and stt.streams[0].closed.is_set()
        assert rec.time_of("user_input_transcribed") == pytest.approx(1.0 + 0.3 + 10.0, abs=0.05)
    assert len(stt.recognized) == 1 and stt.recognized[0] >= 1.0
    assert transcripts(rec) == [("hello anyway", True)]
    assert [m.content for m in session.history.messages()][1:] == ["hello anyway", "Hi."]


class _EarlySTT(STT):
    """Its streams give a final at once and end, while the user is still speaking."""

    capabilities = STTCapabilities(streaming=True)

    async def recognize(self, frames: Sequence[AudioFrame], *, language: str | None = None) -> SpeechEvent:
        raise AssertionError("not used")

    def stream(self, *, language: str | None = None) -> STTStream:
        return _EarlyStream()


class _EarlyStream(STTStream):
    def push_frame(self, frame: AudioFrame) -> None:
        pass

    def end_input(self) -> None:
        raise AssertionError("the stream has ended already")

    async def __aiter__(self) -> AsyncIterator[SpeechEvent]:
        yield SpeechEvent(SpeechEventType.FINAL_TRANSCRIPT, [SpeechAlternative("early words")])

    async def aclose(self) -> None:
        pass


@virtual_time
async def test_a_stream_that_ends_before_the_speech_does_gives_the_turn_at_the_end_of_speech() -> None:
    session, io, rec = await start(_EarlySTT(), FakeLLM(["Hi."]))
    io.push_audio(utterance(1.0))
    io.push_silence(3.0)
    io.end_input()
    await asyncio.wait_for(session.wait_closed(), 60)

    assert rec.of("error") == []
    assert transcripts(rec) == [("early words", True)]
    assert rec.time_of("user_input_transcribed") == pytest.approx(1.0 + 0.3, abs=0.03)
    assert [m.content for m in session.history.messages()][1:] == ["early words", "Hi."]


LONG = " ".join(f"Sentence number {i} of a long story." for i in range(1, 9))


@virtual_time
async def test_barge_in_with_a_streaming_stt() -> None:
    stt = FakeSTT(["tell me a story", "stop please"], streaming=True)
    session, io, rec = await start(stt, FakeLLM([LONG, "Okay, stopping."]))
    io.push_audio(utterance(1.0))
    await rec.wait_for("agent_state_changed:speaking")
    await asyncio.sleep(3.0)
    io.push_audio(utterance(1.0))
    io.push_silence(8.0)
    await rec.wait_for("conversation_item_added:assistant", count=2)
    io.end_input()
    await asyncio.wait_for(session.wait_closed(), 60)

    story_seg = io.audio_output.segments[0]
    assert story_seg.result is not None and story_seg.result.interrupted
    story = session.history.messages()[2]
    assert isinstance(story, ChatMessage) and story.interrupted and LONG.startswith(story.content)
    assert [m.content for m in session.history.messages()][3:] == ["stop please", "Okay, stopping."]
    # the user's interrupting words were shown while they spoke
    assert ("stop", False) in transcripts(rec)
    assert transcripts(rec)[-1] == ("stop please", True)


@virtual_time
async def test_interim_words_confirm_a_barge_in_while_the_user_still_speaks() -> None:
    stt = FakeSTT(["tell me a story", "wait wait I have a question"], streaming=True)
    session, io, rec = await start(stt, FakeLLM([LONG, "Sure, go ahead."]))
    io.push_audio(utterance(1.0))
    await rec.wait_for("agent_state_changed:speaking")
    await asyncio.sleep(2.0)
    io.push_audio(utterance(3.0))  # a long interruption
    io.push_silence(8.0)
    await rec.wait_for("conversation_item_added:assistant", count=2)
    io.end_input()
    await asyncio.wait_for(session.wait_closed(), 60)

    story = session.history.messages()[2]
    assert isinstance(story, ChatMessage) and story.interrupted and LONG.startswith(story.content)
    cut_at = rec.time_of("conversation_item_added:assistant")
    user_started, user_stopped = (
        rec.time_of("user_state_changed:speaking", 1),
        rec.time_of("user_state_changed:listening", 1),
    )
    # the story stopped once the first interim words came, long before the user finished
    assert user_started < cut_at < user_started + 1.5 < user_stopped
    assert [m.content for m in session.history.messages()][3:] == [
        "wait wait I have a question",
        "Sure, go ahead.",
    ]


@virtual_time
async def test_aclose_mid_stream_leaves_no_task_and_closes_the_stream() -> None:
    before = set(asyncio.all_tasks())
    stt = _BuggySTT("silent")
    session, io, rec = await start(stt, FakeLLM(["Hi."]))
    io.push_audio(utterance(3.0))
    await rec.wait_for("user_state_changed:speaking")
    await asyncio.sleep(0.5)
    (stream,) = stt.streams
    assert stream.pushed > 0 and not stream.closed.is_set()
    await session.aclose()
    await asyncio.sleep(0)
    leaked = {t for t in asyncio.all_tasks() - before if t is not asyncio.current_task()}
    assert leaked == set(), [t.get_name() for t in leaked]
    assert stream.closed.is_set()
    assert rec.of("error") == []


class _RecordingSTT(STT):
    capabilities = STTCapabilities(streaming=True)

    def __init__(self) -> None:
        self.streams: list[_RecordingStream] = []

    async def recognize(self, frames: Sequence[AudioFrame], *, language: str | None = None) -> SpeechEvent:
        raise AssertionError("not used")

    def stream(self, *, language: str | None = None) -> STTStream:
        self.streams.append(_RecordingStream())
        return self.streams[-1]


class _RecordingStream(STTStream):
    def __init__(self) -> None:
        self.frames: list[AudioFrame] = []
        self.ended = asyncio.Event()

    def push_frame(self, frame: AudioFrame) -> None:
        assert not self.ended.is_set()
        self.frames.append(frame)

    def end_input(self) -> None:
        self.ended.set()

    async def __aiter__(self) -> AsyncIterator[SpeechEvent]:
        await self.ended.wait()
        yield SpeechEvent(SpeechEventType.FINAL_TRANSCRIPT, [SpeechAlternative("words")])

    async def aclose(self) -> None:
        pass


@pytest.mark.parametrize("frame_ms", [25, 20, 7])
@virtual_time
async def test_the_stream_gets_each_sample_of_the_segment_once_from_the_prefix_padding_on(
    frame_ms: int,
) -> None:
    rate = 16000
    rng = np.random.default_rng(3)
    speech = AudioFrame((rng.standard_normal(rate) * 8000).astype(np.int16), rate)  # 1 s, loud
    quiet = AudioFrame((rng.standard_normal(rate // 2) * 3).astype(np.int16), rate)  # 0.5 s, below the VAD
    signal = combine_frames([quiet, speech, quiet, quiet])
    stt = _RecordingSTT()
    finals: list[str] = []
    recognition = AudioRecognition(
        vad=FakeVAD(prefix_padding_duration=0.1),
        stt=stt,
        hooks=_hooks(finals),
        min_endpointing_delay=0.5,
        max_endpointing_delay=3.0,
    )
    n = rate * frame_ms // 1000
    for i in range(0, signal.samples_per_channel, n):
        recognition.push_audio(AudioFrame(signal.data[i : i + n], rate))
    await asyncio.sleep(1.0)  # the end-of-turn delay (the pushes above took no loop time)
    await recognition.aclose()

    (stream,) = stt.streams
    got = combine_frames(stream.frames).data
    # speech starts at 0.5 s; the stream starts with the VAD's prefix: 0.1 s of padding + one window
    first = 8000 - 1760
    assert got.size >= 16000 + 1760  # the whole speech (and then some silence up to the VAD's end)
    assert np.array_equal(got, signal.data[first : first + got.size])
    assert finals == ["words"]


def _hooks(finals: list[str]) -> RecognitionHooks:
    def ignore(*_: object) -> None:
        pass

    def end_of_turn(text: str, timing: TurnTiming) -> None:
        finals.append(text)

    return RecognitionHooks(
        speech_started=ignore,
        speech_progress=ignore,
        speech_ended=ignore,
        transcript=ignore,
        segment_transcribed=ignore,
        end_of_turn=end_of_turn,
        error=ignore,
        usage=ignore,
    )
