"""Pure agent-protocol building/parsing, against messages recorded from livekit-server 1.13.4, and tokens."""

from __future__ import annotations

import datetime
from pathlib import Path

import jwt
import pytest
from livekit.protocol import agent as pa
from worker_helpers import WORKER_ONLY_GRANT

from livekitex_agent.worker import protocol as proto
from livekitex_agent.worker.tokens import agent_room_token, worker_token

RECORDED = {
    kind: bytes.fromhex(data)
    for kind, data in (
        line.split()
        for line in (Path(__file__).parent / "data" / "server_messages.hex").read_text().splitlines()
    )
}
SECRET = "0123456789abcdef0123456789abcdef"


def test_recorded_registration_reply() -> None:
    event = proto.parse_server_message(RECORDED["REG"])
    assert event == proto.Registered(worker_id="AW_c8KXBUqSPTgH", server_version="1.13.4", agent_protocol=1)


def test_recorded_offer() -> None:
    event = proto.parse_server_message(RECORDED["AVAIL"])
    assert isinstance(event, proto.JobOffered)
    assert (event.job.id, event.job.room.name, event.job.metadata, event.job.agent_name) == (
        "AJ_VuxrA7cG4qLQ",
        "room1",
        "meta",
        "exp",
    )
    assert event.job.dispatch_id == "AD_okSvYrQMp8T5" and not event.resuming


def test_recorded_assignment_has_token_but_no_url() -> None:
    event = proto.parse_server_message(RECORDED["ASSIGN"])
    assert isinstance(event, proto.JobAssigned)
    assert event.url == ""  # the worker joins on the URL it is connected to
    assert event.job.state.participant_identity == "agent-x"
    claims = jwt.decode(event.token, options={"verify_signature": False})
    assert claims["video"]["room"] == "room1" and claims["kind"] == "agent"
    assert event.token not in repr(event)


def test_recorded_pong_and_unknown_and_garbage() -> None:
    assert proto.parse_server_message(RECORDED["PONG"]) == proto.Pong(
        last_timestamp=123, timestamp=1795509555716
    )
    assert proto.parse_server_message(b"") == proto.Unknown("empty")
    with pytest.raises(proto.ProtocolError, match="undecodable server message"):
        proto.parse_server_message(b"\xff\xff\xff")


def test_worker_messages_round_trip() -> None:
    perms = proto.ParticipantPermissions(can_publish=False, hidden=True)
    reg = proto.parse_worker_message(proto.register("bot", "1.2", perms)).register
    assert (reg.type, reg.agent_name, reg.version) == (pa.JT_ROOM, "bot", "1.2")
    assert (reg.allowed_permissions.can_publish, reg.allowed_permissions.hidden) == (False, True)

    accept = proto.AcceptArgs("id-1", "Name", "meta", {"k": "v"})
    avail = proto.parse_worker_message(proto.availability("J1", accept)).availability
    assert (avail.job_id, avail.available, avail.participant_identity, avail.participant_name) == (
        "J1",
        True,
        "id-1",
        "Name",
    )
    assert (avail.participant_metadata, dict(avail.participant_attributes)) == ("meta", {"k": "v"})
    declined = proto.parse_worker_message(proto.availability("J2", None)).availability
    assert (declined.job_id, declined.available) == ("J2", False)

    upd = proto.parse_worker_message(proto.update_job("J1", proto.JS_FAILED, "boom")).update_job
    assert (upd.job_id, upd.status, upd.error) == ("J1", pa.JS_FAILED, "boom")

    status = proto.parse_worker_message(proto.update_worker(full=True, load=0.8, job_count=3, draining=True))
    ws = status.update_worker
    assert (ws.status, round(ws.load, 3), ws.job_count, ws.draining) == (pa.WS_FULL, 0.8, 3, True)

    job = pa.Job(id="J9")
    migrate = proto.parse_worker_message(proto.migrate([job])).migrate_job
    assert list(migrate.job_ids) == ["J9"] and migrate.jobs[0].id == "J9"


def test_agent_ws_url() -> None:
    assert proto.agent_ws_url("ws://127.0.0.1:7880") == "ws://127.0.0.1:7880/agent"
    assert proto.agent_ws_url("https://x.livekit.cloud/") == "wss://x.livekit.cloud/agent"
    assert proto.status_name(pa.JS_SUCCESS) == "success"


def test_worker_token_only_registers_and_expires_soon() -> None:
    token = worker_token("APIkey", SECRET)
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], issuer="APIkey")
    assert claims["video"] == WORKER_ONLY_GRANT
    assert claims["exp"] - claims["nbf"] == 300
    assert claims["sub"] == ""


def test_room_token_joins_one_room_as_agent() -> None:
    token = agent_room_token(
        "APIkey", SECRET, room="r1", identity="agent-1", name="Bot", attributes={"lk.agent_name": "x"}
    )
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], issuer="APIkey")
    assert claims["video"] == {
        "roomJoin": True,
        "room": "r1",
        "canPublish": True,
        "canSubscribe": True,
        "canPublishData": True,
        "canUpdateOwnMetadata": True,
    }
    assert (claims["sub"], claims["kind"], claims["name"], claims["attributes"]) == (
        "agent-1",
        "agent",
        "Bot",
        {"lk.agent_name": "x"},
    )
    assert datetime.timedelta(seconds=claims["exp"] - claims["nbf"]) == datetime.timedelta(minutes=10)
