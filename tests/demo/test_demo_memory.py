"""The whole demo in its in-memory mode with the real local providers (Silero VAD, PocketSphinx,
espeak-ng) and the offline policy: every request understood, every tool called right, every answer
spoken, the reports written, nothing left running. Takes the length of the call (~40 s)."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import numpy as np
import pytest

from livekitex_agent.demo.run import DemoOptions, run_demo
from livekitex_agent.demo.script import CALL_SCRIPT
from livekitex_agent.media import AudioFrame
from livekitex_agent.media.wav import read_wav

pytestmark = pytest.mark.slow


def loud_windows(wav: AudioFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per 100 ms window and channel (left: caller, right: agent): is there speech?"""
    stereo = wav.data.reshape(-1, 2).astype(np.int32)
    win = wav.sample_rate // 10
    n = stereo.shape[0] // win
    peaks = np.abs(stereo[: n * win]).reshape(n, win, 2).max(axis=1)
    return peaks[:, 0] > 2000, peaks[:, 1] > 2000


async def test_the_demo_call_in_memory(tmp_path: Path) -> None:
    out = io.StringIO()
    options = DemoOptions(output=tmp_path / "demo-output", transport="memory", llm="offline", tty=False)
    result = await asyncio.wait_for(run_demo(options, stream=out), 120)

    for check, line in zip(result.checks, CALL_SCRIPT, strict=True):
        assert check.heard == line.text, f"request {check.index} misheard"
        if line.expected_call is None:
            assert check.tool_calls == []
        else:
            assert [(c.name, c.arguments, c.is_error) for c in check.tool_calls] == [
                (line.expected_call.name, line.expected_call.arguments, False)
            ]
        assert check.answer, f"no answer to request {check.index}"
    assert [c.answer for c in result.checks] == [
        "It's sunny and 22 degrees in Paris today.",
        "Done: a table for 4 at 8 PM tonight. Your booking number is 417.",
        "Yes, our vegetarian dishes tonight are mushroom risotto, ratatouille and a goat cheese salad.",
        "You're welcome. Goodbye!",
    ]
    assert result.summary.passed

    # the caller waited for each answer: no reply was cut short
    events = json.loads(result.files.transcript_json.read_text())["events"]
    items = [e["item"] for e in events if e["type"] == "conversation_item_added"]
    assert not any(i.get("interrupted") for i in items)
    assert [e["reason"] for e in events if e["type"] == "close"] == ["input_ended"]

    # every caller turn has its latencies
    for turn in result.recorder.turns[1:]:
        m = turn.metrics
        assert m is not None and m.e2e_latency is not None and 0 < m.e2e_latency < 5.0

    wav = read_wav(result.files.audio_wav)
    assert wav.num_channels == 2 and abs(wav.duration - result.recorder.duration) < 2.0
    caller, agent = loud_windows(wav)
    assert caller.sum() > 50 and agent.sum() > 100  # seconds × 10 of speech on each side
    assert not (caller & agent).any(), "caller and agent talked at the same time"
    assert result.files.latency_png is not None and result.files.latency_png.is_file()

    text = out.getvalue()
    assert "transport: in-memory I/O" in text and "not an AI model" in text
    assert text.rstrip().splitlines()[-1] == f"output: {(tmp_path / 'demo-output').resolve()}"
    assert "\x1b" not in text

    # the session, the caller and the view left no task behind
    current = asyncio.current_task()
    assert [t for t in asyncio.all_tasks() if t is not current and not t.done()] == []
