"""Smart Turn v3.2 through onnxruntime: finding the model, its input, its decisions, off the loop."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from livekitex_agent.errors import ConfigError
from livekitex_agent.plugins.local import SmartTurnDetector, smart_turn

from ._audio import espeak_clip


@pytest.fixture(scope="module")
def detector() -> Iterator[SmartTurnDetector]:
    try:
        d = SmartTurnDetector()
    except FileNotFoundError as e:
        if os.environ.get("CI"):
            raise  # the set-up must install it (scripts/install-smart-turn.sh)
        pytest.skip(str(e))
    d.prewarm()
    yield d


def _spoken(text: str) -> np.ndarray:
    """``text`` by espeak-ng with 0.5 s of silence before and the 0.2 s pause after it."""
    audio = espeak_clip(text, rate=165).data.astype(np.float32) / 32768
    loud = np.flatnonzero(np.abs(audio) > 0.003)
    return np.r_[np.zeros(8000, np.float32), audio[: loud[-1] + 1], np.zeros(3200, np.float32)]


def test_the_model_input_is_what_the_features_make(detector: SmartTurnDetector) -> None:
    shape = detector._model().get_inputs()[0].shape
    assert list(shape[1:]) == [80, 800]
    assert smart_turn.features(np.zeros(16000, np.float32)).shape == (1, 80, 800)
    licence = detector.model_path.with_name("smart-turn-v3.2-cpu.LICENSE")
    if detector.model_path.parent.name == "models":  # installed by scripts/install-smart-turn.sh
        assert "BSD 2-Clause" in licence.read_text()


def test_a_finished_sentence_ends_the_turn_and_a_dangling_one_does_not(detector: SmartTurnDetector) -> None:
    assert detector.infer(_spoken("thank you that is all I needed")) >= 0.8
    assert detector.infer(_spoken("what is the weather like in Paris today")) >= 0.8
    assert detector.infer(_spoken("I would like to")) < 0.2


async def test_inference_runs_off_the_event_loop_on_one_shared_model(
    detector: SmartTurnDetector, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[str] = []
    real = smart_turn.features

    def recording(audio: np.ndarray) -> np.ndarray:
        threads.append(threading.current_thread().name)
        return real(audio)

    monkeypatch.setattr(smart_turn, "features", recording)
    p = await detector.predict_end_of_turn(_spoken("I would like to"), "I would like to")
    assert p < 0.2
    assert threads and threads[0].startswith("smart-turn") and threads[0] != threading.main_thread().name
    other = SmartTurnDetector(threshold=0.7)
    assert other._model() is detector._model()  # one model per process


def test_model_path_and_env_var_errors_name_the_bad_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError, match="nowhere.onnx"):
        SmartTurnDetector(model_path=tmp_path / "nowhere.onnx")
    monkeypatch.setenv(smart_turn.MODEL_ENV, str(tmp_path / "env.onnx"))
    with pytest.raises(ConfigError, match=r"LIVEKITEX_SMART_TURN_MODEL=.*env\.onnx"):
        SmartTurnDetector()


def test_a_missing_model_says_where_it_looked_and_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(smart_turn.MODEL_ENV, raising=False)
    monkeypatch.setattr(smart_turn, "model_candidates", lambda: [tmp_path / "a.onnx", tmp_path / "b.onnx"])
    with pytest.raises(FileNotFoundError) as err:
        SmartTurnDetector()
    message = str(err.value)
    assert str(tmp_path / "a.onnx") in message and str(tmp_path / "b.onnx") in message
    assert "scripts/install-smart-turn.sh" in message


def test_a_file_that_is_not_the_model_is_refused_with_its_path(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(RuntimeError, match="bad.onnx"):
        SmartTurnDetector(model_path=bad).prewarm()


def test_detector_options_are_validated() -> None:
    with pytest.raises(ConfigError, match="threshold.*1.5"):
        SmartTurnDetector(threshold=1.5)
    with pytest.raises(ConfigError, match="max_pause"):
        SmartTurnDetector(pause_duration=0.5, max_pause=0.3)
