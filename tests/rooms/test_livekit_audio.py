"""LiveKitRoomIO audio against a real livekit-server: the caller's microphone in, the agent's voice out."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest
from livekit import rtc
from lk_helpers import AudioRecorder, StubSession, TonePublisher, connect, rooms, wait_until

from livekitex_agent.media import AudioFrame, AudioOutput, combine_frames
from livekitex_agent.rooms.livekit import LiveKitRoomIO
from livekitex_agent.testing.livekit_server import LiveKitServer

pytestmark = pytest.mark.livekit


def tone(seconds: float, *, rate: int = 24000, frequency: float = 330.0) -> AudioFrame:
    t = np.arange(round(seconds * rate)) / rate
    return AudioFrame.from_float(0.3 * np.sin(2 * np.pi * frequency * t), rate)


async def start_io(room: rtc.Room, **options: object) -> tuple[LiveKitRoomIO, StubSession]:
    io = LiveKitRoomIO(room, **options)  # type: ignore[arg-type]
    session = StubSession()
    session.io = io
    await io.start(session)
    return io, session


async def listening_caller(caller: rtc.Room) -> AudioRecorder:
    """The caller records the agent's voice, once subscribed to its track."""
    recorder = AudioRecorder(caller, "agent")
    recorder.start()
    await wait_until(lambda: bool(recorder.track_sids), 10, "the caller to subscribe to the agent's track")
    return recorder


async def play_until_heard(
    io: LiveKitRoomIO, recorder: AudioRecorder, seconds: float, heard: float
) -> AudioOutput:
    """Play a ``seconds`` tone and wait until the caller heard ``heard`` seconds of it."""
    out = io.audio_output
    assert out is not None
    await out.capture_frame(tone(seconds))
    out.flush()
    await wait_until(
        lambda: sum(f.duration for f in recorder.loud()) >= heard, 10, f"the caller to hear {heard} s"
    )
    return out


async def test_input_yields_the_callers_voice_at_the_requested_rate(livekit_server: LiveKitServer) -> None:
    async with rooms(livekit_server, "input", "caller") as (agent, caller):
        io, _ = await start_io(agent, input_sample_rate=16000)
        mic = TonePublisher(caller, frequency=440.0, sample_rate=48000)
        await mic.start()
        frames: list[AudioFrame] = []

        async def collect() -> None:
            assert io.audio_input is not None
            async for frame in io.audio_input:
                frames.append(frame)
                if sum(f.duration for f in frames) >= 1.0:
                    return

        await asyncio.wait_for(collect(), 10)
        assert io.linked_participant == "caller"
        assert {(f.sample_rate, f.num_channels) for f in frames} == {(16000, 1)}
        assert {f.samples_per_channel for f in frames} == {320}  # 20 ms frames: half the per-frame work
        last = combine_frames(frames[-25:])  # the last half second: the track is well started
        assert last.rms_dbfs() > -20.0  # a 0.3-amplitude tone is about -13.5 dBFS
        spectrum = np.abs(np.fft.rfft(last.data.astype(np.float32)))
        peak_hz = float(np.argmax(spectrum)) * 16000 / last.data.size
        assert abs(peak_hz - 440.0) < 10.0, peak_hz
        await mic.stop()
        await io.aclose()


async def test_output_is_heard_by_the_caller_paced_in_real_time(livekit_server: LiveKitServer) -> None:
    async with rooms(livekit_server, "output", "caller") as (agent, caller):
        io, _ = await start_io(agent)
        recorder = await listening_caller(caller)
        publication = caller.remote_participants["agent"].track_publications[recorder.track_sids[0]]
        assert publication.source == rtc.TrackSource.SOURCE_MICROPHONE
        assert io.agent_track_sid == publication.sid

        out = io.audio_output
        assert out is not None
        start = time.monotonic()
        await out.capture_frame(tone(1.0))  # one big frame: the output splits and paces it
        out.flush()
        result = await asyncio.wait_for(out.wait_for_playout(), 10)
        elapsed = time.monotonic() - start
        assert not result.interrupted
        assert result.position == pytest.approx(1.0, abs=0.03)
        # paced: one second of audio takes about one second (loose upper bound for a busy machine)
        assert 0.9 <= elapsed < 3.0, elapsed

        await asyncio.sleep(0.5)  # the network tail
        loud = recorder.loud()
        heard = sum(f.duration for f in loud)
        assert 0.8 <= heard <= 1.2, heard
        assert loud[-1].t - loud[0].t >= 0.8  # it arrived over about a second, not in one burst
        await recorder.stop()
        await io.aclose()


