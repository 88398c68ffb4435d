"""The audio filter chain: order, holding back, flushing, ownership."""

from __future__ import annotations

import numpy as np
import pytest

from livekitex_agent.errors import ConfigError
from livekitex_agent.media import AudioFilter, AudioFilterChain, AudioFrame


class Gain:
    def __init__(self, factor: float) -> None:
        self.factor, self.closed = factor, 0

    def process(self, frame: AudioFrame) -> AudioFrame | None:
        return AudioFrame((frame.data * self.factor).astype(np.int16), frame.sample_rate)

    def flush(self) -> AudioFrame | None:
        return None

    def close(self) -> None:
        self.closed += 1


class Batch:
    """Holds frames until it has ``n`` of them (like a filter that needs whole blocks)."""

    def __init__(self, n: int) -> None:
        self.n, self.held, self.closed = n, [], 0

    def process(self, frame: AudioFrame) -> AudioFrame | None:
        self.held.append(frame.data)
        if len(self.held) < self.n:
            return None
        return self.flush()

    def flush(self) -> AudioFrame | None:
        if not self.held:
            return None
        data, self.held = np.concatenate(self.held), []
        return AudioFrame(data, 16000)

    def close(self) -> None:
        raise OSError("native state already gone")


def _frame(value: int, captured_at: float | None = None) -> AudioFrame:
    return AudioFrame(np.full(160, value, dtype=np.int16), 16000, captured_at=captured_at)


def test_filters_run_in_order_and_a_held_frame_goes_no_further() -> None:
    gain, batch = Gain(2), Batch(2)
    chain = AudioFilterChain([batch, gain])
    assert isinstance(gain, AudioFilter)
    assert chain.process(_frame(1)) is None
    out = chain.process(_frame(3, captured_at=12.5))
    assert out is not None and out.data.tolist() == [2] * 160 + [6] * 160
    assert out.captured_at == 12.5  # latency is still measured from when the audio arrived
    chain.process(_frame(5))
    (rest,) = chain.flush()  # what the batch held still goes through the gain after it
    assert rest.data.tolist() == [10] * 160


def test_close_closes_every_filter_once_even_if_one_fails() -> None:
    first, second = Gain(1), Gain(1)
    chain = AudioFilterChain([first, Batch(1), second])
    chain.close()
    chain.close()
    assert (first.closed, second.closed) == (1, 1)


@pytest.mark.parametrize(("bad", "message"), [([object()], "is not an audio filter"), (Gain(1), "must be a list")])
def test_what_is_not_a_filter_is_named(bad: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        AudioFilterChain(bad)  # type: ignore[arg-type]
    assert not AudioFilterChain([])
