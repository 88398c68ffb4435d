"""The worker against a real livekit-server: dispatch, load balancing, reconnects, HTTP endpoints."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from livekit import api, rtc
from worker_helpers import eventually, eventually_async

from livekitex_agent.config import load_worker_settings
from livekitex_agent.metrics import TurnMetrics
from livekitex_agent.testing.livekit_server import LiveKitServer
from livekitex_agent.worker import (
    JobContext,
    JobOutcome,
    JobRequest,
    Worker,
    WorkerOptions,
    observe_turn_metrics,
)
from livekitex_agent.worker.tokens import sign

pytestmark = pytest.mark.livekit
TIMEOUT = 20.0


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def lk(livekit_server: LiveKitServer) -> AsyncIterator[api.LiveKitAPI]:
    client = api.LiveKitAPI(livekit_server.http_url, livekit_server.api_key, livekit_server.api_secret)
    yield client
    await client.aclose()


@pytest.fixture
async def start_worker(livekit_server: LiveKitServer) -> AsyncIterator[Callable[..., Awaitable[Worker]]]:
    workers: list[Worker] = []

    async def start(entrypoint: Callable[[JobContext], Awaitable[None]], **opts: Any) -> Worker:
        options = WorkerOptions(
            entrypoint=entrypoint,
            ws_url=livekit_server.url,
            api_key=livekit_server.api_key,
            api_secret=livekit_server.api_secret,
            http_port=0,
            **{"executor": "inprocess", "load_fnc": lambda: 0.0, **opts},
        )
        worker = Worker(options, load_worker_settings(options.settings_defaults(), env={}))
        workers.append(worker)
        await worker.start()
        await worker.wait_registered(TIMEOUT)
        return worker

    yield start
    for w in workers:
        await w.aclose()


def ended_outcomes(worker: Worker) -> dict[str, asyncio.Future[JobOutcome]]:
    table: dict[str, asyncio.Future[JobOutcome]] = {}
    loop = asyncio.get_running_loop()

    def on_ended(job_id: str, outcome: JobOutcome) -> None:
        table.setdefault(job_id, loop.create_future()).set_result(outcome)

    worker.on("job_ended", on_ended)
    return table


async def participants(lk: api.LiveKitAPI, room: str) -> dict[str, Any]:
    resp = await lk.room.list_participants(api.ListParticipantsRequest(room=room))
    return {p.identity: p for p in resp.participants}


async def test_new_room_is_dispatched_to_an_unnamed_agent(start_worker: Any, lk: api.LiveKitAPI) -> None:
    joined: asyncio.Future[JobContext] = asyncio.get_running_loop().create_future()

    async def entry(ctx: JobContext) -> None:
        await ctx.connect()
        joined.set_result(ctx)

    worker = await start_worker(entry, agent_name="")
    ended = ended_outcomes(worker)
    room = unique("auto")
    await lk.room.create_room(api.CreateRoomRequest(name=room))
    ctx = await asyncio.wait_for(joined, TIMEOUT)
    assert ctx.room.name == room and ctx.room.isconnected()
    agent = (await participants(lk, room))[ctx.agent_identity]
    assert agent.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT
    assert ctx.agent_identity == f"agent-{ctx.job.id}"

    await lk.room.delete_room(api.DeleteRoomRequest(room=room))  # the room goes away: the job ends
    await eventually(lambda: ctx.job.id in ended, TIMEOUT)
    outcome = await ended[ctx.job.id]
    assert (outcome.status, outcome.reason) == (api.JobStatus.JS_SUCCESS, "room disconnected")


async def test_explicit_dispatch_by_agent_name(
    start_worker: Any, lk: api.LiveKitAPI, livekit_server: LiveKitServer
) -> None:
    name, room = unique("named"), unique("room")
    seen: asyncio.Future[tuple[str, str, str]] = asyncio.get_running_loop().create_future()

    async def request_fnc(req: JobRequest) -> None:
        req.accept(identity="helper-bot", name="Helper", attributes={"team": "blue"})

    async def entry(ctx: JobContext) -> None:
        await ctx.connect()
        caller = await ctx.wait_for_participant()
        seen.set_result((ctx.job.metadata, ctx.job.agent_name, caller.identity))
        await asyncio.Event().wait()

    await start_worker(entry, agent_name=name, request_fnc=request_fnc)
    await lk.agent_dispatch.create_dispatch(
        api.CreateAgentDispatchRequest(agent_name=name, room=room, metadata="hi")
    )
    token = sign(
        api.AccessToken(livekit_server.api_key, livekit_server.api_secret)
        .with_identity("caller")
        .with_grants(api.VideoGrants(room_join=True, room=room))
    )
    caller = rtc.Room()
    await caller.connect(livekit_server.url, token)
    try:
        assert await asyncio.wait_for(seen, TIMEOUT) == ("hi", name, "caller")
        bot = (await participants(lk, room))["helper-bot"]
        assert bot.name == "Helper"
        assert dict(bot.attributes) == {"team": "blue", "lk.agent_name": name}
    finally:
        await caller.disconnect()


async def test_full_worker_leaves_the_next_job_to_another_worker(
    start_worker: Any, lk: api.LiveKitAPI
) -> None:
    name = unique("busy")
    rooms: dict[str, list[str]] = {"w1": [], "w2": []}

    def entry_for(key: str) -> Callable[[JobContext], Awaitable[None]]:
        async def entry(ctx: JobContext) -> None:
            await ctx.connect()
            rooms[key].append(ctx.room.name)
            await asyncio.Event().wait()

        return entry

    w1 = await start_worker(entry_for("w1"), agent_name=name, max_jobs=1, load_threshold=0.75)
    w2 = await start_worker(entry_for("w2"), agent_name=name, max_jobs=1, load_threshold=0.75)
    room_a, room_b = unique("a"), unique("b")
    await lk.agent_dispatch.create_dispatch(api.CreateAgentDispatchRequest(agent_name=name, room=room_a))
    await eventually(lambda: len(rooms["w1"]) + len(rooms["w2"]) == 1, TIMEOUT)
    first, second = ("w1", "w2") if rooms["w1"] else ("w2", "w1")
    busy = w1 if first == "w1" else w2
    assert busy.manager.load() == 1.0
    await lk.agent_dispatch.create_dispatch(api.CreateAgentDispatchRequest(agent_name=name, room=room_b))
    await eventually(lambda: len(rooms[second]) == 1, TIMEOUT)
    assert rooms[first] == [room_a] and rooms[second] == [room_b]


async def test_server_restart_reconnects_and_keeps_jobs_running(
    start_worker: Any, lk: api.LiveKitAPI, livekit_server: LiveKitServer
) -> None:
    name = unique("restart")
    started: list[str] = []

    async def entry(ctx: JobContext) -> None:
        started.append(ctx.job.room.name)
        await asyncio.Event().wait()  # a job that does not depend on its room (it would not survive)

    worker = await start_worker(entry, agent_name=name, max_retry_delay=1.0)
    ended = ended_outcomes(worker)
    await lk.agent_dispatch.create_dispatch(api.CreateAgentDispatchRequest(agent_name=name, room=unique("r")))
    await eventually(lambda: len(started) == 1, TIMEOUT)
    first_id = worker.worker_id
    health = f"http://127.0.0.1:{worker.http_port}/"
    async with aiohttp.ClientSession() as http:

        async def status() -> int:
            async with http.get(health) as resp:
                return resp.status

        async def is_status(code: int) -> bool:
            return await status() == code

        assert await status() == 200
        livekit_server.kill()
        await eventually_async(lambda: is_status(503), TIMEOUT)
        livekit_server.restart()
        await eventually_async(lambda: is_status(200), TIMEOUT)
    assert worker.worker_id != first_id
    assert len(worker.manager.running_jobs) == 1 and not ended  # the job kept running
    # the new registration takes jobs
    await lk.agent_dispatch.create_dispatch(api.CreateAgentDispatchRequest(agent_name=name, room=unique("r")))
    await eventually(lambda: len(started) == 2, TIMEOUT)


async def test_health_status_and_metrics_endpoints(start_worker: Any, lk: api.LiveKitAPI) -> None:
    name, room = unique("http"), unique("room")

    async def entry(ctx: JobContext) -> None:
        await ctx.connect()
        observe_turn_metrics(TurnMetrics(speech_id="s1", e2e_latency=0.42, llm_ttft=0.15, tts_ttfb=0.08))
        await asyncio.Event().wait()

    worker = await start_worker(entry, agent_name=name, max_jobs=4)
    base = f"http://127.0.0.1:{worker.http_port}"
    await lk.agent_dispatch.create_dispatch(api.CreateAgentDispatchRequest(agent_name=name, room=room))
    await eventually(
        lambda: worker.metrics.turns.labels(engine="pipeline", interrupted="false")._value.get() == 1, TIMEOUT
    )
    async with aiohttp.ClientSession() as http:
        async with http.get(base + "/") as resp:
            assert (resp.status, await resp.text()) == (200, "OK\n")
        async with http.get(base + "/worker") as resp:
            info = await resp.json()
        assert info["id"] == worker.worker_id and info["agent_name"] == name
        assert (info["job_count"], info["load"], info["connected"]) == (1, 0.25, True)
        [job] = info["jobs"]
        assert (job["room"], job["running"]) == (room, True)
        async with http.get(base + "/metrics") as resp:
            assert resp.headers["Content-Type"].startswith("text/plain")
            text = await resp.text()
        assert "livekitex_worker_active_jobs 1.0" in text
        assert "livekitex_worker_load 0.25" in text
        assert 'livekitex_turn_latency_seconds_count{engine="pipeline",stage="e2e"} 1.0' in text
        assert 'livekitex_turn_latency_seconds_bucket{engine="pipeline",le="0.5",stage="e2e"} 1.0' in text
        assert 'livekitex_turn_latency_seconds_bucket{engine="pipeline",le="0.3",stage="e2e"} 0.0' in text
        assert 'livekitex_worker_job_offers_total{answer="accepted"} 1.0' in text

        worker.manager.shutdown_all("test over")
        await eventually(lambda: not worker.manager.running_jobs, TIMEOUT)
        async with http.get(base + "/metrics") as resp:
            text = await resp.text()
        assert 'livekitex_worker_jobs_total{outcome="success"} 1.0' in text
        assert "livekitex_worker_dispatch_latency_seconds_count 1.0" in text
