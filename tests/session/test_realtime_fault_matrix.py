"""The realtime fault matrix through a real fault proxy: every user turn is answered exactly once.

Each cell puts toxiproxy between ``openai.RealtimeModel`` and ``RealtimeTestServer`` (or uses a
fault of the test server itself), breaks the connection at one moment of a spoken turn, and checks
what the user notices: the whole answer heard once (no repeated opening, the tool run once), the
wait for it (or for its continuation) within the target, and the history afterwards. The cells are
shared with ``bench/realtime_faults.py`` (``livekitex_agent.testing.realtime_faults``).
"""

from __future__ import annotations

import pytest

from livekitex_agent.testing.realtime_faults import CELLS, FaultCell, run_cell
from livekitex_agent.testing.toxiproxy import Toxiproxy


@pytest.mark.parametrize("cell", CELLS, ids=lambda c: c.id)
async def test_the_user_hears_the_answer_once_whatever_the_connection_does(
    toxiproxy: Toxiproxy, cell: FaultCell
) -> None:
    outcome = await run_cell(toxiproxy, cell)
    detail = outcome.describe()
    assert outcome.answered, f"the user never heard the whole answer: {detail}"
    assert not outcome.duplicated, f"the user heard (part of) the answer twice: {detail}"
    assert outcome.within_target, f"the user waited too long for the answer: {detail}"
    assert outcome.history_ok, f"the history does not hold the turn once: {detail}"
    if cell.fault in ("cut", "truncate", "stall", "server") and cell.moment != "no_metadata_echo":
        # the fault really hit the model: it reconnected, or the pipeline took over
        assert outcome.connections >= 2 or outcome.engine == "pipeline", detail


def test_the_matrix_covers_every_moment_of_a_turn_and_every_fault() -> None:
    assert len({c.id for c in CELLS}) == len(CELLS)
    moments = {c.moment for c in CELLS}
    assert {"before_response_created", "between_audio_deltas", "during_tool_call", "after_tool_output",
            "during_reconnect", "twice_in_a_row"} <= moments
    assert {c.fault for c in CELLS} == {"none", "cut", "truncate", "stall", "slow", "server"}
