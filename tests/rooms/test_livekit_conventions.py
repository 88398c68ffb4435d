"""The pure rules behind LiveKitRoomIO: who is linked, transcription attributes, merging of pending updates."""

from __future__ import annotations

import pytest
from livekit import rtc

from livekitex_agent.errors import ConfigError
from livekitex_agent.rooms.livekit import LiveKitRoomIO
from livekitex_agent.rooms.livekit.conventions import (
    CloseOp,
    DeltaOp,
    PendingOps,
    SendOp,
    new_segment_id,
    select_participant,
    transcription_attributes,
)

STANDARD = rtc.ParticipantKind.PARTICIPANT_KIND_STANDARD
AGENT = rtc.ParticipantKind.PARTICIPANT_KIND_AGENT
SIP = rtc.ParticipantKind.PARTICIPANT_KIND_SIP
EGRESS = rtc.ParticipantKind.PARTICIPANT_KIND_EGRESS


def test_the_first_person_in_join_order_is_linked_never_an_agent_or_egress() -> None:
    people = [("other-agent", AGENT), ("recorder", EGRESS), ("alice", STANDARD), ("bob", STANDARD)]
    assert select_participant(people, identity=None) == "alice"
    assert select_participant([("phone", SIP)], identity=None) == "phone"
    assert select_participant([("other-agent", AGENT)], identity=None) is None
    assert select_participant([], identity=None) is None


def test_a_pinned_identity_is_the_only_one_linked_whatever_its_kind() -> None:
    people = [("alice", STANDARD), ("bob", STANDARD), ("helper", AGENT)]
    assert select_participant(people, identity="bob") == "bob"
    assert select_participant(people, identity="helper") == "helper"
    assert select_participant(people, identity="carol") is None


def test_transcription_attributes_follow_the_livekit_convention() -> None:
    assert transcription_attributes("SG_1", "TR_a", final=False) == {
        "lk.segment_id": "SG_1",
        "lk.transcription_final": "false",
        "lk.transcribed_track_id": "TR_a",
    }
    # no track yet: the attribute is left out rather than sent empty
    assert transcription_attributes("SG_2", None, final=True) == {
        "lk.segment_id": "SG_2",
        "lk.transcription_final": "true",
    }
    a, b = new_segment_id(), new_segment_id()
    assert a.startswith("SG_") and a != b


def test_pending_deltas_of_one_segment_are_joined_and_segments_stay_in_order() -> None:
    ops = PendingOps()
    ops.push(DeltaOp("s1", "Hello"))
    ops.push(DeltaOp("s1", " world"))
    ops.push(CloseOp("s1"))
    ops.push(DeltaOp("s2", "Next"))
    assert ops.pop() == DeltaOp("s1", "Hello world")
    assert ops.pop() == CloseOp("s1")
    assert ops.pop() == DeltaOp("s2", "Next")
    assert ops.pop() is None


def test_a_waiting_interim_transcript_is_superseded_but_a_final_one_is_never_dropped() -> None:
    ops = PendingOps()
    ops.push(SendOp("u1", "hel", False, "alice", "TR_m"))
    ops.push(SendOp("u1", "hello", False, "alice", "TR_m"))
    assert len(ops) == 1  # only the latest interim waits
    ops.push(SendOp("u1", "hello there", True, "alice", "TR_m"))
    ops.push(SendOp("u2", "next", False, "alice", "TR_m"))
    ops.push(SendOp("u2", "next one", False, "alice", "TR_m"))
    sent = []
    while (op := ops.pop()) is not None:
        assert isinstance(op, SendOp)
        sent.append((op.segment_id, op.text, op.final))
    assert sent == [("u1", "hello there", True), ("u2", "next one", False)]


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"disconnect_grace": -1.0}, "disconnect_grace"),
        ({"input_sample_rate": 1000}, "input_sample_rate"),
        ({"output_sample_rate": 96000}, "output_sample_rate"),
        ({"participant_identity": ""}, "participant_identity"),
    ],
)
async def test_bad_options_are_rejected_with_the_option_named(options: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        LiveKitRoomIO(rtc.Room(), **options)  # type: ignore[arg-type]
