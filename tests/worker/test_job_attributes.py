"""A job tells the code it runs (and the sessions it starts) which job, room and agent it is: traces
carry these as resource attributes."""

from __future__ import annotations

from livekit.protocol import agent as pa
from livekit.protocol import models

from livekitex_agent.hooks import current_job_attributes
from livekitex_agent.worker import JobContext, JobInfo
from livekitex_agent.worker.job import JobProcess, run_job


async def test_the_entrypoint_sees_its_job_room_and_agent() -> None:
    job = pa.Job(id="AJ_attrs", type=pa.JT_ROOM, room=models.Room(name="room-attrs"), agent_name="concierge")
    ctx = JobContext(JobInfo(job, "ws://127.0.0.1:9", "not-a-real-token"), JobProcess(executor="inprocess"))
    seen: list[dict[str, str]] = []

    async def entrypoint(_: JobContext) -> None:
        seen.append(current_job_attributes())

    await run_job(ctx, entrypoint, shutdown_timeout=1.0)
    assert seen == [{"livekit.job.id": "AJ_attrs", "livekit.room.name": "room-attrs", "livekit.agent.name": "concierge"}]
    assert current_job_attributes() == {}  # only inside the job
