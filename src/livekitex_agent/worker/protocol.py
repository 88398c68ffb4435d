"""The LiveKit agent worker protocol, as pure message building and parsing.

The worker sends ``livekit.protocol.agent.WorkerMessage`` and receives ``ServerMessage``, both
binary protobuf over the ``/agent`` websocket. Nothing here does I/O: :mod:`.worker` wraps it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from google.protobuf.message import DecodeError
from livekit.protocol import agent as pa
from livekit.protocol import models

from ..errors import LivekitexError

JobStatus = pa.JobStatus
JS_RUNNING = pa.JS_RUNNING
JS_SUCCESS = pa.JS_SUCCESS
JS_FAILED = pa.JS_FAILED

_STATUS_NAMES: dict[int, str] = {
    pa.JS_PENDING: "pending",
    pa.JS_RUNNING: "running",
    pa.JS_SUCCESS: "success",
    pa.JS_FAILED: "failed",
    pa.JS_CANCELLED: "cancelled",
}


class ProtocolError(LivekitexError):
    """A message from the server could not be understood."""


def status_name(status: int) -> str:
    """``JS_SUCCESS`` → ``"success"`` (used for metrics labels and logs)."""
    return _STATUS_NAMES.get(status, f"status_{status}")


def agent_ws_url(url: str) -> str:
    """The agent websocket endpoint for a server URL (``ws://host:7880`` → ``ws://host:7880/agent``)."""
    url = url.rstrip("/")
    if url.startswith("http://"):
        url = "ws://" + url[len("http://") :]
    elif url.startswith("https://"):
        url = "wss://" + url[len("https://") :]
    return url + "/agent"


# ---------------------------------------------------------------- worker → server


@dataclass(frozen=True)
class ParticipantPermissions:
    """What the agent's participant may do in the rooms it joins (the server puts it in the job token)."""

    can_publish: bool = True  # publish tracks (the agent's voice)
    can_subscribe: bool = True  # subscribe to tracks (hear the user)
    can_publish_data: bool = True  # send data and text streams (transcriptions, chat)
    can_update_metadata: bool = True  # needed for the ``lk.agent.state`` attribute
    hidden: bool = False  # invisible to the other participants

    def to_proto(self) -> models.ParticipantPermission:
        return models.ParticipantPermission(
            can_publish=self.can_publish,
            can_subscribe=self.can_subscribe,
            can_publish_data=self.can_publish_data,
            can_update_metadata=self.can_update_metadata,
            hidden=self.hidden,
            agent=True,
        )


@dataclass(frozen=True)
class AcceptArgs:
    """How the agent appears in the room when it accepts a job."""

    identity: str = ""
    name: str = ""
    metadata: str = ""
    attributes: dict[str, str] = field(default_factory=dict)


def register(
    agent_name: str, version: str, permissions: ParticipantPermissions, ping_interval: int = 0
) -> bytes:
    msg = pa.WorkerMessage(
        register=pa.RegisterWorkerRequest(
            type=pa.JT_ROOM,
            agent_name=agent_name,
            version=version,
            allowed_permissions=permissions.to_proto(),
            ping_interval=ping_interval,
        )
    )
    return msg.SerializeToString()


def availability(job_id: str, accept: AcceptArgs | None) -> bytes:
    """Answer an offer: ``accept=None`` declines it."""
    if accept is None:
        resp = pa.AvailabilityResponse(job_id=job_id, available=False)
    else:
        resp = pa.AvailabilityResponse(
            job_id=job_id,
            available=True,
            participant_identity=accept.identity,
            participant_name=accept.name,
            participant_metadata=accept.metadata,
            participant_attributes=accept.attributes,
        )
    return pa.WorkerMessage(availability=resp).SerializeToString()


def update_job(job_id: str, status: int, error: str = "") -> bytes:
    return pa.WorkerMessage(
        update_job=pa.UpdateJobStatus(job_id=job_id, status=status, error=error)  # type: ignore[arg-type]
    ).SerializeToString()


def update_worker(*, full: bool, load: float, job_count: int, draining: bool = False) -> bytes:
    status = pa.WS_FULL if full else pa.WS_AVAILABLE
    return pa.WorkerMessage(
        update_worker=pa.UpdateWorkerStatus(status=status, load=load, job_count=job_count, draining=draining)
    ).SerializeToString()


def migrate(jobs: list[pa.Job]) -> bytes:
    """Tell the server, after a reconnect, which jobs still run on this worker."""
    return pa.WorkerMessage(
        migrate_job=pa.MigrateJobRequest(job_ids=[j.id for j in jobs], jobs=jobs)
    ).SerializeToString()


def ping(timestamp_ms: int) -> bytes:
    return pa.WorkerMessage(ping=pa.WorkerPing(timestamp=timestamp_ms)).SerializeToString()


# ---------------------------------------------------------------- server → worker


@dataclass(frozen=True)
class Registered:
    worker_id: str
    server_version: str
    agent_protocol: int


@dataclass(frozen=True)
class JobOffered:
    job: pa.Job
    resuming: bool


@dataclass(frozen=True)
class JobAssigned:
    job: pa.Job
    url: str  # empty: join on the URL the worker is connected to
    token: str = field(repr=False)


@dataclass(frozen=True)
class JobTerminated:
    job_id: str


@dataclass(frozen=True)
class Pong:
    last_timestamp: int
    timestamp: int


@dataclass(frozen=True)
class GoAway:
    reason: str


@dataclass(frozen=True)
class Unknown:
    kind: str


ServerEvent = Registered | JobOffered | JobAssigned | JobTerminated | Pong | GoAway | Unknown


def parse_server_message(data: bytes) -> ServerEvent:
    """Decode one binary frame from the server; unknown message kinds are returned as :class:`Unknown`."""
    msg = pa.ServerMessage()
    try:
        msg.ParseFromString(data)
    except DecodeError as e:
        raise ProtocolError(f"undecodable server message ({len(data)} bytes): {e}") from None
    kind = msg.WhichOneof("message")
    if kind == "register":
        info = msg.register.server_info
        return Registered(msg.register.worker_id, info.version, info.agent_protocol)
    if kind == "availability":
        return JobOffered(msg.availability.job, msg.availability.resuming)
    if kind == "assignment":
        a = msg.assignment
        return JobAssigned(a.job, a.url if a.HasField("url") else "", a.token)
    if kind == "termination":
        return JobTerminated(msg.termination.job_id)
    if kind == "pong":
        return Pong(msg.pong.last_timestamp, msg.pong.timestamp)
    if kind == "go_away":
        return GoAway(msg.go_away.reason)
    return Unknown(kind or "empty")


def parse_worker_message(data: bytes) -> pa.WorkerMessage:
    """Decode a frame the worker sent (used by tests and fake servers)."""
    msg = pa.WorkerMessage()
    try:
        msg.ParseFromString(data)
    except DecodeError as e:
        raise ProtocolError(f"undecodable worker message ({len(data)} bytes): {e}") from None
    return msg
