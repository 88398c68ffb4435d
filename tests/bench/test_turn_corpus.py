"""The turn-taking corpus's recorded part (bench/turn_corpus_recorded.py) and what a caller notices
on it: a real voice pausing mid-sentence is cut off by silence alone but not by the Smart Turn
detector, and a finished sentence is answered at once. Runs through bench/turn_taking.py's session
(real Silero VAD, the model's CPU time charged to the virtual clock)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import turn_corpus_recorded  # noqa: E402
import turn_taking  # noqa: E402

from livekitex_agent.plugins import local  # noqa: E402
from livekitex_agent.testing import run_virtual  # noqa: E402


@pytest.fixture(scope="module")
def recorded() -> dict[str, Any]:
    if not turn_corpus_recorded.available() and not os.environ.get("CI"):
        pytest.skip(f"no recorded speech: run {turn_corpus_recorded.INSTALL}")
    return {clip.id: clip for clip in turn_corpus_recorded.load_recorded()}  # in CI, a missing package fails


@pytest.fixture(scope="module")
def models() -> Iterator[tuple[Any, Any]]:
    try:
        detector = local.SmartTurnDetector()
    except FileNotFoundError as e:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(e))
    detector.prewarm()
    vad = local.SileroVAD()
    vad.prewarm()
    yield vad, detector


def _db(x: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(x.astype(np.float64) ** 2)) / 32768 + 1e-12))


def test_recorded_clips_are_speech_where_the_manifest_says_and_silence_in_the_pauses(
    recorded: dict[str, Any],
) -> None:
    assert len(recorded) == len(turn_corpus_recorded.MANIFEST)
    for clip in recorded.values():
        data, rate = clip.audio.data, clip.audio.sample_rate
        for end in clip.part_ends:  # each part is speech up to its end: loud, fading at most
            e = round(end * rate)
            assert max(_db(data[i : i + 160]) for i in range(e - 8000, e, 160)) > -35, clip.id
            assert _db(data[e - 160 : e]) > -62, clip.id  # its last 10 ms above the noise floor
        for start, stop in clip.pauses:
            assert _db(data[round(start * rate) + 80 : round(stop * rate)]) < -60, clip.id
        assert _db(data[round(clip.speech_end * rate) + 80 :]) < -60, clip.id
    assert {c.category for c in recorded.values()} == {"paused", "clean", "question"}


def test_a_real_voice_pausing_after_you_have_is_cut_off_by_silence_but_not_by_smart_turn(
    recorded: dict[str, Any], models: tuple[Any, Any]
) -> None:
    vad, detector = models
    clip = recorded["rec01-vm-youhave"]  # "you have … (1.1 s) … two new messages"
    assert clip.pauses and clip.pauses[0][1] - clip.pauses[0][0] >= 1.0
    by_silence = run_virtual(turn_taking.run_clip(clip, vad, turn_taking.Config("vad")))
    assert by_silence.false_cut  # today's default answers inside the pause
    config = turn_taking.Config("smart_turn", {"turn_detection": turn_taking.ChargedDetector(detector)})
    by_model = run_virtual(turn_taking.run_clip(clip, vad, config))
    assert not by_model.false_cut
    assert len(by_model.decisions) == 1  # one turn: the whole sentence


def test_a_finished_recorded_sentence_is_answered_within_half_a_second(
    recorded: dict[str, Any], models: tuple[Any, Any]
) -> None:
    vad, detector = models
    clip = recorded["rec12-all-circuits-busy-now"]
    config = turn_taking.Config("smart_turn", {"turn_detection": turn_taking.ChargedDetector(detector)})
    result = run_virtual(turn_taking.run_clip(clip, vad, config))
    delay = result.reply_delay()
    assert delay is not None and delay < 0.5  # vs ~0.59 s with the "vad" default (min_endpointing_delay)
    assert not result.false_cut
