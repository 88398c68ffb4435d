"""How ``AgentSession.start(room=...)`` finds the I/O for a LiveKit room without importing ``rooms``.

``livekitex_agent.rooms.livekit`` registers its factory here when imported (the worker imports it),
which keeps the session layer free of any dependency on LiveKit room code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..media.io import SessionIO
from ..providers.tts import TTS
from ..providers.vad import VAD

RoomIOFactory = Callable[..., SessionIO]

_factory: RoomIOFactory | None = None


def register_room_io_factory(factory: RoomIOFactory) -> None:
    """Install the factory that turns ``(room, **options)`` into a :class:`SessionIO`."""
    global _factory
    _factory = factory


def make_room_io(room: Any, **options: Any) -> SessionIO:
    own = getattr(room, "session_io", None)
    if isinstance(own, SessionIO):  # a stand-in room that brings its own I/O (console mode)
        return own
    if _factory is None:
        raise RuntimeError(
            "no LiveKit room I/O is registered: import livekitex_agent.rooms.livekit "
            "(the worker does this for you) or pass io=... to AgentSession.start"
        )
    return _factory(room, **options)


def native_rates(vad: VAD | None, tts: TTS | None, *, realtime: bool) -> dict[str, int]:
    """The room I/O rates that let the SDK do the only resampling, natively: the input at the VAD's
    rate (recognition and STT take it as is) and the output at the TTS's, if WebRTC takes it (10 ms
    frames: a multiple of 100 Hz). A realtime model keeps the room I/O's defaults (its own rate)."""
    if realtime:
        return {}
    rates: dict[str, int] = {}
    if vad is not None:
        rates["input_sample_rate"] = vad.sample_rate
    if tts is not None and tts.sample_rate % 100 == 0:
        rates["output_sample_rate"] = tts.sample_rate
    return rates
