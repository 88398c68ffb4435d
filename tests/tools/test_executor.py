from __future__ import annotations

import asyncio

from livekitex_agent.chat import FunctionCall
from livekitex_agent.errors import ToolError
from livekitex_agent.testing import virtual_time
from livekitex_agent.tools import ToolExecutor, ToolRegistry, function_tool

log: list[str] = []


@function_tool
async def slow(seconds: float) -> str:
    """Sleep."""
    await asyncio.sleep(seconds)
    log.append(f"slow {seconds}")
    return f"slept {seconds}"


@function_tool(timeout=1.0)
async def hangs() -> str:
    """Never returns in time."""
    await asyncio.sleep(100)
    return "late"


@function_tool
async def refuses(city: str) -> str:
    """Raises a ToolError."""
    raise ToolError(f"No weather data for {city}.")


@function_tool
async def crashes() -> str:
    """Raises a bug."""
    raise KeyError("secret internal detail")


@function_tool(cancellable=False)
async def must_finish() -> str:
    """Cannot be cancelled."""
    await asyncio.sleep(2)
    return "finished"


def executor() -> ToolExecutor:
    reg = ToolRegistry([slow, hangs, refuses, crashes, must_finish])
    return ToolExecutor(reg, make_context=lambda call: None)


@virtual_time
async def test_calls_run_concurrently_and_every_outcome_is_readable() -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    calls = [
        FunctionCall("slow", '{"seconds": 3}'),
        FunctionCall("slow", '{"seconds": 2}'),
        FunctionCall("hangs", "{}"),
        FunctionCall("refuses", '{"city": "Atlantis"}'),
        FunctionCall("crashes", "{}"),
        FunctionCall("missing", "{}"),
        FunctionCall("slow", '{"seconds": "soon"}'),
    ]
    results = await executor().execute(calls)
    assert loop.time() - start == 3.0  # concurrent: the longest call, not the sum
    out = [r.output for r in results]
    assert all(o is not None for o in out)
    assert [o.call_id for o in out] == [c.call_id for c in calls]  # type: ignore[union-attr]
    assert out[0].output == "slept 3.0" and not out[0].is_error  # type: ignore[union-attr]
    assert out[2].is_error and "timed out after 1 seconds" in out[2].output  # type: ignore[union-attr]
    assert out[3].is_error and out[3].output == "No weather data for Atlantis."  # type: ignore[union-attr]
    assert out[4].is_error and "internal error" in out[4].output  # type: ignore[union-attr]
    assert "secret internal detail" not in out[4].output  # type: ignore[union-attr]
    assert out[5].is_error and "Unknown function 'missing'" in out[5].output  # type: ignore[union-attr]
    assert out[6].is_error and "seconds" in out[6].output and "soon" in out[6].output  # type: ignore[union-attr]


@virtual_time
async def test_interrupt_cancels_only_cancellable_tools() -> None:
    ex = executor()
    calls = [FunctionCall("slow", '{"seconds": 5}'), FunctionCall("must_finish", "{}")]
    task = asyncio.ensure_future(ex.execute(calls))
    await asyncio.sleep(1)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    results = await ex.drain(calls)
    assert results[0].cancelled
    assert results[1].output is not None and results[1].output.output == "finished"
    assert ex.running == 0


@function_tool(timeout=5.0)
async def calls_a_slow_service() -> str:
    """Its own HTTP client gives up after 1 s."""
    async with asyncio.timeout(1.0):
        await asyncio.sleep(10)
    return "never"


@function_tool(timeout=None)
async def unbounded_but_times_out_inside() -> str:
    """No framework deadline; an inner one fires."""
    raise TimeoutError("upstream took too long")


@function_tool(timeout=None)
async def unbounded() -> str:
    """No deadline at all."""
    await asyncio.sleep(100)
    return "done after 100 s"


@virtual_time
async def test_a_tools_own_timeout_is_its_error_not_our_deadline() -> None:
    reg = ToolRegistry([calls_a_slow_service, unbounded_but_times_out_inside, unbounded])
    results = await ToolExecutor(reg, make_context=lambda call: None).execute(
        [
            FunctionCall("calls_a_slow_service", "{}"),
            FunctionCall("unbounded_but_times_out_inside", "{}"),
            FunctionCall("unbounded", "{}"),
        ]
    )
    out = [r.output for r in results]
    assert all(o is not None for o in out), "no call may look cancelled (as if the user interrupted)"
    for o in out[:2]:
        assert o.is_error and "internal error" in o.output and "timed out" not in o.output  # type: ignore[union-attr]
    assert isinstance(results[0].exception, TimeoutError)
    assert out[2].output == "done after 100 s" and not out[2].is_error  # type: ignore[union-attr]
