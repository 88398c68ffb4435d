"""One trial of a fault cell: a session on ``openai.RealtimeModel`` → toxiproxy → ``RealtimeTestServer``
(with a pipeline of fakes to fall back to), one spoken user turn, and what the user noticed."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...events import AgentState
from ...media.frame import AudioFrame
from ...plugins.openai.realtime import RealtimeModel
from ...providers.base import RetryPolicy
from ...providers.realtime import TurnDetection
from ...rooms.memory import MemoryAudioOutput, MemoryIO
from ...session import AgentSession, RealtimeStallTimeouts
from ..fakes import FakeLLM, FakeSTT, FakeTTS, FakeVAD
from ..realtime_server import ConnectionRecord, RealtimeTestServer
from ..toxiproxy import Proxy, Toxiproxy
from .conversation import (
    QUESTION,
    REPLY,
    SECONDS_PER_CHAR,
    WeatherAgent,
    judge,
    pipeline_reply,
    server_script,
)

GRACE = 1.0  # realtime_reconnect_grace of the sessions under test (seconds)
UTTERANCE = 0.5  # seconds the user speaks
DELTA_DELAY = 0.04  # the test server streams a response a bit faster than it is played
ANSWER_TIMEOUT = 5.0  # from the end of the user's turn; past it the turn counts as lost
HEARD = 0.2  # seconds of the answer heard when a mid-answer fault strikes (a few words)
MAX_MESSAGE_BYTES = 1 << 20  # the client's message limit in the matrix (the oversized-message cell)
SETTLE = 0.3  # seconds watched after the answer, for a second (duplicate) answer
# a stalled model is noticed within half a second (above the 250 ms of the ``slow`` cells)
STALL = RealtimeStallTimeouts(response_created=0.5, first_output=0.5, output_gap=0.5)
FAST_RETRY = RetryPolicy(max_retries=4, base_delay=0.05, max_delay=0.2, timeout=None)

_names = itertools.count(1)


class WatchedAudioOutput(MemoryAudioOutput):
    """A memory speaker that wakes waiters on every frame it plays."""

    def __init__(self) -> None:
        super().__init__()
        self._played = asyncio.Event()

    async def _write_frame(self, frame: AudioFrame) -> None:
        await super()._write_frame(frame)
        self._played.set()
        self._played = asyncio.Event()

    async def frame_after(self, t: float) -> float:
        """The play time of the first frame played at or after loop time ``t`` (waits for it)."""
        while True:
            later = [start for start, _ in self.played if start >= t]
            if later:
                return later[0]
            await self._played.wait()


def utterance(seconds: float, rate: int = 16000) -> AudioFrame:
    """A loud 300 Hz tone standing in for the user's question (every VAD hears it as speech)."""
    t = np.arange(round(seconds * rate)) / rate
    return AudioFrame.from_float(0.3 * np.sin(2 * np.pi * 300.0 * t), rate)


@dataclass
class TrialOutcome:
    """What the user noticed in one trial of one cell."""

    cell: str
    answered: bool  # the whole answer was heard within the time allowed
    duplicated: bool  # part of the answer (or the tool) came twice
    history_ok: bool  # the history holds the turn once, interrupted where cut
    recover_s: float | None  # longest wait for the answer: end of turn → first audio, or a gap mid-answer
    target_s: float
    engine: str  # the engine that ran the session at the end
    connections: int  # websocket connections the test server accepted (1 = never reconnected)
    problems: list[str] = field(default_factory=list)

    @property
    def within_target(self) -> bool:
        return self.recover_s is not None and self.recover_s <= self.target_s

    @property
    def ok(self) -> bool:
        return self.answered and not self.duplicated and self.history_ok and self.within_target

    def describe(self) -> str:
        recover = "none" if self.recover_s is None else f"{self.recover_s * 1000:.0f}ms"
        return (f"{self.cell}: answered={self.answered} duplicated={self.duplicated} history_ok={self.history_ok} "
                f"recover={recover} (target {self.target_s * 1000:.0f}ms) engine={self.engine} "
                f"connections={self.connections}; "
                + "; ".join(self.problems))


