"""The search for one framework's capacity in ``bench/capacity_sbs.py``: which step to run next, and
whether a step passed. Pure code (no I/O), so that it is tested on its own.

A step is ``calls`` concurrent calls on a fresh worker. The first step is one call: its reply-delay
p95 is the framework's own base. A later step passes if its reply p95 is within ``margin_ms`` of
that base and no audio was dropped. Steps climb ``ladder`` until one fails; then the search bisects
between the largest passing and the smallest failing step down to one call. A step whose first run
is marginal (p95 within ``marginal_ms`` of the bound, or audio dropped with p95 not clearly over the
bound) runs again, and a third time
if the two runs disagree: the majority decides (one run spoiled by other work on a shared machine
does not), and the step's p95 is the median of the deciding runs'. The number of runs is bounded.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from livekitex_agent.metrics import percentile

T = TypeVar("T")


def p95(values: list[float]) -> float:
    """The 95th percentile (interpolated) of ``values``; NaN if empty."""
    return percentile(values, 95) if values else float("nan")


@dataclass(frozen=True)
class Run(Generic[T]):
    """What one run of a step measured: every reply's delay and the audio dropped (clips never
    answered, replies heard short, calls never taken), with the caller's own record of the run."""

    calls: int
    delays_ms: list[float]
    dropped: int
    record: T


@dataclass
class Verdict(Generic[T]):
    """The verdict on a step, from all its runs."""

    calls: int
    passed: bool
    reason: str  # "" when passed, else "p95" or "dropped"
    p95_ms: float
    bound_ms: float
    runs: list[Run[T]]

    def describe(self) -> str:
        again = f" over {len(self.runs)} runs" if len(self.runs) > 1 else ""
        outcome = "pass" if self.passed else f"FAIL ({self.reason})"
        return f"{outcome}{again}: p95 {self.p95_ms:.0f} ms vs bound {self.bound_ms:.0f} ms"


@dataclass
class CapacitySearch(Generic[T]):
    """One framework's search; ask :meth:`next_calls`, run that step, give the run to :meth:`record`."""

    ladder: list[int]
    margin_ms: float = 150.0
    marginal_ms: float = 40.0
    max_runs: int = 12
    base_ms: float | None = None
    best: Verdict[T] | None = None  # the largest passing step
    failed: Verdict[T] | None = None  # the smallest failing step
    runs: int = 0
    stopped: str = ""  # why the search ended early ("budget", "max_runs")
    _pending: list[Run[T]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.ladder or self.ladder[0] != 1 or self.ladder != sorted(set(self.ladder)):
            raise ValueError(f"the ladder must ascend from 1 call, got {self.ladder!r}")

    @property
    def largest_pass(self) -> int:
        return self.best.calls if self.best else 0

    @property
    def limited_by(self) -> str:
        """What ended the search: "p95" or "dropped" (the smallest failing step's reason), else why."""
        if self.failed is not None and self.failed.calls == self.largest_pass + 1:
            return self.failed.reason
        return self.stopped or ("top_step" if self.failed is None else self.failed.reason)

    def stop(self, why: str) -> None:
        """End the search now (e.g. out of time); the largest passing step stands."""
        self.stopped = self.stopped or why
        self._pending.clear()

    def next_calls(self) -> int | None:
        """The calls of the next step to run, or None when the search is over."""
        if self.stopped:
            return None
        if self.runs >= self.max_runs:
            self.stop("max_runs")
            return None
        if self._pending:
            return self._pending[0].calls
        if self.base_ms is None:
            return 1 if self.failed is None else None
        lo = self.largest_pass
        if self.failed is None:
            return next((c for c in self.ladder if c > lo), None)
        hi = self.failed.calls
        return (lo + hi) // 2 if hi - lo > 1 else None

    def record(self, run: Run[T]) -> Verdict[T] | None:
        """Judge the step ``run`` belongs to; None if it must run again (its verdict is not clear yet)."""
        expected = self.next_calls()
        if run.calls != expected:
            raise ValueError(f"expected a run of {expected} call(s), got {run.calls}")
        self.runs += 1
        self._pending.append(run)
        runs = list(self._pending)
        base = self.base_ms
        bounds = [(p95(r.delays_ms) if base is None else base) + self.margin_ms for r in runs]
        failures = [self._failure(r, bound) for r, bound in zip(runs, bounds, strict=True)]
        clear = len(runs) == 1 and not self._marginal(run, bounds[0])
        agreed = len(runs) == 2 and bool(failures[0]) == bool(failures[1])
        if not (clear or agreed or len(runs) >= 3 or self.runs >= self.max_runs):
            return None
        self._pending.clear()
        passing = [r for r, f in zip(runs, failures, strict=True) if not f]
        passed = 2 * len(passing) > len(runs)
        reason = "" if passed else max(("dropped", "p95"), key=failures.count)
        judged = passing if passed else [r for r, f in zip(runs, failures, strict=True) if f]
        p = statistics.median(p95(r.delays_ms) for r in judged)
        if base is None and passed:
            self.base_ms = p
        verdict = Verdict(run.calls, passed, reason, p, (p if base is None else base) + self.margin_ms, runs)
        if verdict.passed:
            if self.best is None or verdict.calls > self.best.calls:
                self.best = verdict
        elif self.failed is None or verdict.calls < self.failed.calls:
            self.failed = verdict
        return verdict

    @staticmethod
    def _failure(run: Run[T], bound: float) -> str:
        p = p95(run.delays_ms)
        return "dropped" if run.dropped or p != p else "p95" if p > bound else ""

    def _marginal(self, run: Run[T], bound: float) -> bool:
        """Worth another run: p95 close to the bound, or audio dropped while p95 is not clearly
        over it (noise may drop a frame; a step far over the bound has failed anyway)."""
        if self.base_ms is None:
            return bool(run.dropped)
        p = p95(run.delays_ms)
        return abs(p - bound) <= self.marginal_ms or (bool(run.dropped) and not p > bound + self.marginal_ms)
