"""End to end through a real livekit-server: a caller speaks, the server dispatches the job to our
worker, the agent answers, and the caller hears it and receives its transcription.

The caller's speech is real (espeak-ng), the agent hears it with the energy VAD; STT, LLM and TTS
are the testing fakes, so the test is deterministic.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import numpy as np
import pytest
from livekit import api, rtc

from livekitex_agent import Agent, JobContext, RunContext, function_tool
from livekitex_agent.config import load_worker_settings
from livekitex_agent.plugins.local.espeak import synthesize_to_frame
from livekitex_agent.session import AgentSession
from livekitex_agent.testing import (
    FakeLLM,
    FakeLLMResponse,
    FakeSTT,
    FakeToolCall,
    FakeTTS,
    FakeVAD,
    wait_until,
)
from livekitex_agent.testing.livekit_server import LiveKitServer
from livekitex_agent.worker import Worker, WorkerOptions
from livekitex_agent.worker.tokens import sign

pytestmark = pytest.mark.livekit

REPLY = "It is sunny in Paris today."


class WeatherAgent(Agent):
    def __init__(self) -> None:
        super().__init__("You tell the weather.")

    @function_tool
    async def get_weather(self, ctx: RunContext, city: str) -> str:
        """Weather for a city."""
        return f"Sunny in {city}."


async def entrypoint(ctx: JobContext) -> None:
    await ctx.connect()
    session = AgentSession(
        vad=FakeVAD(),
        stt=FakeSTT(["what is the weather in paris"]),
        llm=FakeLLM([FakeLLMResponse(tool_calls=[FakeToolCall("get_weather", {"city": "Paris"})]), REPLY]),
        tts=FakeTTS(),
    )
    closed = asyncio.Event()
    session.on("close", lambda _e: closed.set())
    await session.start(WeatherAgent(), room=ctx.room, input_sample_rate=16000)
    await closed.wait()


@pytest.fixture
async def worker(livekit_server: LiveKitServer) -> AsyncIterator[Worker]:
    options = WorkerOptions(
        entrypoint=entrypoint,
        ws_url=livekit_server.url,
        api_key=livekit_server.api_key,
        api_secret=livekit_server.api_secret,
        http_port=0,
        executor="inprocess",
        load_fnc=lambda: 0.0,
    )
    w = Worker(options, load_worker_settings(options.settings_defaults(), env={}))
    await w.start()
    await w.wait_registered(20)
    try:
        yield w
    finally:
        await asyncio.wait_for(w.aclose(), 20)


def caller_token(server: LiveKitServer, room: str) -> str:
    grants = api.VideoGrants(room_join=True, room=room)
    return sign(
        api.AccessToken(server.api_key, server.api_secret)
        .with_identity("caller")
        .with_grants(grants)
    )


async def test_a_caller_talks_to_a_dispatched_agent(livekit_server: LiveKitServer, worker: Worker) -> None:
    speech = await synthesize_to_frame("What is the weather in Paris?", voice="en-us+f3", sample_rate=16000)
    room = rtc.Room()
    agent_audio: list[tuple[float, int, float]] = []  # (arrival time, peak, seconds)
    transcripts: list[tuple[str, dict[str, str]]] = []
    tasks: list[asyncio.Task[None]] = []

    async def read_audio(track: rtc.Track) -> None:
        async for ev in rtc.AudioStream(track, sample_rate=24000, num_channels=1):
            data = np.frombuffer(ev.frame.data, dtype=np.int16)
            agent_audio.append(
                (time.monotonic(), int(np.abs(data).max()) if data.size else 0, data.size / 24000)
            )

    def on_track(track: rtc.Track, pub: rtc.RemoteTrackPublication, p: rtc.RemoteParticipant) -> None:
        if pub.kind == rtc.TrackKind.KIND_AUDIO and p.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT:
            tasks.append(asyncio.get_running_loop().create_task(read_audio(track)))

    async def read_text(reader: rtc.TextStreamReader, identity: str) -> None:
        text = await reader.read_all()
        transcripts.append((text, dict(reader.info.attributes or {})))

    room.on("track_subscribed", on_track)
    room.register_text_stream_handler(
        "lk.transcription",
        lambda reader, identity: tasks.append(
            asyncio.get_running_loop().create_task(read_text(reader, identity))
        ),
    )
    name = f"call-{uuid.uuid4().hex[:8]}"
    try:
        await asyncio.wait_for(room.connect(livekit_server.url, caller_token(livekit_server, name)), 10)
        # the server dispatches the room to our worker; wait for the agent to join and publish its voice
        await wait_until(
            lambda: any(
                p.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT
                for p in room.remote_participants.values()
            ),
            timeout=20,
            what="the agent to join",
        )
        assert [j["room"] for j in worker.status_snapshot()["jobs"]] == [name]

        source = rtc.AudioSource(16000, 1, queue_size_ms=200)
        track = rtc.LocalAudioTrack.create_audio_track("mic", source)
        subscribed = asyncio.Event()  # the agent subscribed to our microphone: it hears from now on
        room.on("local_track_subscribed", lambda _track: subscribed.set())
        await room.local_participant.publish_track(
            track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        )
        await asyncio.wait_for(subscribed.wait(), 10)
        said_at = time.monotonic()
        clip = np.concatenate([speech.data, np.zeros(16000 * 4, np.int16)])
        for i in range(0, clip.size - 160 + 1, 160):  # 10 ms frames, paced by the source
            chunk = clip[i : i + 160]
            await source.capture_frame(rtc.AudioFrame(chunk.tobytes(), 16000, 1, 160))
            if any(text == REPLY for text, _ in transcripts):
                break
        await wait_until(
            lambda: any(text == REPLY for text, _ in transcripts) and _loud_seconds(agent_audio) > 0,
            timeout=10,
            what="the agent's answer",
        )
    finally:
        await asyncio.wait_for(room.disconnect(), 10)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # the caller heard the agent: non-silent audio as long as the fake voice of the reply...
    heard = _loud_seconds(agent_audio)
    assert heard == pytest.approx(FakeTTS().duration_for(REPLY), abs=0.25)
    first_loud = min(t for t, peak, _ in agent_audio if peak > 1000)
    speech_end = said_at + speech.duration
    assert first_loud - speech_end < 5.0, "the answer came too late"
    # ...and got its words as a final transcription of the agent's track
    final = [(text, attrs) for text, attrs in transcripts if text == REPLY]
    assert final and final[0][1].get("lk.transcription_final") == "true"
    assert final[0][1].get("lk.transcribed_track_id")
    # the user's words were transcribed for the caller too
    assert any(text == "what is the weather in paris" for text, _ in transcripts)


def _loud_seconds(frames: list[tuple[float, int, float]]) -> float:
    return sum(seconds for _, peak, seconds in frames if peak > 1000)