class Trial:
    """The session, the servers and the moments of its turn that a fault waits for."""

    def __init__(self, server: RealtimeTestServer, proxy: Proxy, *, tool: bool) -> None:
        self.server = server
        self.proxy = proxy
        self.tool = tool
        self.agent = WeatherAgent()
        self.io = MemoryIO(record_input=True)
        self.output = WatchedAudioOutput()
        self.io.audio_output = self.output
        model = RealtimeModel(
            api_key=server.api_key, base_url=f"http://{proxy.listen}/v1", retry_policy=FAST_RETRY, heartbeat=None,
            connect_timeout=1.0, reply_timeout=1.0, turn_detection=TurnDetection(silence_duration_ms=200),
            max_message_bytes=MAX_MESSAGE_BYTES,
        )
        self.session = AgentSession(
            realtime=model, realtime_reconnect_grace=GRACE, realtime_connect_timeout=3.0, realtime_stall_timeouts=STALL,
            vad=FakeVAD(), stt=FakeSTT(default=QUESTION), llm=FakeLLM(default=pipeline_reply(tool=tool)),
            tts=FakeTTS(seconds_per_char=SECONDS_PER_CHAR, frame_duration=0.02),
        )
        self.user_done = asyncio.Event()
        self.turn_end: float | None = None
        self._changed = asyncio.Event()
        for name in ("conversation_item_added", "agent_state_changed", "engine_changed"):
            self.session.on(name, self._wake)

    @classmethod
    async def open(cls, toxiproxy: Toxiproxy, *, tool: bool) -> Trial:
        server = RealtimeTestServer(audio_ms_per_char=round(SECONDS_PER_CHAR * 1000), default_transcript=QUESTION,
                                    script=server_script(tool=tool))
        server.delta_delay = DELTA_DELAY
        await server.start()
        try:
            proxy = await toxiproxy.create_proxy(f"realtime-{next(_names)}", upstream=f"127.0.0.1:{server.port}")
        except BaseException:
            await server.aclose()
            raise
        trial = cls(server, proxy, tool=tool)
        try:
            await trial.session.start(trial.agent, io=trial.io)
        except BaseException:
            await trial.aclose()
            raise
        return trial

    def _wake(self, _event: object) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    # -- the user's turn --------------------------------------------------------------------------
    async def speak(self) -> float:
        """The user asks the question; returns the loop time their speech ended."""
        self.io.push_audio(utterance(UTTERANCE))
        await self.io.audio_input.wait_until_played()
        last_time, last = self.io.audio_input.recorded[-1]
        self.turn_end = last_time + last.duration
        self.user_done.set()
        return self.turn_end

    def _heard_enough(self) -> bool:
        words = " ".join(m.content for m in self.session.history.messages() if m.role == "assistant").split()
        return len(words) >= len(REPLY.split()) and self.session.agent_state is AgentState.LISTENING

    async def wait_answered(self, timeout: float) -> bool:
        """Wait until the whole answer was said (or ``timeout``); False if it was not."""
        try:
            async with asyncio.timeout(timeout):
                while not self._heard_enough():
                    await self._changed.wait()
        except TimeoutError:
            return False
        return True

    # -- moments a fault waits for ----------------------------------------------------------------
    async def answer_audio(self, after: float | None = None) -> float:
        """The first agent audio frame played after the user's turn (or after loop time ``after``)."""
        await self.user_done.wait()
        assert self.turn_end is not None
        return await self.output.frame_after(self.turn_end if after is None else after)

    async def answer_heard(self, seconds: float = HEARD) -> float:
        """The moment the user has heard ``seconds`` of the answer (a few words of it)."""
        first = await self.answer_audio()
        return await self.output.frame_after(first + seconds)

    def current_connection(self) -> ConnectionRecord:
        return self.server.connections[-1]

    async def connection_closed(self, record: ConnectionRecord, timeout: float = 3.0) -> None:
        await self.server.wait_until(lambda: record.closed, timeout=timeout, what=f"close of connection {record.index}")

    async def next_connection(self, after: ConnectionRecord, timeout: float = 3.0) -> ConnectionRecord:
        await self.server.wait_for_connections(after.index + 2, timeout=timeout)
        return self.server.connections[after.index + 1]

    # -- outcome ----------------------------------------------------------------------------------
    def outcome(self, cell: str, target_s: float, answered: bool, problems: list[str]) -> TrialOutcome:
        assert self.turn_end is not None
        frames = [(t, f) for t, f in self.output.played if t >= self.turn_end - 0.01]
        audio = sum(f.duration for _, f in frames)
        recover = None
        if frames:
            recover = frames[0][0] - self.turn_end
            for (t0, f0), (t1, _) in itertools.pairwise(frames):
                recover = max(recover, t1 - (t0 + f0.duration))
        verdict = judge(self.session.history, audio_seconds=audio, tool=self.tool, tool_calls=self.agent.calls)
        return TrialOutcome(
            cell=cell, answered=answered and verdict.complete, duplicated=verdict.duplicated,
            history_ok=verdict.history_ok, recover_s=recover, target_s=target_s, engine=self.session.engine,
            connections=len(self.server.connections),
            problems=problems + verdict.problems,
        )

    async def aclose(self) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(10):
                await self.session.aclose()
        with contextlib.suppress(Exception):
            await self.proxy.delete()
        await self.server.aclose()


async def run_trial(
    toxiproxy: Toxiproxy, cell: str, *, tool: bool, target_s: float, inject: Callable[[Trial], Coroutine[Any, Any, None]]
) -> TrialOutcome:
    """Play the turn with ``inject`` running beside it (it waits for its moment, then breaks something)."""
    trial = await Trial.open(toxiproxy, tool=tool)
    problems: list[str] = []
    injector = asyncio.create_task(inject(trial), name=f"inject:{cell}")
    try:
        await trial.speak()
        answered = await trial.wait_answered(ANSWER_TIMEOUT)
        await asyncio.sleep(SETTLE)  # a second answer would start now
        if injector.done() and not injector.cancelled() and (error := injector.exception()) is not None:
            problems.append(f"the fault was not injected: {error!r}")
        elif not injector.done():
            problems.append("the fault's moment never came")
        return trial.outcome(cell, target_s, answered, problems)
    finally:
        injector.cancel()
        await asyncio.gather(injector, return_exceptions=True)
        await trial.aclose()
