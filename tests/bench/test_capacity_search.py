"""The capacity search of bench/capacity_sbs.py, on made-up runs: which steps it runs, how it judges
a step, and that it ends."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from capacity_search import CapacitySearch, Run  # noqa: E402

BASE = 500.0


def drive(search: CapacitySearch[None], p95_of: Callable[[int, int], tuple[float, int]]) -> list[int]:
    """Run the search to its end; ``p95_of(calls, attempt)`` is (the delay every reply had, dropped)."""
    order: list[int] = []
    attempts: dict[int, int] = {}
    for _ in range(100):
        calls = search.next_calls()
        if calls is None:
            return order
        attempts[calls] = attempts.get(calls, 0) + 1
        delay, dropped = p95_of(calls, attempts[calls])
        order.append(calls)
        search.record(Run(calls, [delay] * 20, dropped, None))
    raise AssertionError(f"the search did not end: {order}")


def test_climbs_the_ladder_then_bisects_to_one_call() -> None:
    search: CapacitySearch[None] = CapacitySearch([1, 4, 8, 16, 24])
    order = drive(search, lambda calls, _: (BASE + (10 if calls <= 11 else 400), 0))
    assert order == [1, 4, 8, 16, 12, 10, 11]
    assert search.largest_pass == 11 and search.failed is not None and search.failed.calls == 12
    assert search.limited_by == "p95"


def test_a_marginal_step_runs_again_and_the_majority_of_its_runs_decides() -> None:
    # the bound is 650 ms: 3 calls fail by 20 ms, then pass, then pass (the first run was spoiled)
    search: CapacitySearch[None] = CapacitySearch([1, 2, 3], margin_ms=150, marginal_ms=40)
    delays = {(3, 1): BASE + 170, (3, 2): BASE + 100, (3, 3): BASE + 120}
    order = drive(search, lambda calls, n: (delays.get((calls, n), BASE), 0))
    assert order == [1, 2, 3, 3, 3]
    assert search.largest_pass == 3 and search.best is not None and search.best.p95_ms == BASE + 110


def test_a_marginal_step_whose_two_runs_agree_is_not_run_a_third_time() -> None:
    search: CapacitySearch[None] = CapacitySearch([1, 2, 3], margin_ms=150, marginal_ms=40)
    delays = {(3, 1): BASE + 170, (3, 2): BASE + 180}
    order = drive(search, lambda calls, n: (delays.get((calls, n), BASE), 0))
    assert order == [1, 2, 3, 3]
    assert search.largest_pass == 2 and search.limited_by == "p95"


def test_audio_dropped_in_one_run_of_three_does_not_fail_the_step() -> None:
    search: CapacitySearch[None] = CapacitySearch([1, 2, 4])
    order = drive(search, lambda calls, n: (BASE, 1 if (calls, n) == (2, 1) else 0))
    assert order == [1, 2, 2, 2, 4]
    assert search.largest_pass == 4 and search.limited_by == "top_step"


def test_audio_dropped_in_two_runs_fails_the_step() -> None:
    search: CapacitySearch[None] = CapacitySearch([1, 2, 4])
    order = drive(search, lambda calls, _: (BASE, 2 if calls == 4 else 0))
    assert order == [1, 2, 4, 4, 3]
    assert search.largest_pass == 3 and search.limited_by == "dropped"


@pytest.mark.parametrize("dropped", [0, 5])
def test_a_clear_failure_is_not_run_again(dropped: int) -> None:
    search: CapacitySearch[None] = CapacitySearch([1, 2, 4])
    order = drive(search, lambda calls, _: (BASE + (900 if calls == 4 else 0), dropped if calls == 4 else 0))
    assert order == [1, 2, 4, 3]
    assert search.largest_pass == 3 and search.limited_by == ("dropped" if dropped else "p95")


def test_the_number_of_runs_is_bounded_and_the_best_pass_stands() -> None:
    search: CapacitySearch[None] = CapacitySearch([1, 4, 8, 16, 32, 64], max_runs=3)
    order = drive(search, lambda calls, _: (BASE, 0))
    assert order == [1, 4, 8]
    assert search.largest_pass == 8 and search.limited_by == "max_runs"


def test_stopped_search_reports_why_and_runs_nothing_more() -> None:
    search: CapacitySearch[None] = CapacitySearch([1, 4, 8])
    search.record(Run(1, [BASE], 0, None))
    search.record(Run(4, [BASE], 0, None))
    search.stop("budget")
    assert search.next_calls() is None
    assert search.largest_pass == 4 and search.limited_by == "budget"


def test_no_call_answered_fails_the_base() -> None:
    search: CapacitySearch[None] = CapacitySearch([1, 4])
    assert search.record(Run(1, [], 3, None)) is None  # dropped: once more
    verdict = search.record(Run(1, [], 3, None))  # twice: the runs agree
    assert verdict is not None and not verdict.passed and verdict.reason == "dropped"
    assert search.next_calls() is None and search.largest_pass == 0


def test_rejects_a_ladder_not_starting_at_one_call_and_a_run_of_another_step() -> None:
    with pytest.raises(ValueError, match=r"\[2, 4\]"):
        CapacitySearch([2, 4])
    search: CapacitySearch[None] = CapacitySearch([1, 4])
    with pytest.raises(ValueError, match="expected a run of 1 call"):
        search.record(Run(4, [BASE], 0, None))
