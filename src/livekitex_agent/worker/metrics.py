"""Prometheus metrics of a worker, and :func:`observe_turn_metrics` for the job side.

Jobs may run in child processes: :func:`observe_turn_metrics` hands the sample to the current
job's sink, which either records it directly (in-process executor) or sends it to the main
process over IPC, where :class:`WorkerMetrics` aggregates everything for ``GET /metrics``.
"""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from ..metrics import TurnMetrics
from .job import current_job_context

logger = logging.getLogger("livekitex_agent.worker.metrics")

CONTENT_TYPE = CONTENT_TYPE_LATEST

TURN_STAGES = (
    ("end_of_utterance_delay", "end_of_utterance"),
    ("transcription_delay", "transcription"),
    ("llm_ttft", "llm_ttft"),
    ("tts_ttfb", "tts_ttfb"),
    ("framework_delay", "framework"),
    ("e2e_latency", "e2e"),
)
_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)


class WorkerMetrics:
    """The metrics of one worker, in their own registry (several workers can live in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.load = Gauge("livekitex_worker_load", "Load reported to the server (0..1)", registry=r)
        self.active_jobs = Gauge("livekitex_worker_active_jobs", "Jobs running on this worker", registry=r)
        self.processes = Gauge("livekitex_worker_processes", "Job processes alive", registry=r)
        self.connected = Gauge("livekitex_worker_connected", "1 while registered with the server", registry=r)
        self.jobs = Counter("livekitex_worker_jobs", "Jobs that ended, by outcome", ["outcome"], registry=r)
        self.offers = Counter(
            "livekitex_worker_job_offers", "Job offers answered, by answer", ["answer"], registry=r
        )
        self.reconnects = Counter(
            "livekitex_worker_reconnects", "Times the server connection was re-established", registry=r
        )
        self.dispatch_latency = Histogram(
            "livekitex_worker_dispatch_latency_seconds",
            "Job offer received → entrypoint running",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.turn_latency = Histogram(
            "livekitex_turn_latency_seconds",
            "Per-turn latency of agent sessions, by stage and engine",
            ["stage", "engine"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.input_lag = Histogram(
            "livekitex_audio_input_lag_seconds",
            "Per turn, the longest user audio waited between arriving and being processed",
            ["engine"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.input_dropped = Counter(
            "livekitex_audio_input_dropped_seconds",
            "User audio dropped by the input because it was not processed in time",
            registry=r,
        )
        self.turns = Counter(
            "livekitex_turns",
            "Agent turns completed, by engine and interruption",
            ["engine", "interrupted"],
            registry=r,
        )
        for outcome in ("success", "failed"):
            self.jobs.labels(outcome=outcome)
        for answer in ("accepted", "declined"):
            self.offers.labels(answer=answer)

    def observe_turn(self, m: TurnMetrics) -> None:
        for attr, stage in TURN_STAGES:
            value = getattr(m, attr)
            if value is not None and value >= 0:
                self.turn_latency.labels(stage=stage, engine=m.engine).observe(value)
        self.turns.labels(engine=m.engine, interrupted=str(m.interrupted).lower()).inc()
        if m.input_lag is not None:
            self.input_lag.labels(engine=m.engine).observe(max(0.0, m.input_lag))
        if m.input_dropped > 0:
            self.input_dropped.inc(m.input_dropped)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def observe_turn_metrics(metrics: TurnMetrics) -> None:
    """Record one turn's latencies in the metrics of the worker running the current job.

    Call it from inside a job (e.g. on the session's ``metrics_collected`` event); outside a job
    it does nothing.
    """
    ctx = current_job_context()
    if ctx is None:
        logger.debug("observe_turn_metrics called outside a job: ignored")
        return
    ctx.observe_turn_metrics(metrics)