async def test_clear_buffer_stops_the_remote_audio_promptly(livekit_server: LiveKitServer) -> None:
    async with rooms(livekit_server, "clear", "caller") as (agent, caller):
        io, _ = await start_io(agent)
        recorder = await listening_caller(caller)
        out = await play_until_heard(io, recorder, 3.0, heard=0.6)

        cleared_at = time.monotonic()
        out.clear_buffer()
        result = await asyncio.wait_for(out.wait_for_playout(), 5)
        assert result.interrupted
        await asyncio.sleep(1.0)

        loud = recorder.loud()
        heard_after_clear = sum(f.duration for f in loud if f.t > cleared_at)
        # what was in flight: the output's lookahead, a frame, the network and jitter buffer
        assert heard_after_clear <= 0.2, heard_after_clear
        heard = sum(f.duration for f in loud)
        assert heard < 1.5  # the remaining ~2 s were never played
        # position is what the caller heard, within a few frames
        assert result.position == pytest.approx(heard, abs=0.12), (result.position, heard)
        await recorder.stop()
        await io.aclose()


async def test_pause_holds_the_remote_audio_and_resume_plays_the_rest(livekit_server: LiveKitServer) -> None:
    async with rooms(livekit_server, "pause", "caller") as (agent, caller):
        io, _ = await start_io(agent)
        recorder = await listening_caller(caller)
        out = await play_until_heard(io, recorder, 1.5, heard=0.4)

        paused_at = time.monotonic()
        out.pause()
        await asyncio.sleep(0.8)
        resumed_at = time.monotonic()
        out.resume()
        result = await asyncio.wait_for(out.wait_for_playout(), 10)
        await asyncio.sleep(0.5)

        loud = recorder.loud()
        during_pause = sum(f.duration for f in loud if paused_at + 0.2 < f.t < resumed_at)
        assert during_pause == 0.0  # silent while paused (after what was already in flight)
        assert any(f.t > resumed_at for f in loud)  # and the rest came after the resume
        heard = sum(f.duration for f in loud)
        assert not result.interrupted
        assert result.position == pytest.approx(heard, abs=0.12), (result.position, heard)
        assert result.position > 1.3  # at most the lookahead was skipped
        await recorder.stop()
        await io.aclose()


async def test_the_first_words_wait_for_someone_to_listen(livekit_server: LiveKitServer) -> None:
    async with rooms(livekit_server, "late-listener") as (agent,):
        io, _ = await start_io(agent)
        out = io.audio_output
        assert out is not None

        async def speak() -> None:
            await out.capture_frame(tone(1.0))
            out.flush()

        speaking = asyncio.get_running_loop().create_task(speak())
        await asyncio.sleep(1.2)  # longer than the greeting: without waiting it would be lost
        caller = await connect(livekit_server, agent.name, "caller")
        try:
            recorder = AudioRecorder(caller, "agent")
            recorder.start()
            await asyncio.wait_for(speaking, 10)
            result = await asyncio.wait_for(out.wait_for_playout(), 10)
            await asyncio.sleep(0.5)
            assert not result.interrupted
            heard = sum(f.duration for f in recorder.loud())
            assert heard >= 0.8, heard  # the caller heard the greeting from its start
            await recorder.stop()
        finally:
            await caller.disconnect()
        await io.aclose()


def test_input_frame_duration_is_validated_with_the_bad_value() -> None:
    from livekitex_agent.rooms.livekit.audio_input import RoomAudioInput

    with pytest.raises(ValueError, match="0.5"):
        RoomAudioInput(frame_duration=0.5)
