"""The demo's report writers: transcript (Markdown, JSON with every event), stereo WAV, latency chart."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest

from livekitex_agent.chat import ChatMessage, FunctionCall, FunctionCallOutput
from livekitex_agent.demo.checks import check_call, summarize
from livekitex_agent.demo.latency import NOTE, format_table, latency_rows
from livekitex_agent.demo.record import CallInfo, CallRecorder
from livekitex_agent.demo.report import write_reports
from livekitex_agent.demo.script import CALL_SCRIPT, ExpectedCall, ScriptLine
from livekitex_agent.events import (
    AgentState,
    AgentStateChangedEvent,
    CloseEvent,
    CloseReason,
    ConversationItemAddedEvent,
    EventEmitter,
    FunctionToolsExecutedEvent,
    MetricsCollectedEvent,
    UserInputTranscribedEvent,
)
from livekitex_agent.media import AudioFrame, SessionIO
from livekitex_agent.media.stereo import place_frames, stereo_track
from livekitex_agent.media.wav import read_wav
from livekitex_agent.metrics import TurnMetrics, UsageMetrics
from livekitex_agent.session.recording import RecordingOptions, SessionRecorder

SCRIPT = (
    ScriptLine("What's the weather like in Paris today?", ExpectedCall("get_weather", {"city": "Paris"})),
    ScriptLine("Thank you, goodbye!"),
)


def tone(seconds: float, rate: int, start: float) -> list[tuple[float, AudioFrame]]:
    """A loud tone cut in 20 ms frames stamped from loop time ``start``."""
    n = round(rate * 0.02)
    t = np.arange(round(seconds * rate)) / rate
    data = (0.5 * np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int16)
    return [(start + i / rate, AudioFrame(data[i : i + n], rate)) for i in range(0, data.size, n)]


def emit_call(session: EventEmitter[str], recorder: CallRecorder) -> int:
    """A short scripted call through real event payloads; returns how many session events it emitted."""
    events = []

    def emit(name: str, payload: object) -> None:
        events.append(name)
        session.emit(name, payload)

    emit("agent_state_changed", AgentStateChangedEvent(AgentState.INITIALIZING, AgentState.LISTENING))
    emit("conversation_item_added", ConversationItemAddedEvent(ChatMessage("assistant", "Hello!")))
    recorder.begin_request(1, SCRIPT[0])
    emit("user_input_transcribed", UserInputTranscribedEvent("What's the weather like in Paris today?", True))
    call = FunctionCall(name="get_weather", arguments='{"city": "Paris"}')
    out = FunctionCallOutput(call_id=call.call_id, name="get_weather", output='{"condition": "sunny"}')
    emit("function_tools_executed", FunctionToolsExecutedEvent([call], [out]))
    emit("conversation_item_added", ConversationItemAddedEvent(ChatMessage("assistant", "It's sunny.")))
    metrics = TurnMetrics("speech_1", end_of_utterance_delay=0.6, transcription_delay=0.55, llm_ttft=0.001,
                          tts_ttfb=0.012, e2e_latency=0.62)  # fmt: skip
    emit("metrics_collected", MetricsCollectedEvent(metrics))
    emit("metrics_collected", MetricsCollectedEvent(UsageMetrics("local.EspeakTTS", "tts", characters=11)))
    recorder.begin_request(2, SCRIPT[1])
    emit("user_input_transcribed", UserInputTranscribedEvent("thank you goodbye", True))
    emit("conversation_item_added", ConversationItemAddedEvent(ChatMessage("assistant", "Goodbye!")))
    emit("close", CloseEvent(CloseReason.INPUT_ENDED))
    return len(events)


@pytest.fixture
async def recorded() -> tuple[CallRecorder, int]:
    recorder = CallRecorder(CallInfo("in-memory", "policy", "stt", "tts", "vad"), SCRIPT)
    recorder.start()
    session: EventEmitter[str] = EventEmitter()
    recorder.attach(session)
    session_recorder = SessionRecorder(RecordingOptions(write=False))  # what AgentSession(record=...) does
    session_recorder.attach(session, SessionIO())
    count = emit_call(session, recorder)
    await asyncio.sleep(0)
    report = recorder.session_report = session_recorder.report()
    report.user_audio = tone(1.0, 16000, recorder.origin + 1.0)
    report.agent_audio = tone(0.5, 24000, recorder.origin + 2.5)
    recorder.finish()
    return recorder, count


async def test_reports_are_written(tmp_path: Path, recorded: tuple[CallRecorder, int]) -> None:
    recorder, session_events = recorded
    checks = check_call(recorder)
    files = write_reports(tmp_path / "out", recorder, checks)
    for path in (files.transcript_md, files.transcript_json, files.audio_wav, files.latency_png):
        assert path is not None and path.is_file() and path.stat().st_size > 0, path

    data = json.loads(files.transcript_json.read_text())
    types = [e["type"] for e in data["events"]]
    assert len(types) == session_events + 2  # every session event, plus the caller's two lines
    assert types.count("caller_speaking") == 2 and types.count("metrics_collected") == 2
    assert data["demo"]["transport"] == "in-memory"
    first = data["turns"][0]
    assert first["understood"] and first["tool_ok"]
    assert first["tool_calls"][0]["arguments"] == {"city": "Paris"}
    assert first["answer"] == "It's sunny."
    assert first["latency_ms"]["e2e_latency"] == pytest.approx(620)
    second = data["turns"][1]
    assert second["understood"]  # punctuation and case do not matter
    assert data["summary"]["passed"] is True

    md = files.transcript_md.read_text()
    assert "“What's the weather like in Paris today?”" in md
    assert '`get_weather({"city": "Paris"}) -> {"condition": "sunny"}`' in md
    assert "“It's sunny.”" in md and "![latency per turn](latency.png)" in md

    assert files.latency_png is not None and files.latency_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


async def test_the_wav_has_the_caller_left_and_the_agent_right(
    tmp_path: Path, recorded: tuple[CallRecorder, int]
) -> None:
    recorder, _ = recorded
    files = write_reports(tmp_path, recorder, check_call(recorder))
    wav = read_wav(files.audio_wav)
    assert (wav.num_channels, wav.sample_rate) == (2, 24000)
    assert wav.duration == pytest.approx(3.0, abs=0.01)  # up to the end of the agent's speech
    stereo = wav.data.reshape(-1, 2)

    def loud_span(channel: int) -> tuple[float, float]:
        loud = np.flatnonzero(np.abs(stereo[:, channel].astype(np.int32)) > 3000)
        return loud[0] / 24000, loud[-1] / 24000

    assert loud_span(0) == pytest.approx((1.0, 2.0), abs=0.01)  # the caller, resampled from 16 kHz
    assert loud_span(1) == pytest.approx((2.5, 3.0), abs=0.01)  # the agent


def test_frames_with_jittery_stamps_stay_contiguous_and_gaps_stay_silent() -> None:
    frames = tone(0.2, 16000, 10.0)
    jittered = [(t + (0.004 if i % 2 else -0.003), f) for i, (t, f) in enumerate(frames)]
    track = place_frames(jittered, origin=10.0, sample_rate=16000)
    assert track.size == 0.2 * 16000
    np.testing.assert_array_equal(track, np.concatenate([f.data for _, f in frames]))
    later = tone(0.1, 16000, 11.0)
    track = place_frames(frames + later, origin=10.0, sample_rate=16000)
    assert track.size == 1.1 * 16000
    assert not track[round(0.2 * 16000) : 16000].any()


def test_stereo_call_with_one_silent_side() -> None:
    call = stereo_track(tone(0.5, 16000, 0.0), [], origin=0.0, sample_rate=24000)
    assert call.num_channels == 2 and call.duration == pytest.approx(0.5, abs=0.01)
    assert not call.data.reshape(-1, 2)[:, 1].any()


async def test_a_line_never_reached_fails_its_check(recorded: tuple[CallRecorder, int]) -> None:
    recorder, _ = recorded
    recorder.script = (*SCRIPT, CALL_SCRIPT[1])
    checks = check_call(recorder)
    assert [c.ok for c in checks] == [True, True, False]
    summary = summarize(checks)
    assert not summary.passed and summary.text().startswith("2/3 requests understood, 1/2 tools")


def test_latency_table_marks_missing_stages() -> None:
    recorder = CallRecorder(CallInfo("t", "l", "s", "t", "v"), SCRIPT)
    recorder.turns[0].metrics = TurnMetrics("greeting", e2e_latency=1.0)  # the greeting is no caller turn
    recorder.begin_request(1, SCRIPT[0])
    recorder.current.metrics = TurnMetrics("s1", end_of_utterance_delay=0.5, e2e_latency=0.75)
    table = format_table(latency_rows(recorder.turns))
    rows = table.splitlines()
    assert rows[3].split()[-5:] == ["500", "-", "-", "-", "750"]
    assert rows[-3].split() == ["mean", "500", "-", "-", "-", "750"]
    assert table.endswith(NOTE)
    assert "(no turn metrics" in format_table([])


def test_the_latency_table_shows_the_configuration_before_beside_the_one_after() -> None:
    from livekitex_agent.demo.latency import LatencyRow

    after = [
        LatencyRow(1, "weather", (300.0, 200.0, 0.0, 10.0, 320.0)),
        LatencyRow(2, "bye", (500.0, 100.0, 0.0, 0.0, 510.0)),
    ]
    before = [
        LatencyRow(1, "weather", (800.0, 200.0, 0.0, 10.0, 820.0)),
        LatencyRow(2, "bye", (700.0, 100.0, 0.0, 0.0, 720.0)),
    ]
    table = format_table(after, baseline=before, labels=("after: smart-turn", "before: vad"))
    lines = table.splitlines()
    assert lines[1].endswith("end-to-end  before: vad e2e")
    assert lines[3].split()[-2:] == ["320", "820"] and lines[4].split()[-2:] == ["510", "720"]
    mean_after = next(line for line in lines if line.strip().startswith("after: smart-turn"))
    mean_before = next(line for line in lines if line.strip().startswith("before: vad "))
    assert mean_after.split()[-5:] == ["400", "150", "0", "5", "415"]
    assert mean_before.split()[-5:] == ["750", "150", "0", "5", "770"]
    assert "before" not in format_table(after)
