"""How fast a session moves from a failed realtime model to the pipeline.

Each round starts a session on the OpenAI Realtime client against the local RealtimeTestServer,
then breaks the model in one of two ways (alternating):

- fatal: the server sends ``insufficient_quota`` (no retry possible)
- drop: the server drops the socket and refuses reconnection (the client gives up after its retries)

Measured from the moment the server injects the failure to ``engine_changed(new_engine="pipeline")``
(the pipeline is ready to answer then), and, inside the session, from the failure being noticed to
the pipeline being ready. Usage: ``python bench/fallback_switch.py [--rounds 40]``
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time

from livekitex_agent import Agent
from livekitex_agent.events import EngineChangedEvent
from livekitex_agent.metrics import percentile
from livekitex_agent.plugins.openai.realtime import RealtimeModel
from livekitex_agent.providers.base import RetryPolicy
from livekitex_agent.session import AgentSession
from livekitex_agent.testing import FakeLLM, FakeSTT, FakeTTS, FakeVAD, MemoryIO
from livekitex_agent.testing.realtime_server import RealtimeTestServer

FAST = RetryPolicy(max_retries=2, base_delay=0.01, max_delay=0.02, timeout=None)


async def one_round(server: RealtimeTestServer, fault: str) -> tuple[float, float]:
    session = AgentSession(
        realtime=RealtimeModel(api_key=server.api_key, base_url=server.base_url, retry_policy=FAST, heartbeat=None),
        realtime_reconnect_grace=None,
        vad=FakeVAD(),
        stt=FakeSTT(),
        llm=FakeLLM(default="ok"),
        tts=FakeTTS(),
    )
    switched = asyncio.Event()
    at: list[float] = []
    inside: list[float] = []

    def on_engine(ev: EngineChangedEvent) -> None:
        if ev.new_engine == "pipeline":
            at.append(time.perf_counter())
            inside.append(ev.switch_seconds or 0.0)
            switched.set()

    session.on("engine_changed", on_engine)
    await session.start(Agent("bench"), io=MemoryIO())
    t0 = time.perf_counter()
    if fault == "fatal":
        await server.send_error("insufficient_quota", "quota", error_type="insufficient_quota")
    else:
        server.refuse_connections(10)
        await server.drop_connection()
    async with asyncio.timeout(10):
        await switched.wait()
    await session.aclose()
    server._refuse.clear()
    return at[0] - t0, inside[0]


async def main(rounds: int) -> None:
    logging.disable(logging.CRITICAL)
    total: list[float] = []
    internal: list[float] = []
    async with RealtimeTestServer() as server:
        for i in range(rounds):
            t, inner = await one_round(server, "fatal" if i % 2 == 0 else "drop")
            total.append(t * 1000)
            internal.append(inner * 1000)
    print(f"# rounds={rounds} (half fatal error, half dropped socket with reconnects refused)")
    print(
        f"RESULT fallback_switch p50_ms={percentile(total, 50):.1f} p95_ms={percentile(total, 95):.1f} "
        f"max_ms={max(total):.1f} internal_p50_ms={percentile(internal, 50):.2f} "
        f"internal_p95_ms={percentile(internal, 95):.2f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=40)
    asyncio.run(main(parser.parse_args().rounds))
