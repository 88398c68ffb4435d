"""The demo over a real local LiveKit server: the caller and the agent are participants in a room.

The demo starts ``livekit-server --dev`` on free loopback ports and an agent :class:`Worker`
(jobs run in this process) that registers with it; the caller joins a room and asks the server to
dispatch the agent there (explicit dispatch by agent name). The server offers the job to the
worker, the worker accepts, the agent joins, and the two talk over WebRTC audio tracks. The
caller follows the agent's ``lk.agent.state`` attribute to know when an answer is over. At the end
the caller hangs up, the session and the job end, and the worker and the server are stopped.
The call's audio is the session's own recording (what the agent heard and said).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import secrets
from collections.abc import Callable
from typing import Any

import numpy as np
from livekit import api, rtc

from ..agent import Agent
from ..config import load_worker_settings
from ..media.frame import AudioFrame
from ..rooms.livekit.conventions import ATTR_AGENT_STATE
from ..session import AgentSession
from ..testing.livekit_server import LiveKitServer, start_livekit_server
from ..testing.waiting import wait_until
from ..worker import JobContext, Worker, WorkerOptions
from ..worker.tokens import quiet_short_key_warning, sign
from .caller import CALLER_SAMPLE_RATE, ReplyTracker
from .record import CallRecorder

logger = logging.getLogger("livekitex_agent.demo")

AGENT_NAME = "bistro-concierge"
CALLER_IDENTITY = "caller"
AGENT_SAMPLE_RATE = 24000
FRAME_SAMPLES = CALLER_SAMPLE_RATE // 100  # 10 ms microphone frames
MAX_MIC_SECONDS = 600.0  # the microphone stops on its own after this long
TIMEOUT = 20.0  # for each step of setting up or ending the call


class _Microphone:
    """The caller's microphone: a published track that carries silence unless a clip is being said."""

    def __init__(self, room: rtc.Room) -> None:
        self.room = room
        self.source = rtc.AudioSource(CALLER_SAMPLE_RATE, 1, queue_size_ms=100)
        self.track = rtc.LocalAudioTrack.create_audio_track("caller-mic", self.source)
        self._pending: collections.deque[np.ndarray] = collections.deque()
        self._drained = asyncio.Event()
        self._drained.set()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        await self.room.local_participant.publish_track(self.track, options)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="demo-caller-mic")

    async def say(self, clip: AudioFrame) -> None:
        data = clip.data
        for i in range(0, data.size, FRAME_SAMPLES):
            chunk = data[i : i + FRAME_SAMPLES]
            if chunk.size < FRAME_SAMPLES:
                chunk = np.concatenate([chunk, np.zeros(FRAME_SAMPLES - chunk.size, dtype=np.int16)])
            self._pending.append(chunk)
        self._drained.clear()
        await self._drained.wait()

    async def _run(self) -> None:
        silence = np.zeros(FRAME_SAMPLES, dtype=np.int16)
        for _ in range(int(MAX_MIC_SECONDS * CALLER_SAMPLE_RATE / FRAME_SAMPLES)):
            speaking = bool(self._pending)
            chunk = self._pending.popleft() if speaking else silence
            if not speaking:
                self._drained.set()
            frame = rtc.AudioFrame(chunk.tobytes(), CALLER_SAMPLE_RATE, 1, FRAME_SAMPLES)
            await self.source.capture_frame(frame)  # paced: waits while the source's queue is full
        self._drained.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._drained.set()
        await self.source.aclose()


