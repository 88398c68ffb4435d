"""LiveKitRoomIO across a room's life: late joiners, re-published tracks, leaving and coming back,
a full reconnect of the agent, and a clean close."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import numpy as np
import pytest
from livekit import rtc
from lk_helpers import AudioRecorder, StubSession, TonePublisher, connect, rooms, wait_until

from livekitex_agent.media import AudioFrame, combine_frames
from livekitex_agent.rooms.livekit import TOPIC_CHAT, LiveKitRoomIO
from livekitex_agent.testing.livekit_server import LiveKitServer

pytestmark = pytest.mark.livekit


def dominant_hz(frames: list[AudioFrame]) -> float:
    audio = combine_frames(frames)
    spectrum = np.abs(np.fft.rfft(audio.data.astype(np.float32)))
    return float(np.argmax(spectrum)) * audio.sample_rate / audio.data.size


async def next_tone(
    it: AsyncIterator[AudioFrame], seconds: float = 0.3, timeout: float = 10.0
) -> list[AudioFrame]:
    """Read the input until ``seconds`` of loud audio in a row arrived; return those frames."""
    loud: list[AudioFrame] = []

    async def read() -> None:
        async for frame in it:
            if frame.rms_dbfs() > -25.0:
                loud.append(frame)
                if sum(f.duration for f in loud) >= seconds:
                    return
            else:
                loud.clear()

    await asyncio.wait_for(read(), timeout)
    return loud


async def start_io(room: rtc.Room, **options: object) -> tuple[LiveKitRoomIO, StubSession]:
    io = LiveKitRoomIO(room, **options)  # type: ignore[arg-type]
    session = StubSession()
    session.io = io
    await io.start(session)
    return io, session


async def test_the_input_waits_for_a_participant_and_follows_a_republished_track(
    livekit_server: LiveKitServer,
) -> None:
    async with rooms(livekit_server, "republish") as (agent,):
        io, _ = await start_io(agent)
        assert io.linked_participant is None  # nobody there yet: waiting
        assert io.audio_input is not None
        frames = aiter(io.audio_input)
        caller = await connect(livekit_server, agent.name, "caller")
        try:
            mic = TonePublisher(caller, frequency=440.0)
            await mic.start()
            assert dominant_hz(await next_tone(frames)) == pytest.approx(440.0, abs=15)
            assert io.linked_participant == "caller"
            first_sid = io.user_track_sid

            await mic.stop()  # unpublish, then publish a new track: the same input goes on
            mic2 = TonePublisher(caller, frequency=880.0)
            await mic2.start()
            assert dominant_hz(await next_tone(frames)) == pytest.approx(880.0, abs=15)
            assert io.user_track_sid is not None and io.user_track_sid != first_sid
            await mic2.stop()
        finally:
            await caller.disconnect()
        await io.aclose()


async def test_the_earliest_of_several_joiners_is_linked(livekit_server: LiveKitServer) -> None:
    async with rooms(livekit_server, "earliest", "alice", "bob", "carol") as (agent, *_):
        io, _ = await start_io(agent)
        await wait_until(lambda: io.linked_participant is not None, 10, "a linked participant")
        assert io.linked_participant == "alice"
        await io.aclose()


async def test_a_pinned_identity_is_listened_to_even_if_someone_else_came_first(
    livekit_server: LiveKitServer,
) -> None:
    async with rooms(livekit_server, "pinned", "alice", "bob") as (agent, alice, bob):
        alice_mic, bob_mic = TonePublisher(alice, frequency=440.0), TonePublisher(bob, frequency=660.0)
        await alice_mic.start()
        await bob_mic.start()
        io, _ = await start_io(agent, participant_identity="bob")
        assert io.audio_input is not None
        assert dominant_hz(await next_tone(aiter(io.audio_input))) == pytest.approx(660.0, abs=15)
        assert io.linked_participant == "bob"
        await alice_mic.stop()
        await bob_mic.stop()
        await io.aclose()


async def test_a_participant_back_within_the_grace_period_keeps_the_session(
    livekit_server: LiveKitServer,
) -> None:
    async with rooms(livekit_server, "comeback", "caller") as (agent, caller):
        io, session = await start_io(agent, disconnect_grace=2.0)
        await wait_until(lambda: io.linked_participant == "caller", 10, "the caller to be linked")
        assert io.audio_input is not None
        frames = aiter(io.audio_input)

        left_at = time.monotonic()
        await caller.disconnect()
        await wait_until(
            lambda: "caller" not in agent.remote_participants, 10, "the agent to see the caller leave"
        )
        back = await connect(livekit_server, agent.name, "caller")
        try:
            mic = TonePublisher(back, frequency=550.0)
            await mic.start()
            assert dominant_hz(await next_tone(frames)) == pytest.approx(550.0, abs=15)
            # past the grace period: still open, still linked
            await asyncio.sleep(max(0.0, left_at + 2.5 - time.monotonic()))
            assert session.close_reasons == []
            assert io.linked_participant == "caller"
            await mic.stop()
        finally:
            await back.disconnect()
        await io.aclose()


async def test_a_full_reconnect_of_the_agent_keeps_it_hearing_and_speaking(
    livekit_server: LiveKitServer,
) -> None:
    async with rooms(livekit_server, "reconnect", "caller") as (agent, caller):
        io, session = await start_io(agent, disconnect_grace=3.0)
        mic = TonePublisher(caller, frequency=440.0)
        await mic.start()
        recorder = AudioRecorder(caller, "agent")
        recorder.start()
        assert io.audio_input is not None
        frames = aiter(io.audio_input)
        await next_tone(frames)
        reconnected = asyncio.Event()
        agent.on("reconnected", lambda: reconnected.set())

        await agent.simulate_scenario(rtc.SimulateScenarioKind.SIMULATE_FULL_RECONNECT)
        await asyncio.wait_for(reconnected.wait(), 15)

        # the caller's voice still arrives through the same input
        assert dominant_hz(await next_tone(frames)) == pytest.approx(440.0, abs=15)
        # and the agent's voice still reaches the caller (on the re-published track)
        await wait_until(
            lambda: io.agent_track_sid in recorder.track_sids, 10, "the re-published agent track"
        )
        out = io.audio_output
        assert out is not None
        before = len(recorder.loud())
        await out.capture_frame(AudioFrame.from_float(0.3 * np.sin(np.arange(12000) * 0.08), 24000))
        out.flush()
        await asyncio.wait_for(out.wait_for_playout(), 10)
        await wait_until(lambda: len(recorder.loud()) - before >= 30, 5, "the caller to hear the agent again")
        assert session.close_reasons == []
        await mic.stop()
        await recorder.stop()
        await io.aclose()


async def test_aclose_unpublishes_and_leaves_no_task_behind(livekit_server: LiveKitServer) -> None:
    async with rooms(livekit_server, "aclose", "caller") as (agent, caller):
        unpublished = asyncio.Event()
        caller.on("track_unpublished", lambda pub, p: p.identity == "agent" and unpublished.set())
        io, _ = await start_io(agent)
        mic = TonePublisher(caller)
        await mic.start()
        await wait_until(lambda: io.user_track_sid is not None, 10, "the caller's microphone")
        await caller.local_participant.send_text("hello", topic=TOPIC_CHAT)
        assert io.text_output is not None
        await io.text_output.capture_text("unfinished segment")
        assert io.audio_output is not None
        await io.audio_output.capture_frame(AudioFrame.silence(2.0, 24000))  # still playing at close

        await io.aclose()
        await asyncio.wait_for(unpublished.wait(), 5)
        ours = ("lk-", "room-audio-input", "paced-audio-output")
        left = [t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith(ours)]
        assert left == []
        # the chat topic is free again for someone else
        agent.register_text_stream_handler(TOPIC_CHAT, lambda reader, identity: reader.close())
        with contextlib.suppress(Exception):
            await mic.stop()
