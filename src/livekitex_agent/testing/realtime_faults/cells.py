"""The cells of the realtime fault matrix: a fault (what breaks) × a moment of the turn (when).

Network faults go through toxiproxy: ``cut`` resets the TCP connection, ``truncate`` lets a few
bytes through then closes it (``limit_data``), ``stall`` stops the server's bytes for good
(``timeout`` 0), ``slow`` delays them (``latency``). Cuts and truncations are removed once they
fired, so the model can reconnect; stalls and slowness stay for the rest of the trial.

Each moment is waited for on an event, never a sleep: the user's speech delivered
(``before_response_created``: the cut fires at the server's end-of-turn events), the first agent
audio frame (``between_audio_deltas``: the server is still streaming the answer), the tool running
(``during_tool_call``), the tool returning (``after_tool_output``: the fault fires at the server's
first bytes after the tool output), the reconnection after a cut (``during_reconnect``), the answer
resumed after a cut (``twice_in_a_row``).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Literal

from ..realtime_server import ConnectionRecord
from ..toxiproxy import Stream
from .trial import ANSWER_TIMEOUT, GRACE, MAX_MESSAGE_BYTES, Trial

Fault = Literal["none", "cut", "truncate", "stall", "slow", "server"]
Inject = Callable[[Trial], Coroutine[Any, Any, None]]

CUT_TARGET = 1.5  # seconds the user may wait for the answer (or its continuation) after a cut
STALL_TARGET = GRACE + 0.5
SLOW_LATENCY_MS = 250


@dataclass(frozen=True)
class FaultCell:
    """One cell: ``inject`` waits for the moment, then breaks the connection or the server."""

    fault: Fault
    moment: str
    inject: Inject
    tool: bool = False  # the question needs the get_weather tool
    stalls: bool = False  # the model goes quiet (its target allows the reconnect grace) rather than being cut

    @property
    def id(self) -> str:
        return f"{self.fault}-{self.moment}"

    @property
    def target_s(self) -> float:
        """The longest the user may wait for the answer (or its continuation)."""
        return STALL_TARGET if self.stalls else CUT_TARGET


# -- faults ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NetworkFault:
    """A toxic, and whether it ends the connection (then it is removed once the server saw the close)."""

    kind: Fault
    one_shot: bool
    stalls: bool = False

    async def arm(self, trial: Trial, stream: Stream, name: str | None = None) -> str:
        """Add the toxic; returns its name."""
        proxy = trial.proxy
        if self.kind == "cut":
            return (await proxy.reset_peer(0, stream=stream, name=name)).name
        if self.kind == "truncate":
            return (await proxy.limit_data(64, stream=stream, name=name)).name
        if self.kind == "stall":
            return (await proxy.timeout(0, stream=stream, name=name)).name
        return (await proxy.latency(SLOW_LATENCY_MS, stream=stream, name=name)).name

    async def settle(self, trial: Trial, record: ConnectionRecord, name: str) -> None:
        """After :meth:`arm`: a one-shot toxic is removed once ``record``'s connection closed."""
        if self.one_shot:
            await trial.connection_closed(record)
            await trial.proxy.remove_toxic(name)

    async def apply(self, trial: Trial, stream: Stream = "downstream") -> None:
        record = trial.current_connection()
        await self.settle(trial, record, await self.arm(trial, stream))


CUT = NetworkFault("cut", one_shot=True)
TRUNCATE = NetworkFault("truncate", one_shot=True)
STALL = NetworkFault("stall", one_shot=False, stalls=True)
SLOW = NetworkFault("slow", one_shot=False)


# -- moments --------------------------------------------------------------------------------------
def before_response_created(fault: NetworkFault) -> Inject:
    """``fault`` armed as the user stops speaking: it hits the server's end-of-turn events."""

    async def inject(trial: Trial) -> None:
        await trial.user_done.wait()  # the server ends the turn ~200 ms later: the fault fires then
        await fault.apply(trial)

    return inject


def between_audio_deltas(fault: NetworkFault) -> Inject:
    """``fault`` once the user heard a few words of the answer, while the server still streams it."""

    async def inject(trial: Trial) -> None:
        await trial.answer_heard()  # the user heard a few words; the server is still streaming the rest
        await fault.apply(trial)

    return inject


def during_tool_call(fault: NetworkFault) -> Inject:
    """``fault`` while the tool runs (the tool is held until the fault is in place)."""

    async def inject(trial: Trial) -> None:
        trial.agent.release.clear()  # hold the tool until the fault is in place
        try:
            await trial.agent.called.wait()
            # the server sends nothing while the tool runs; the client's audio still flows up
            await fault.apply(trial, "upstream" if fault.one_shot else "downstream")
        finally:
            trial.agent.release.set()

    return inject


def after_tool_output(fault: NetworkFault) -> Inject:
    """``fault`` armed as the tool returns: it hits the server's first bytes after the tool output."""

    async def inject(trial: Trial) -> None:
        armed: list[tuple[ConnectionRecord, str]] = []

        async def arm() -> None:  # as the tool returns: the fault fires at the server's next bytes
            record = trial.current_connection()
            armed.append((record, await fault.arm(trial, "downstream")))

        trial.agent.before_return.append(arm)
        await trial.server.wait_until(lambda: bool(armed), timeout=ANSWER_TIMEOUT, what="the tool to return")
        await fault.settle(trial, *armed[0])

    return inject


def during_reconnect(fault: NetworkFault) -> Inject:
    """A cut mid-answer, then ``fault`` hits the reconnection as its handshake comes back."""

    async def inject(trial: Trial) -> None:
        await trial.answer_heard()
        first = trial.current_connection()
        cut = await CUT.arm(trial, "downstream")
        await trial.connection_closed(first)
        # armed before the cut is lifted: the next connection meets it as its handshake comes back
        name = await fault.arm(trial, "downstream", name=f"{fault.kind}_reconnect")
        await trial.proxy.remove_toxic(cut)
        if fault.one_shot:
            await fault.settle(trial, await trial.next_connection(first), name)

    return inject


def twice_in_a_row(fault: NetworkFault) -> Inject:
    """Mid-answer, then mid-answer again once a new connection streams the rest of it."""

    async def inject(trial: Trial) -> None:
        await trial.answer_heard()
        first = trial.current_connection()
        await fault.apply(trial)

        def resumed() -> bool:
            return any(c.index > first.index and "response.output_audio.delta" in c.server_types()
                       for c in trial.server.connections)

        await trial.server.wait_until(resumed, timeout=ANSWER_TIMEOUT, what="the answer to resume")
        await fault.apply(trial)

    return inject


async def baseline(trial: Trial) -> None:
    """No fault: the turn as it goes when nothing breaks."""
    await trial.user_done.wait()


# -- server-side faults (RealtimeTestServer's own fault options) --------------------------------------
async def fatal_on_session_update(trial: Trial) -> None:
    """Mid-answer the connection is cut, and the reconnection's ``session.update`` gets a fatal error."""
    await trial.answer_heard()
    trial.server.fail_on("session.update", "insufficient_quota", "You exceeded your current quota")
    await CUT.apply(trial)


async def fatal_on_response_create(trial: Trial) -> None:
    """The request for the answer after the tool's output gets a fatal error."""
    trial.server.fail_on("response.create", "insufficient_quota", "You exceeded your current quota")


async def oversized_message(trial: Trial) -> None:
    """Mid-answer the server sends one message over the client's limit (the client closes with 1009)."""
    trial.server.fail_next_response(after_audio_deltas=3, action="oversize", oversize_bytes=2 * MAX_MESSAGE_BYTES)


async def never_answers(trial: Trial) -> None:
    """The server takes the user's turn and never starts a response (a stalled model)."""
    trial.server.never_answer = True


async def no_metadata_echo(trial: Trial) -> None:
    """The server does not echo the ``metadata`` of the client's ``response.create`` (tool answers)."""
    trial.server.echo_metadata = False


def _cells() -> list[FaultCell]:
    cells = [FaultCell("none", "baseline", baseline)]
    plan: list[tuple[str, Callable[[NetworkFault], Inject], bool, tuple[NetworkFault, ...]]] = [
        ("before_response_created", before_response_created, False, (CUT, TRUNCATE, STALL, SLOW)),
        ("between_audio_deltas", between_audio_deltas, False, (CUT, TRUNCATE, STALL, SLOW)),
        ("during_tool_call", during_tool_call, True, (CUT, TRUNCATE, STALL)),
        ("after_tool_output", after_tool_output, True, (CUT, STALL, SLOW)),
        ("during_reconnect", during_reconnect, False, (CUT, STALL)),
        ("twice_in_a_row", twice_in_a_row, False, (CUT,)),
    ]
    for moment, make, tool, faults in plan:
        for fault in faults:
            cells.append(FaultCell(fault.kind, moment, make(fault), tool=tool, stalls=fault.stalls))
    cells += [
        FaultCell("server", "fatal_on_session_update", fatal_on_session_update),
        FaultCell("server", "fatal_on_response_create", fatal_on_response_create, tool=True),
        FaultCell("server", "oversized_message", oversized_message),
        FaultCell("server", "never_answers", never_answers, stalls=True),
        FaultCell("server", "no_metadata_echo", no_metadata_echo, tool=True),
    ]
    return cells


CELLS: list[FaultCell] = _cells()  # every cell, in the order the tests and the benchmark run them
