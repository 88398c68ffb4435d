"""Smart Turn v3.2: an audio end-of-turn model (Whisper-tiny encoder, ONNX, 8.7 MB, BSD-2-Clause).

The model reads the last 8 s of the user's speech as Whisper log-mel features and says whether
the speaker has finished (intonation, a trailing "and…", a half-said number), in any of the ~20
languages it was trained on. It ships in the ``pipecat-ai`` wheel on PyPI;
``scripts/install-smart-turn.sh`` takes the one file out of it without installing that framework.
Inference runs with ``onnxruntime`` on one thread, off the event loop; the model is loaded once
per process and shared by every detector and session.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib.util
import logging
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ...errors import ConfigError
from ...providers.turn import TurnDetector
from ._deps import require
from .mel import HOP, SAMPLE_RATE, log_mel_spectrogram

logger = logging.getLogger("livekitex_agent.plugins.local")

MODEL_FILE = "smart-turn-v3.2-cpu.onnx"
MODEL_ENV = "LIVEKITEX_SMART_TURN_MODEL"  # path of the Smart Turn ONNX model, if not in the known places
INSTALL_COMMAND = "scripts/install-smart-turn.sh"
_WINDOW = 8 * SAMPLE_RATE  # the model reads exactly 8 s: shorter audio is padded with silence in front

_lock = threading.Lock()
_sessions: dict[str, Any] = {}  # model path → onnxruntime.InferenceSession, one per process
_executor: concurrent.futures.ThreadPoolExecutor | None = None


def model_candidates() -> list[Path]:
    """Where the model is looked for when no path is given, in order."""
    places = [Path.cwd() / ".tools" / "models" / MODEL_FILE]
    repo = Path(__file__).resolve().parents[4]  # a source checkout: <repo>/src/livekitex_agent/...
    places.append(repo / ".tools" / "models" / MODEL_FILE)
    places.append(Path.home() / ".cache" / "livekitex-agent" / "models" / MODEL_FILE)
    spec = importlib.util.find_spec("pipecat")  # an installed pipecat-ai (not imported)
    if spec is not None and spec.submodule_search_locations:
        for root in spec.submodule_search_locations:
            places.append(Path(root) / "audio" / "turn" / "smart_turn" / "data" / MODEL_FILE)
    unique: list[Path] = []
    for p in places:
        if p not in unique:
            unique.append(p)
    return unique


def find_model(model_path: str | os.PathLike[str] | None = None) -> Path:
    """The model file: ``model_path``, else ``$LIVEKITEX_SMART_TURN_MODEL``, else the known places."""
    if model_path is not None:
        path = Path(model_path)
        if not path.is_file():
            raise ConfigError(f"SmartTurnDetector model_path {str(model_path)!r} is not a file")
        return path
    env = os.environ.get(MODEL_ENV)
    if env:
        if not Path(env).is_file():
            raise ConfigError(f"{MODEL_ENV}={env!r} is not a file")
        return Path(env)
    candidates = model_candidates()
    for path in candidates:
        if path.is_file():
            return path
    looked = "\n  ".join(str(p) for p in candidates)
    raise FileNotFoundError(
        f"the Smart Turn model ({MODEL_FILE}) was not found; looked in:\n  {looked}\n"
        f"install it with `{INSTALL_COMMAND}` (part of scripts/setup.sh), or give model_path= "
        f"or set {MODEL_ENV}"
    )


def _load(path: Path) -> Any:
    key = str(path.resolve())
    with _lock:
        session = _sessions.get(key)
        if session is None:
            ort = require("onnxruntime", "onnxruntime", "SmartTurnDetector")
            so = ort.SessionOptions()
            so.intra_op_num_threads = 1  # one core per decision; decisions queue on one thread
            so.inter_op_num_threads = 1
            so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            try:
                session = ort.InferenceSession(key, sess_options=so, providers=["CPUExecutionProvider"])
            except Exception as e:  # a corrupt or foreign file: say which
                raise RuntimeError(f"SmartTurnDetector could not load {key}: {e}") from e
            shape = session.get_inputs()[0].shape
            if list(shape[1:]) != [80, _WINDOW // HOP]:
                raise RuntimeError(f"{key} takes input {shape}, not (batch, 80, {_WINDOW // HOP})")
            _sessions[key] = session
            logger.info("loaded the Smart Turn model from %s", key)
        return session


def _shared_executor() -> concurrent.futures.ThreadPoolExecutor:
    global _executor
    with _lock:
        if _executor is None:
            _executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="smart-turn")
        return _executor


def features(audio: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """The model's input for ``audio`` (16 kHz float): its last 8 s, silence in front of shorter
    audio, normalised to zero mean and unit variance, as (1, 80, 800) log-mel features."""
    window = np.zeros(_WINDOW, dtype=np.float32)
    tail = audio[-_WINDOW:]
    window[_WINDOW - tail.size :] = tail
    window -= window.mean()
    window /= np.sqrt(window.var() + 1e-7)
    return log_mel_spectrogram(window)[None, :, :]


class SmartTurnDetector(TurnDetector):
    """End-of-turn detection with the Smart Turn v3.2 audio model (see the module docstring).

    A decision costs ~4 ms of features and ~37 ms of ONNX on one core of this project's CI machine
    when it is quiet (7.1 G int8 operations for the 8 s window; ``bench/turn_taking.py``); it runs
    on its own thread (onnxruntime releases the GIL) and the event loop never waits for it. The
    defaults are the best balance ``bench/turn_taking.py --sweep`` measured.

    ``model_path``: the ONNX file; else ``$LIVEKITEX_SMART_TURN_MODEL``; else ``.tools/models``
    (current directory, then the source checkout), ``~/.cache/livekitex-agent/models`` and an
    installed ``pipecat-ai``.
    ``threshold``: the probability at or above which a pause ends the turn.
    ``pause_duration``: seconds of silence before the model is asked.
    ``max_pause``: seconds of silence after which the turn ends whatever the model says.
    ``transcript_cues``: also hold the turn when the transcript cannot end a sentence ("a table for").
    """

    def __init__(
        self,
        *,
        model_path: str | os.PathLike[str] | None = None,
        threshold: float = 0.5,
        pause_duration: float = 0.2,
        max_pause: float = 2.0,
        transcript_cues: bool = True,
    ) -> None:
        super().__init__(
            threshold=threshold,
            pause_duration=pause_duration,
            max_pause=max_pause,
            transcript_cues=transcript_cues,
        )
        self.model_path = find_model(model_path)
        self._session: Any = None

    def prewarm(self) -> None:
        self._model()

    def _model(self) -> Any:
        if self._session is None:
            self._session = _load(self.model_path)
        return self._session

    def infer(self, audio: npt.NDArray[np.float32]) -> float:
        """The model's probability that the turn is over (blocking: features + inference)."""
        output = self._model().run(None, {"input_features": features(audio)})[0]
        return float(np.asarray(output).reshape(-1)[0])

    async def predict_end_of_turn(
        self, audio: npt.NDArray[np.float32], transcript: str, *, language: str | None = None
    ) -> float:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(_shared_executor(), self.infer, audio)
