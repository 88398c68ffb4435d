"""The agent protocol client against a scripted server: offers, assignments, status, reconnects."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import jwt
import pytest
from fake_agent_server import FakeAgentServer, make_job
from livekit.protocol import agent as pa
from worker_helpers import WORKER_ONLY_GRANT, eventually

from livekitex_agent.config import load_worker_settings
from livekitex_agent.worker import JobContext, JobRequest, Worker, WorkerOptions

SECRET = "a-rather-long-test-secret-value-0123456789"
TIMEOUT = 10.0


@pytest.fixture
async def server() -> AsyncIterator[FakeAgentServer]:
    s = FakeAgentServer()
    await s.start()
    yield s
    await s.aclose()


@pytest.fixture
async def start_worker(server: FakeAgentServer) -> AsyncIterator[Callable[..., Awaitable[Worker]]]:
    workers: list[Worker] = []

    async def start(entrypoint: Callable[[JobContext], Awaitable[None]], **opts: Any) -> Worker:
        options = WorkerOptions(
            entrypoint=entrypoint,
            executor="inprocess",
            ws_url=server.url,
            api_key="APItestkey",
            api_secret=SECRET,
            http_port=0,
            **{"load_fnc": lambda: 0.0, **opts},  # the machine's CPU must not decide these tests
        )
        settings = load_worker_settings(options.settings_defaults(), env={})
        worker = Worker(options, settings)
        workers.append(worker)
        await worker.start()
        return worker

    yield start
    for w in workers:
        await w.aclose()


async def wait_forever(ctx: JobContext) -> None:
    await asyncio.Event().wait()


async def test_registers_with_a_worker_only_token(server: FakeAgentServer, start_worker: Any) -> None:
    worker = await start_worker(wait_forever, agent_name="helper", version="7.1")
    reg = (await server.next("register")).register
    assert (reg.type, reg.agent_name, reg.version) == (pa.JT_ROOM, "helper", "7.1")
    perms = reg.allowed_permissions
    assert (perms.can_publish, perms.can_subscribe, perms.can_publish_data, perms.can_update_metadata) == (
        True,
        True,
        True,
        True,
    )
    assert perms.agent and not perms.hidden
    assert await worker.wait_registered(TIMEOUT) == "AW_FAKE_1"

    scheme, token = server.auth_headers[0].split(" ", 1)
    assert scheme == "Bearer"
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], issuer="APItestkey")
    assert claims["video"] == WORKER_ONLY_GRANT
    assert claims["exp"] - claims["nbf"] == 300


async def test_accepted_offer_starts_the_job_with_the_chosen_identity(
    server: FakeAgentServer, start_worker: Any
) -> None:
    seen: asyncio.Future[JobContext] = asyncio.get_running_loop().create_future()

    async def request_fnc(req: JobRequest) -> None:
        assert (req.id, req.room_name, req.metadata) == ("J1", "room-J1", "hello")
        req.accept(identity="bot-1", name="Bot", metadata="m", attributes={"role": "helper"})

    async def entry(ctx: JobContext) -> None:
        seen.set_result(ctx)

    worker = await start_worker(entry, request_fnc=request_fnc)
    await worker.wait_registered(TIMEOUT)
    job = make_job("J1", metadata="hello")
    answer = await server.offer(job)
    assert answer.available
    assert (answer.participant_identity, answer.participant_name, answer.participant_metadata) == (
        "bot-1",
        "Bot",
        "m",
    )
    assert dict(answer.participant_attributes) == {"role": "helper"}

    await server.assign(job)
    ctx = await asyncio.wait_for(seen, TIMEOUT)
    assert (ctx.job.id, ctx.agent_identity) == ("J1", "bot-1")
    assert (await server.next("update_job", job_id="J1", status=pa.JS_RUNNING)).update_job.error == ""
    # the entrypoint returned without connecting: the job ends successfully
    await server.next("update_job", job_id="J1", status=pa.JS_SUCCESS)


@pytest.mark.parametrize("behaviour", ["reject", "raise", "silent"])
async def test_offer_declined_by_request_fnc(
    server: FakeAgentServer, start_worker: Any, behaviour: str
) -> None:
    async def request_fnc(req: JobRequest) -> None:
        if behaviour == "reject":
            req.reject()
        elif behaviour == "raise":
            raise ValueError("cannot decide")

    worker = await start_worker(wait_forever, request_fnc=request_fnc)
    await worker.wait_registered(TIMEOUT)
    assert not (await server.offer(make_job("J1"))).available
    assert worker.manager.job_count == 0


async def test_full_worker_declines_and_reports_full(server: FakeAgentServer, start_worker: Any) -> None:
    worker = await start_worker(wait_forever, max_jobs=1, load_threshold=0.75)
    await worker.wait_registered(TIMEOUT)
    await server.next("update_worker", status=pa.WS_AVAILABLE)
    assert (await server.offer(make_job("J1"))).available
    status = (await server.next("update_worker", status=pa.WS_FULL)).update_worker
    assert (status.load, status.job_count) == (1.0, 1)
    # accepted but not yet assigned counts: the next offer is declined
    assert not (await server.offer(make_job("J2"))).available
    await server.assign(make_job("J1"))
    await server.next("update_job", job_id="J1", status=pa.JS_RUNNING)
    assert not (await server.offer(make_job("J3"))).available
    await server.terminate("J1")
    await server.next("update_job", job_id="J1", status=pa.JS_SUCCESS)
    await server.next("update_worker", status=pa.WS_AVAILABLE)
    assert (await server.offer(make_job("J4"))).available


async def failed_job_error(server: FakeAgentServer, start_worker: Any, message: str) -> tuple[Worker, str]:
    """Run one job whose entrypoint raises ``RuntimeError(message)``; the error the server got."""

    async def entry(ctx: JobContext) -> None:
        raise RuntimeError(message)

    worker = await start_worker(entry)
    await worker.wait_registered(TIMEOUT)
    job = make_job("J1")
    assert (await server.offer(job)).available
    await server.assign(job)
    failed = (await server.next("update_job", job_id="J1", status=pa.JS_FAILED)).update_job
    return worker, failed.error


async def test_crashing_entrypoint_reports_failed(server: FakeAgentServer, start_worker: Any) -> None:
    worker, error = await failed_job_error(server, start_worker, "kaboom")
    assert error == "RuntimeError: kaboom"
    assert worker.health_problem() == ""  # the worker itself is fine


async def test_termination_ends_the_job(server: FakeAgentServer, start_worker: Any) -> None:
    reasons: list[str] = []

    async def entry(ctx: JobContext) -> None:
        async def on_shutdown(reason: str) -> None:
            reasons.append(reason)

        ctx.add_shutdown_callback(on_shutdown)
        await asyncio.Event().wait()

    worker = await start_worker(entry)
    await worker.wait_registered(TIMEOUT)
    job = make_job("J1")
    await server.offer(job)
    await server.assign(job)
    await server.next("update_job", job_id="J1", status=pa.JS_RUNNING)
    await server.terminate("J1")
    await server.next("update_job", job_id="J1", status=pa.JS_SUCCESS)
    assert reasons == ["terminated by the server"]


async def test_reconnect_reannounces_running_jobs(server: FakeAgentServer, start_worker: Any) -> None:
    ended: list[str] = []
    worker = await start_worker(wait_forever)
    worker.on("job_ended", lambda job_id, outcome: ended.append(job_id))
    await worker.wait_registered(TIMEOUT)
    job = make_job("J1")
    await server.offer(job)
    await server.assign(job)
    await server.next("update_job", job_id="J1", status=pa.JS_RUNNING)

    await server.drop()
    await server.next("register")
    migrate = (await server.next("migrate_job")).migrate_job
    assert list(migrate.job_ids) == ["J1"]
    assert [j.room.name for j in migrate.jobs] == ["room-J1"]
    await server.wait_connected()
    assert worker.worker_id == "AW_FAKE_2"
    assert [j.id for j in worker.manager.running_jobs] == ["J1"]
    assert ended == []


async def test_drain_reports_full_declines_and_waits_for_jobs(
    server: FakeAgentServer, start_worker: Any
) -> None:
    worker = await start_worker(wait_forever)
    await worker.wait_registered(TIMEOUT)
    job = make_job("J1")
    await server.offer(job)
    await server.assign(job)
    await server.next("update_job", job_id="J1", status=pa.JS_RUNNING)

    drain = asyncio.create_task(worker.drain(timeout=TIMEOUT))
    status = (await server.next("update_worker", draining=True)).update_worker
    assert status.status == pa.WS_FULL
    assert not (await server.offer(make_job("J2"))).available
    assert not drain.done()
    worker.manager.shutdown_job("J1", "call over")
    assert await asyncio.wait_for(drain, TIMEOUT) is True


async def test_declines_at_the_load_threshold_not_at_full_capacity(
    server: FakeAgentServer, start_worker: Any
) -> None:
    worker = await start_worker(wait_forever, max_jobs=4, load_threshold=0.5)
    await worker.wait_registered(TIMEOUT)
    await server.next("update_worker", status=pa.WS_AVAILABLE)
    for n, job_id in enumerate(("J1", "J2"), start=1):
        assert (await server.offer(make_job(job_id))).available
        await server.assign(make_job(job_id))
        await server.next("update_job", job_id=job_id, status=pa.JS_RUNNING)
        if n == 1:  # load 0.25 < 0.5
            assert (await server.next("update_worker", job_count=1)).update_worker.status == pa.WS_AVAILABLE
    status = (await server.next("update_worker", job_count=2)).update_worker
    assert (status.status, status.load) == (pa.WS_FULL, 0.5)  # 2 of 4 jobs: at the threshold, full
    assert not (await server.offer(make_job("J3"))).available
    assert worker.manager.job_count == 2


async def test_a_failure_text_sent_to_the_server_is_redacted(server: FakeAgentServer, start_worker: Any) -> None:
    message = f"could not sign with {SECRET} (key sk-proj-abcdefgh12345678)"
    _, error = await failed_job_error(server, start_worker, message)
    assert error == "RuntimeError: could not sign with *** (key ***)"


async def test_periodic_status_carries_load_and_job_count(server: FakeAgentServer, start_worker: Any) -> None:
    worker = await start_worker(wait_forever, max_jobs=4, status_interval=0.05)
    await worker.wait_registered(TIMEOUT)
    job = make_job("J1")
    await server.offer(job)
    await server.assign(job)
    await server.next("update_job", job_id="J1", status=pa.JS_RUNNING)
    for _ in range(3):  # repeated without any event
        status = (await server.next("update_worker", job_count=1)).update_worker
        assert status.status == pa.WS_AVAILABLE and status.load == 0.25  # 1 job of 4, no CPU load


async def test_rejected_credentials_are_logged_without_secrets(
    server: FakeAgentServer, start_worker: Any, caplog: pytest.LogCaptureFixture
) -> None:
    server.reject_auth = True
    with caplog.at_level(logging.DEBUG, logger="livekitex_agent"):
        worker = await start_worker(wait_forever)
        await eventually(lambda: len(server.auth_headers) >= 2, TIMEOUT)  # it keeps retrying
    assert not worker.connected
    assert "rejected the worker token" in caplog.text
    token = server.auth_headers[0].split(" ", 1)[1]
    assert SECRET not in caplog.text and token not in caplog.text
