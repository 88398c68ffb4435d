"""Every cell of the realtime fault matrix, N times: is each user turn answered exactly once, and how fast?

A trial is one spoken turn on ``openai.RealtimeModel`` → toxiproxy → ``RealtimeTestServer`` (a
pipeline of fakes as the fallback) with one fault at one moment of the turn — the cells of
``tests/session/test_realtime_fault_matrix.py`` (``livekitex_agent.testing.realtime_faults``).

- answered: the user heard the whole answer; duplicated: part of it (or the tool) came twice;
  lost: the whole answer never came within the time allowed.
- recover: the user's longest wait — end of their turn → first audio of the answer, or a silence
  in the middle of the answer (a cut, then its continuation). Targets: p95 ≤ 1.5 s after cuts,
  ≤ grace + 0.5 s after stalls.

Usage: ``python bench/realtime_faults.py [--trials 20] [--concurrency 4] [--cells cut-,stall-]``
(trials of different cells run ``--concurrency`` at a time, each with its own server and proxy).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections import defaultdict

from livekitex_agent.metrics import percentile
from livekitex_agent.testing.realtime_faults import CELLS, FaultCell, TrialOutcome, run_cell
from livekitex_agent.testing.toxiproxy import Toxiproxy


def _p(values: list[float], q: float) -> str:
    return f"{percentile(values, q) * 1000:.0f}" if values else "nan"


async def main(trials: int, concurrency: int, only: list[str]) -> None:
    logging.disable(logging.CRITICAL)
    cells = [c for c in CELLS if not only or any(o in c.id for o in only)]
    if not cells:
        raise SystemExit(f"no cell matches {only!r}; cells: {', '.join(c.id for c in CELLS)}")
    results: dict[str, list[TrialOutcome]] = defaultdict(list)
    gate = asyncio.Semaphore(concurrency)
    async with await Toxiproxy.start() as toxiproxy:

        async def one(cell: FaultCell) -> None:
            async with gate:
                results[cell.id].append(await run_cell(toxiproxy, cell))

        async with asyncio.TaskGroup() as tg:
            for _ in range(trials):  # round-robin, so that load spreads over every cell
                for cell in cells:
                    tg.create_task(one(cell))

    every = [o for c in cells for o in results[c.id]]
    print(f"# {'cell':40} answered dup lost  recover p50/p95 ms (target)")
    for cell in cells:
        outs = results[cell.id]
        rec = [o.recover_s for o in outs if o.answered and o.recover_s is not None]
        print(
            f"# {cell.id:40} {sum(o.answered for o in outs):3}/{len(outs):<3} {sum(o.duplicated for o in outs):3} "
            f"{sum(not o.answered for o in outs):4}  {_p(rec, 50):>6}/{_p(rec, 95):<6} ({cell.target_s * 1000:.0f})"
        )
        for o in outs:
            if not o.ok:
                print(f"#    {o.describe()}")
                break  # one example per cell
    answered = [o for o in every if o.answered]
    recover = [o.recover_s for o in answered if o.recover_s is not None]
    stall_ids = {c.id for c in cells if c.stalls}
    cut_rec = [o.recover_s for o in answered if o.recover_s is not None and o.cell not in stall_ids]
    stall_rec = [o.recover_s for o in answered if o.recover_s is not None and o.cell in stall_ids]
    print(
        f"RESULT realtime_faults cells={len(cells)} trials={len(every)} "
        f"answered_pct={100 * len(answered) / len(every):.1f} duplicated={sum(o.duplicated for o in every)} "
        f"lost={len(every) - len(answered)} recover_p50_ms={_p(recover, 50)} recover_p95_ms={_p(recover, 95)} "
        f"recover_cut_p95_ms={_p(cut_rec, 95)} recover_stall_p95_ms={_p(stall_rec, 95)} "
        f"over_target={sum(not o.within_target for o in answered)} history_wrong={sum(not o.history_ok for o in every)}"
    )

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=20, help="trials per cell (default 20)")
    parser.add_argument("--concurrency", type=int, default=4, help="trials running at once (default 4)")
    parser.add_argument("--cells", default="", help="comma-separated substrings of the cell ids to run")
    args = parser.parse_args()
    if args.trials < 1 or args.concurrency < 1:
        parser.error(f"--trials and --concurrency must be >= 1, got {args.trials} and {args.concurrency}")
    asyncio.run(main(args.trials, args.concurrency, [c for c in args.cells.split(",") if c]))
