"""Audio input filters: a chain of frame transforms the session runs on the user's audio before
the VAD (noise suppression, gain, echo cancelling ...).

A filter takes frames and returns frames — at the input's rate or at a rate it declares — and may
hold audio back (return None) until it has enough; :meth:`AudioFilter.flush` returns what it still
holds when the input ends. The session owns the filters it is given: it closes them when it closes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from ..errors import ConfigError
from .frame import AudioFrame

logger = logging.getLogger("livekitex_agent.media")


@runtime_checkable
class AudioFilter(Protocol):
    """One stage of an input filter chain."""

    def process(self, frame: AudioFrame) -> AudioFrame | None:
        """The filtered audio for ``frame`` (may be shorter, longer or None while it buffers)."""
        ...

    def flush(self) -> AudioFrame | None:
        """What the filter still holds, at the end of the input."""
        ...

    def close(self) -> None:
        """Free the filter's resources (native state, models). Called once, by the owner."""
        ...


class AudioFilterChain:
    """Filters applied in order; a frame a filter holds back goes no further until it lets it out.

    A filtered frame keeps the input frame's ``captured_at``, so latency is still measured from
    when the audio arrived.
    """

    def __init__(self, filters: Sequence[AudioFilter]) -> None:
        if isinstance(filters, (str, bytes)) or not isinstance(filters, Sequence):
            raise ConfigError(f"audio_filters must be a list of audio filters, got {filters!r}")
        for f in filters:
            if not isinstance(f, AudioFilter):
                raise ConfigError(
                    f"audio_filters: {f!r} is not an audio filter (it needs process(frame), flush() and close())"
                )
        self._filters = tuple(filters)
        self._closed = False

    def __bool__(self) -> bool:
        return bool(self._filters)

    def process(self, frame: AudioFrame) -> AudioFrame | None:
        out = frame
        for f in self._filters:
            filtered = f.process(out)
            if filtered is None:
                return None
            out = filtered
        if out is not frame and out.captured_at is None:
            out.captured_at = frame.captured_at
        return out

    def flush(self) -> list[AudioFrame]:
        """Everything the filters still hold, passed through the filters after them."""
        out: list[AudioFrame] = []
        for i, f in enumerate(self._filters):
            held = f.flush()
            if held is None:
                continue
            for g in self._filters[i + 1 :]:
                held = g.process(held)
                if held is None:
                    break
            if held is not None:
                out.append(held)
        return out

    def wrap(self, push: Callable[[AudioFrame], None]) -> Callable[[AudioFrame], None]:
        """``push`` preceded by the chain (frames held back are not pushed)."""
        process = self.process

        def filtered(frame: AudioFrame) -> None:
            out = process(frame)
            if out is not None:
                push(out)

        return filtered

    def close(self) -> None:
        """Close every filter (once); a filter that fails to close is logged, the others still close."""
        if self._closed:
            return
        self._closed = True
        for f in self._filters:
            try:
                f.close()
            except Exception:
                logger.exception("closing audio filter %r failed", f)