class LiveKitCall:
    """Caller ↔ agent through a local ``livekit-server`` (started and stopped here)."""

    name = "local LiveKit server (caller and agent in a room, the job dispatched by the server)"

    def __init__(self, recorder: CallRecorder) -> None:
        self.recorder = recorder
        self.replies = ReplyTracker()
        self.room_name = f"bistro-call-{secrets.token_hex(3)}"
        self._server: LiveKitServer | None = None
        self._worker: Worker | None = None
        self._api: api.LiveKitAPI | None = None
        self._room: rtc.Room | None = None
        self._mic: _Microphone | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._make_session: Callable[[], AgentSession] | None = None
        self._make_agent: Callable[[], Agent] | None = None
        self._session: AgentSession | None = None
        self._session_closed = asyncio.Event()
        self._job_ended = asyncio.Event()

    # -- set-up -------------------------------------------------------------------------------------
    async def prepare(self, view: Any) -> None:
        view.message("  starting livekit-server (127.0.0.1, dev keys) and an agent worker")
        server = self._server = await asyncio.to_thread(start_livekit_server)
        options = WorkerOptions(
            entrypoint=self._entrypoint,
            agent_name=AGENT_NAME,
            ws_url=server.url,
            api_key=server.api_key,
            api_secret=server.api_secret,
            executor="inprocess",  # the job runs on this event loop, next to the caller
            http_port=0,
            load_fnc=lambda: 0.0,
            drain_timeout=5.0,
            shutdown_timeout=5.0,
        )
        worker = self._worker = Worker(options, load_worker_settings(options.settings_defaults(), env={}))
        worker.on("job_ended", lambda *_: self._job_ended.set())
        await worker.start()
        worker_id = await worker.wait_registered(TIMEOUT)
        view.message(f"  livekit-server on {server.url}; worker {worker_id} registered as {AGENT_NAME!r}")

    async def open(self, make_session: Callable[[], AgentSession], make_agent: Callable[[], Agent]) -> None:
        assert self._server is not None, "prepare() first"
        server = self._server
        self._make_session, self._make_agent = make_session, make_agent
        room = self._room = rtc.Room()
        room.on("participant_attributes_changed", self._on_attributes)
        token = sign(
            api.AccessToken(server.api_key, server.api_secret)
            .with_identity(CALLER_IDENTITY)
            .with_name("Caller")
            .with_grants(api.VideoGrants(room_join=True, room=self.room_name))
        )
        await asyncio.wait_for(room.connect(server.url, token), TIMEOUT)
        self._mic = _Microphone(room)
        await self._mic.start()
        self.recorder.note("info", f"the caller joined room {self.room_name!r}; dispatching {AGENT_NAME!r}")
        self._api = api.LiveKitAPI(server.http_url, server.api_key, server.api_secret)
        with quiet_short_key_warning():  # the demo's own dev server: its short secret is no news
            await self._api.agent_dispatch.create_dispatch(
                api.CreateAgentDispatchRequest(agent_name=AGENT_NAME, room=self.room_name)
            )
        await wait_until(
            lambda: any(_is_agent(p) for p in room.remote_participants.values()),
            timeout=TIMEOUT,
            what="the agent to join the room",
        )

    async def _entrypoint(self, ctx: JobContext) -> None:
        """The agent's job, run by the worker when the server dispatches the room to it."""
        assert self._make_session is not None and self._make_agent is not None
        await ctx.connect()
        self.recorder.note("info", f"the server dispatched job {ctx.job.id}; the agent joined the room")
        session = self._session = self._make_session()
        self.recorder.attach(session)

        def on_close(_event: Any) -> None:
            self._session_closed.set()
            ctx.shutdown("the call ended")

        session.on("close", on_close)
        await session.start(
            self._make_agent(),
            room=ctx.room,
            participant_identity=CALLER_IDENTITY,
            input_sample_rate=CALLER_SAMPLE_RATE,
            output_sample_rate=AGENT_SAMPLE_RATE,
            disconnect_grace=0.5,
        )
        await self._session_closed.wait()

    # -- the caller's line ----------------------------------------------------------------------------
    def _on_attributes(self, changed: dict[str, str], participant: rtc.Participant) -> None:
        if _is_agent(participant) and ATTR_AGENT_STATE in changed:
            self.replies.on_state(changed[ATTR_AGENT_STATE])

    async def say(self, clip: AudioFrame) -> None:
        assert self._mic is not None
        await self._mic.say(clip)

    async def hang_up(self) -> None:
        await self._stop_caller()

    async def _stop_caller(self) -> None:
        if self._mic is not None:
            await self._mic.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self._room is not None and self._room.isconnected():
            await asyncio.wait_for(self._room.disconnect(), TIMEOUT)

    # -- tear-down ------------------------------------------------------------------------------------
    async def aclose(self) -> None:
        """Hang up if not done, let the session and the job end, stop the worker and the server."""
        try:
            await self._stop_caller()
            if self._make_session is not None:
                for event, what in ((self._session_closed, "session"), (self._job_ended, "job")):
                    try:
                        await asyncio.wait_for(event.wait(), TIMEOUT)
                    except TimeoutError:
                        logger.warning("the agent's %s did not end %.0f s after the hang-up", what, TIMEOUT)
            if self._worker is not None:
                # Worker.aclose logs "disconnected from the server" as a warning even when it is the
                # one closing; that is no news at the end of the demo
                worker_log = logging.getLogger("livekitex_agent.worker")
                level = worker_log.level
                worker_log.setLevel(max(logging.ERROR, level))
                try:
                    await asyncio.wait_for(self._worker.aclose(), TIMEOUT)
                finally:
                    worker_log.setLevel(level)
            if self._api is not None:
                await self._api.aclose()
        finally:
            if self._server is not None:
                await asyncio.to_thread(self._server.stop)
            if self._session is not None:
                self.recorder.session_report = self._session.report()


def _is_agent(participant: rtc.Participant) -> bool:
    return getattr(participant, "kind", None) == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT
