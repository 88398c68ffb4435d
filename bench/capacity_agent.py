"""The agents of ``bench/worker_capacity.py``, in a module of their own.

The worker's forkserver imports the entrypoint's module before it forks any job process. A
script's ``__main__`` is not preloaded that way on Python 3.11 (the forkserver is not told the
main module's path), so the agents live here, under a real module name.

The worker's forkserver loads the Silero model (``WorkerOptions.preload_local``): every job process
forked afterwards shares its pages instead of loading its own.
"""

from __future__ import annotations

import os

from livekit import rtc

from livekitex_agent import Agent
from livekitex_agent.session import AgentSession
from livekitex_agent.testing import FakeLLM, FakeSTT, FakeTTS
from livekitex_agent.worker import JobContext, JobProcess

MAX_SESSION_SECONDS = 600  # the silent entrypoint's loop is bounded
USER_LINE = "what time is it in paris"
REPLY = "It is noon in Paris."


def prewarm(proc: JobProcess) -> None:
    """Once per job process: the Silero VAD its sessions share (its model is loaded once per process)."""
    from livekitex_agent.plugins import local

    vad = local.SileroVAD()
    vad.prewarm()  # a no-op if the forkserver loaded the model already
    proc.userdata["vad"] = vad


async def voice_agent_session(ctx: JobContext) -> None:
    """A full voice agent: Silero VAD and zero-delay fakes, heard and spoken through the room."""
    await ctx.connect()
    session = AgentSession(
        vad=ctx.proc.userdata["vad"],
        stt=FakeSTT(default=USER_LINE),
        llm=FakeLLM(default=REPLY, keep_requests=1),
        tts=FakeTTS(),
    )
    ctx.attach_session(session)
    await session.start(Agent("You tell the time."), room=ctx.room, input_sample_rate=16000)


async def silent_voice_session(ctx: JobContext) -> None:
    """Join, publish a microphone track and feed it paced 20 ms frames of silence until shut down."""
    await ctx.connect()
    source = rtc.AudioSource(48000, 1)
    track = rtc.LocalAudioTrack.create_audio_track("agent-voice", source)
    options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
    await ctx.room.local_participant.publish_track(track, options)
    frame = rtc.AudioFrame.create(48000, 1, 960)
    for _ in range(MAX_SESSION_SECONDS * 50):
        if ctx.is_shutting_down:
            break
        await source.capture_frame(frame)  # waits while the source's queue is full: real-time pacing


async def sbs_voice_session(ctx: JobContext) -> None:
    """``voice_agent_session`` that first appends its process id to ``$SBS_PIDS_FILE`` (capacity_sbs)."""
    pids = os.environ.get("SBS_PIDS_FILE")
    if pids:
        with open(pids, "a") as f:  # noqa: ASYNC230 - once per job, before it connects
            f.write(f"{os.getpid()}\n")
    await voice_agent_session(ctx)
