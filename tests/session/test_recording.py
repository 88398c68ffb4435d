"""Session recording: the stereo call on one timeline (user left, agent right, cut at the barge-in),
the transcript and every event, as files and as ``session.report()``; redaction before storage."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _helpers import Recorder, utterance

from livekitex_agent import Agent
from livekitex_agent.media.wav import read_wav
from livekitex_agent.session import AgentSession
from livekitex_agent.session.recording import RecordingOptions
from livekitex_agent.testing import FakeLLM, FakeSTT, FakeTTS, FakeVAD, MemoryIO, virtual_time

LONG = " ".join(f"Sentence number {i} of a long story." for i in range(1, 9))
CARD = re.compile(r"\d{4}( \d{4}){3}")
WIN = 0.01  # analysis window, seconds


def _mask_card(record: dict[str, Any]) -> dict[str, Any] | None:
    """What must not be stored: card numbers anywhere in the record; state changes are dropped."""
    if record["type"] == "user_state_changed":
        return None
    return json.loads(CARD.sub("[card]", json.dumps(record)))


def loud_spans(channel: np.ndarray, rate: int) -> list[tuple[float, float]]:
    """(start, end) seconds of the runs of 10 ms windows louder than -30 dBFS."""
    win = round(WIN * rate)
    n = channel.size // win
    peaks = np.abs(channel[: n * win].astype(np.int32)).reshape(n, win).max(axis=1)
    loud = peaks > 1000
    spans: list[tuple[float, float]] = []
    start = None
    for i, on in enumerate(loud):
        if on and start is None:
            start = i
        elif not on and start is not None:
            spans.append((start * WIN, i * WIN))
            start = None
    if start is not None:
        spans.append((start * WIN, n * WIN))
    return spans


@virtual_time
async def test_the_call_is_recorded_on_one_timeline_with_the_agent_cut_at_the_barge_in(tmp_path: Path) -> None:
    loop = asyncio.get_running_loop()
    io = MemoryIO(record_input=True)
    folder = tmp_path / "call-1"
    session = AgentSession(
        vad=FakeVAD(), stt=scripted_stt(), llm=FakeLLM([LONG, "Okay, stopping."]), tts=FakeTTS(),
        record=RecordingOptions(folder=folder, redact=_mask_card),
    )
    rec = Recorder(session)
    await session.start(Agent("Tell stories."), io=io)
    origin = session.report().origin
    io.push_silence(0.5)
    io.push_audio(utterance(1.0))  # the user speaks from 0.5 s to 1.5 s
    await rec.wait_for("agent_state_changed:speaking")
    await asyncio.sleep(3.0)
    barge_at = loop.time() - origin
    io.push_audio(utterance(1.0))
    io.push_silence(8.0)
    await rec.wait_for("conversation_item_added:assistant", count=2)
    io.end_input()
    await rec.wait_for("close", 120)
    await session.wait_closed()  # the files are written in a thread: no virtual timer may run meanwhile

    story, answer = io.audio_output.segments
    assert story.result is not None and story.result.interrupted
    story_start, story_end = story.frames[0][0] - origin, story.frames[-1][0] + 0.02 - origin
    answer_start, answer_end = answer.frames[0][0] - origin, answer.frames[-1][0] + 0.02 - origin

    wav = read_wav(folder / "call.wav")
    assert wav.num_channels == 2 and wav.sample_rate == 24000
    stereo = wav.data.reshape(-1, 2)
    left, right = loud_spans(stereo[:, 0], 24000), loud_spans(stereo[:, 1], 24000)
    # the user on the left, at the times they spoke (first words, then the barge-in), as the input
    # delivered them (it speaks on a 20 ms grid, so the barge-in starts up to two frames after the push)
    spoken = [t - origin for t, f in io.audio_input.recorded if np.abs(f.data).max() > 1000]
    assert len(left) == 2
    assert left[0] == pytest.approx((0.5, 1.5), abs=0.03)
    barge_spoken = min(t for t in spoken if t > barge_at - 0.01)
    assert barge_at <= barge_spoken <= barge_at + 0.045
    assert left[1] == pytest.approx((barge_spoken, barge_spoken + 1.0), abs=0.015)
    # the agent on the right as it was played: the story cut where the user stopped it, then the answer
    assert len(right) == 2
    assert right[0] == pytest.approx((story_start, story_end), abs=0.03)
    assert right[1] == pytest.approx((answer_start, answer_end), abs=0.03)
    # cut once the barge-in lasted min_interruption_duration (0.5 s)
    assert story_end == pytest.approx(barge_spoken + 0.5, abs=0.03)
    assert story_end - story_start < FakeTTS().duration_for(LONG) / 2

    report = session.report()
    assert [(e.role, e.text, e.interrupted) for e in report.transcript] == [
        ("user", "my card is [card]", False),
        ("assistant", "Sentence number 1 of a long story. Sentence number 2 of a long story.", True),
        ("user", "stop please", False),
        ("assistant", "Okay, stopping.", False),
    ]
    transcript = json.loads((folder / "transcript.json").read_text())
    assert [e["text"] for e in transcript["transcript"]] == [e.text for e in report.transcript]
    assert transcript["duration"] == pytest.approx(report.duration, abs=1e-3)

    lines = [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]
    assert lines == report.events
    types = [line["type"] for line in lines]
    seen = [label for label in rec.names(usage=True) if not label.startswith("user_state_changed")]
    assert len(types) == len(seen)  # every event but the ones the hook dropped, in order
    assert "user_state_changed" not in types
    assert set(types) == {
        "agent_state_changed", "user_input_transcribed", "conversation_item_added", "speech_created",
        "metrics_collected", "engine_changed", "close",
    }
    assert types[-1] == "close" and lines[-1]["reason"] == "input_ended"
    assert [line["t"] for line in lines] == sorted(line["t"] for line in lines)
    everything = (folder / "events.jsonl").read_text() + (folder / "transcript.json").read_text()
    assert "4111 1111" not in everything


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def scripted_stt() -> FakeSTT:
    return FakeSTT(["my card is 4111 1111 1111 1111", "stop please"])


@virtual_time
async def test_off_by_default_and_in_memory_only_when_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    plain = AgentSession(llm=FakeLLM(["Hi."]))
    await plain.start(Agent("Hi."))
    await plain.run(user_input="Hello")
    await plain.aclose()
    with pytest.raises(RuntimeError, match="record=RecordingOptions"):
        plain.report()

    kept = AgentSession(llm=FakeLLM(["Hi."]), record=RecordingOptions(write=False))
    await kept.start(Agent("Hi."))
    await kept.run(user_input="Hello")
    await kept.aclose()
    assert [(e.role, e.text) for e in kept.report().transcript] == [("user", "Hello"), ("assistant", "Hi.")]
    assert _listing(tmp_path) == []  # nothing written, no recordings/ folder


@virtual_time
async def test_the_default_folder_is_one_per_session_under_the_recordings_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIVEKITEX_RECORDINGS_DIR", str(tmp_path / "recs"))
    monkeypatch.setenv("SOME_API_KEY", "sk-live-0123456789abcdef")
    session = AgentSession(llm=FakeLLM(["The key is sk-live-0123456789abcdef."]), record=RecordingOptions())
    await session.start(Agent("Hi."))
    await session.run(user_input="Tell me the key")
    await session.aclose()
    (name,) = _listing(tmp_path / "recs")
    folder = tmp_path / "recs" / name
    assert _listing(folder) == ["call.wav", "events.jsonl", "transcript.json"]
    text = (folder / "events.jsonl").read_text()
    assert "sk-live-0123456789abcdef" not in text and "The key is ***." in text  # secrets never stored


def test_bad_recording_options_name_the_value() -> None:
    with pytest.raises(Exception, match="sample_rate"):
        RecordingOptions(sample_rate=100)
    with pytest.raises(TypeError, match="redact must be a function"):
        RecordingOptions(redact="yes")  # type: ignore[arg-type]
    with pytest.raises(Exception, match="AgentSession record must be a RecordingOptions"):
        AgentSession(record=True)  # type: ignore[arg-type]
