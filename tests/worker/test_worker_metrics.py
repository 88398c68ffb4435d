"""``/metrics``: input lag (audio queued) and dropped audio are their own series."""

from __future__ import annotations

from livekitex_agent.metrics import TurnMetrics
from livekitex_agent.worker.metrics import WorkerMetrics


def test_input_lag_and_dropped_audio_are_reported_apart_from_latency() -> None:
    m = WorkerMetrics()
    m.observe_turn(TurnMetrics(speech_id="s1", e2e_latency=0.8, input_lag=2.2, input_dropped=0.5))
    m.observe_turn(TurnMetrics(speech_id="s2", e2e_latency=0.7, input_lag=0.01))
    m.observe_turn(TurnMetrics(speech_id="s3", e2e_latency=0.7))  # an input that does not say: not counted
    text = m.render().decode()
    assert 'livekitex_audio_input_lag_seconds_count{engine="pipeline"} 2.0' in text
    assert 'livekitex_audio_input_lag_seconds_bucket{engine="pipeline",le="0.025"} 1.0' in text
    assert 'livekitex_audio_input_lag_seconds_bucket{engine="pipeline",le="2.0"} 1.0' in text
    assert 'livekitex_audio_input_lag_seconds_bucket{engine="pipeline",le="3.0"} 2.0' in text
    assert "livekitex_audio_input_dropped_seconds_total 0.5" in text
