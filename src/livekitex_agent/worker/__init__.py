"""The worker: LiveKit agent protocol client, job process pool, job context, HTTP health and metrics."""

from __future__ import annotations

from .job import JobContext, JobInfo, JobOutcome, JobProcess, get_job_context
from .manager import WorkerManager
from .metrics import WorkerMetrics, observe_turn_metrics
from .options import JobRequest, WorkerOptions
from .protocol import AcceptArgs, ParticipantPermissions
from .runner import run_in_room, run_worker
from .worker import Worker

__all__ = [
    "AcceptArgs",
    "JobContext",
    "JobInfo",
    "JobOutcome",
    "JobProcess",
    "JobRequest",
    "ParticipantPermissions",
    "Worker",
    "WorkerManager",
    "WorkerMetrics",
    "WorkerOptions",
    "get_job_context",
    "observe_turn_metrics",
    "run_in_room",
    "run_worker",
]
