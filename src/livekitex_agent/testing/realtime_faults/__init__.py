"""The realtime fault matrix: one spoken turn, broken at each of its moments, judged as the user hears it.

A cell is a fault (``cut``, ``truncate``, ``stall``, ``slow`` through toxiproxy, or a server-side
fault of ``RealtimeTestServer``) at one moment of the turn. :func:`run_cell` plays one trial of a
cell and returns a :class:`TrialOutcome`: was the turn answered exactly once, how long the user
waited for the answer (or its continuation), and what the history holds afterwards. The tests
(``tests/session/test_realtime_fault_matrix.py``) and ``bench/realtime_faults.py`` share these cells.
"""

from __future__ import annotations

from ..toxiproxy import Toxiproxy
from .cells import CELLS, FaultCell
from .trial import TrialOutcome, run_trial


async def run_cell(toxiproxy: Toxiproxy, cell: FaultCell) -> TrialOutcome:
    """One trial of ``cell`` (a fresh test server, proxy and session)."""
    return await run_trial(toxiproxy, cell.id, tool=cell.tool, target_s=cell.target_s, inject=cell.inject)


__all__ = ["CELLS", "FaultCell", "TrialOutcome", "run_cell"]
