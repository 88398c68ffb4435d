"""The realtime engine: one speech-to-speech session carries the whole turn (VAD, LLM, voice).

It feeds the user's audio to the model, turns the model's events into session events and history
items, plays each response through the session's audio output, runs tools through the same
executor as the pipeline, and cuts interrupted replies to what was heard. It also keeps the recent
input audio, so that a switch to the pipeline can replay the user's turn in flight.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..agent import Agent
from ..chat import ChatMessage, FunctionCallOutput
from ..errors import ProviderError
from ..events import AgentState, FunctionToolsExecutedEvent, UserInputTranscribedEvent, UserState
from ..media.frame import AudioFrame
from ..media.resample import Resampler
from ..metrics import TurnMetrics
from ..providers import realtime as rt
from ..tools.context import RunContext
from ..tools.executor import ToolExecutor
from .generation import CANCELLED_TOOL_OUTPUT
from .speech import SpeechHandle

if TYPE_CHECKING:
    from .agent_session import AgentSession

logger = logging.getLogger("livekitex_agent.session")

REPLAY_PADDING = 0.3  # seconds of audio kept before the user's speech started, for the VAD


@dataclass
class _Played:
    message: ChatMessage
    source: rt.MessageGeneration
    audio_seconds: float = 0.0

    @property
    def item_id(self) -> str:
        return self.source.item_id


class InputBuffer:
    """The last ``max_seconds`` of input frames with their loop times (frames are shared, not copied)."""

    def __init__(self, max_seconds: float = 30.0) -> None:
        self._frames: collections.deque[tuple[float, AudioFrame]] = collections.deque()
        self._max = max_seconds

    def push(self, t: float, frame: AudioFrame) -> None:
        self._frames.append((t, frame))
        while self._frames and t - self._frames[0][0] > self._max:
            self._frames.popleft()

    def since(self, t: float) -> list[AudioFrame]:
        return [f for ft, f in self._frames if ft >= t]


class RealtimeEngine:
    """Runs the conversation on a :class:`~livekitex_agent.providers.realtime.RealtimeSession`."""

    def __init__(
        self,
        session: AgentSession,
        model: rt.RealtimeModel,
        *,
        on_failure: Callable[[str], None],
        connect_timeout: float = 5.0,
        reconnect_grace: float | None = 3.0,
    ) -> None:
        self._session = session
        self._model = model
        self._rt = model.session()
        self._on_failure = on_failure
        self._connect_timeout = connect_timeout
        self._reconnect_grace = reconnect_grace
        self._loop = asyncio.get_running_loop()
        self._buffer = InputBuffer()
        self._events_task: asyncio.Task[None] | None = None
        self._grace_timer: asyncio.TimerHandle | None = None
        self._turn_start: float | None = None  # the user's turn not answered yet began here
        self._outage_start: float | None = None
        self._speech_stopped_at: float | None = None
        self._in_flight: list[_Played] = []  # messages of the reply being played
        self._failed = False
        self._closed = False

    @property
    def failed(self) -> bool:
        return self._failed

    # -- lifecycle --------------------------------------------------------------------------------
    async def start(self, agent: Agent) -> None:
        """Connect and load the agent and the history; raises :class:`ProviderError` on failure."""
        try:
            async with asyncio.timeout(self._connect_timeout):
                await self._rt.connect()
        except TimeoutError:
            await self._rt.aclose()
            raise ProviderError(
                f"no connection within {self._connect_timeout:g}s", provider=self._model.label, retryable=True
            ) from None
        except BaseException:
            await self._rt.aclose()
            raise
        await self.load_agent(agent)
        self._events_task = self._loop.create_task(self._read_events(), name="realtime-events")

    async def load_agent(self, agent: Agent) -> None:
        await self._rt.update_instructions(agent.instructions)
        await self._rt.update_tools(agent.tools)
        await self._rt.update_chat_ctx(self._session.history)

    async def aclose(self) -> None:
        self._closed = True
        if self._grace_timer is not None:
            self._grace_timer.cancel()
        if self._events_task is not None:
            self._events_task.cancel()
            await asyncio.gather(self._events_task, return_exceptions=True)
        await self._rt.aclose()

    # -- input ------------------------------------------------------------------------------------
    def push_audio(self, frame: AudioFrame) -> None:
        self._buffer.push(self._loop.time(), frame)
        self._rt.push_audio(frame)

    def unanswered_audio(self) -> list[AudioFrame]:
        """Input the model has not answered: the user's turn in flight and anything said during an outage."""
        starts = [t for t in (self._turn_start, self._outage_start) if t is not None]
        return self._buffer.since(min(starts)) if starts else []

    # -- replies asked by the application ---------------------------------------------------------
    async def generate_reply(self, speech: SpeechHandle, instructions: str | None) -> None:
        await self._rt.update_chat_ctx(self._session.history)
        gen = await self._rt.generate_reply(instructions)
        await self.play(speech, gen)

    async def interrupt(self) -> None:
        with contextlib.suppress(ProviderError):
            await self._rt.interrupt()

    # -- model events -----------------------------------------------------------------------------
    async def _read_events(self) -> None:
        async for event in self._rt.events():
            try:
                self._handle(event)
            except Exception:
                logger.exception("handling realtime event %s failed", getattr(event, "type", event))

    def _handle(self, ev: rt.RealtimeEvent) -> None:
        s = self._session
        if isinstance(ev, rt.InputSpeechStarted):
            self._turn_start = self._loop.time() - REPLAY_PADDING
            s._set_user_state(UserState.SPEAKING)
            current = s.current_speech
            if current is not None and current.allow_interruptions and s.options.allow_interruptions:
                s.interrupt()
        elif isinstance(ev, rt.InputSpeechStopped):
            self._speech_stopped_at = self._loop.time()
            s._set_user_state(UserState.LISTENING)
        elif isinstance(ev, rt.InputAudioCommitted):
            # a placeholder under the server's id keeps the server item from being deleted by a sync
            msg = ChatMessage(role="user", content="", id=ev.item_id)
            s.history.insert_after(ev.previous_item_id, msg)
        elif isinstance(ev, rt.InputTranscriptionDelta):
            s._emit("user_input_transcribed", UserInputTranscribedEvent(transcript=ev.delta, is_final=False))
        elif isinstance(ev, rt.InputTranscriptionCompleted):
            self._transcribed(ev.item_id, ev.transcript)
        elif isinstance(ev, rt.InputTranscriptionFailed):
            logger.warning("input transcription of %s failed: %s", ev.item_id, ev.message)
        elif isinstance(ev, rt.GenerationCreated):
            if not ev.generation.user_initiated:  # ours are played by whoever asked for them
                self._server_reply(ev.generation)
        elif isinstance(ev, rt.RealtimeErrorEvent):
            s._report_error(ev.error, source="realtime", recoverable=True)
        elif isinstance(ev, rt.ConnectionStateChanged):
            self._connection_changed(ev)
        elif isinstance(ev, rt.UsageCollected):
            s._emit_usage(ev.usage)

    def _transcribed(self, item_id: str, transcript: str) -> None:
        s = self._session
        text = transcript.strip()
        item = s.history.get(item_id)
        if isinstance(item, ChatMessage):
            item.content = text
            s.history.update_item(item)
        else:
            item = ChatMessage(role="user", content=text, id=item_id)
            s.history.append(item)
        if text:
            s._emit("user_input_transcribed", UserInputTranscribedEvent(transcript=text, is_final=True))
        s._emit_item_added(item)

    def _server_reply(self, gen: rt.RealtimeGeneration) -> None:
        s = self._session
        speech = s._new_speech("generate_reply", None, user_initiated=False)
        s._enqueue(speech, lambda: self.play(speech, gen))

    def _connection_changed(self, ev: rt.ConnectionStateChanged) -> None:
        if ev.new is rt.ConnectionState.RECONNECTING and self._outage_start is None:
            self._outage_start = self._loop.time()
            logger.warning("realtime connection lost (%s); reconnecting", ev.reason)
            if self._reconnect_grace is not None:
                self._grace_timer = self._loop.call_later(
                    self._reconnect_grace, self._fail, f"reconnect took over {self._reconnect_grace:g}s"
                )
        elif ev.reconnected:
            if self._grace_timer is not None:
                self._grace_timer.cancel()
                self._grace_timer = None
            # what the user said while we were offline goes to the new connection
            outage = self._buffer.since(self._outage_start) if self._outage_start is not None else []
            self._outage_start = None
            for frame in outage:
                self._rt.push_audio(frame)
            logger.info("realtime reconnected; replayed %.1fs of input", sum(f.duration for f in outage))
        elif ev.new is rt.ConnectionState.FAILED:
            self._fail(ev.reason or (str(ev.error) if ev.error else "realtime session failed"))

    def _fail(self, reason: str) -> None:
        if self._failed or self._closed:
            return
        self._failed = True
        # whatever the failed model was saying did not get said in full
        for entry in self._in_flight:
            entry.message.interrupted = True
        self._on_failure(reason)

    @property
    def _usable(self) -> bool:
        return not (self._failed or self._closed)

    # -- playing a response -----------------------------------------------------------------------
    async def play(self, speech: SpeechHandle, gen: rt.RealtimeGeneration) -> None:
        """Play ``gen`` and the responses to its tool calls (as one speech), interruptibly."""
        s = self._session
        s._current_generation = self
        self._playback_started_at: float | None = None
        played: list[_Played] = []
        self._in_flight = played
        work = self._loop.create_task(
            self._play_steps(speech, gen, played), name=f"realtime-play:{speech.id}"
        )
        stop = self._loop.create_task(speech.wait_for_interrupt())
        try:
            await asyncio.wait({work, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            if not work.done():
                work.cancel()
                if self._usable:
                    await self.interrupt()
            await asyncio.gather(work, stop, return_exceptions=True)
            out = s._io.audio_output if s._io else None
            position = None
            if out is not None and any(p.audio_seconds > 0 for p in played):
                failed = not work.cancelled() and work.exception() is not None
                if speech.interrupted or work.cancelled() or failed:
                    out.clear_buffer()  # a failed reply is cut: the next engine answers in full
                    for entry in played:
                        entry.message.interrupted = True
                position = (await out.wait_for_playout()).position
            if s._io and s._io.text_output:
                s._io.text_output.flush()
            if (speech.interrupted or played and played[-1].message.interrupted) and played:
                await self._truncate(played[-1], position)
            self._in_flight = []
            self._emit_metrics(speech)
        if not work.cancelled() and (error := work.exception()) is not None:
            s._report_error(error, source="realtime", recoverable=True)

    async def _play_steps(
        self, speech: SpeechHandle, gen: rt.RealtimeGeneration, played: list[_Played]
    ) -> None:
        s = self._session
        agent = s.current_agent
        executor = ToolExecutor(
            agent.tool_registry,
            make_context=lambda call: RunContext(session=s, speech_handle=speech, function_call=call),
            handoff_types=(Agent,),
        )
        handoff: Agent | None = None
        out = s._io.audio_output if s._io else None
        for step in range(s.options.max_tool_steps + 1):
            audio_written = False
            async for msg in gen.messages:
                entry = _Played(ChatMessage(role="assistant", content="", id=msg.item_id), msg)
                played.append(entry)
                text_task = self._loop.create_task(self._forward_text(msg))
                try:
                    resampler: Resampler | None = None
                    async for frame in msg.audio_stream:
                        if out is None:
                            continue
                        if out.sample_rate and frame.sample_rate != out.sample_rate:
                            resampler = resampler or Resampler(out.sample_rate)
                            converted = resampler.push(frame)
                            if converted is None:
                                continue
                            frame = converted
                        self._turn_start = None  # the user's turn is being answered
                        entry.audio_seconds += frame.duration
                        audio_written = True
                        await out.capture_frame(frame)
                    await text_task
                finally:
                    text_task.cancel()
                entry.message.content = msg.text.strip()
                if entry.message.content:
                    self._turn_start = None
                    s._add_history_item(entry.message, after=s.history.last_id)
            calls = [call async for call in gen.function_calls]
            result = await gen.done
            if result.status != "completed":
                for entry in played:
                    entry.message.interrupted = True
            if result.status == "failed":
                raise ProviderError(
                    f"realtime response failed ({result.error_code or result.reason or 'unknown'})",
                    provider=self._model.label,
                    retryable=result.error_code == "inference_rate_limit_exceeded",
                )
            if out is not None and audio_written:
                out.flush()
                await out.wait_for_playout()
            if not calls or result.status == "cancelled":
                break
            for call in calls:
                s._add_history_item(call)
            if not audio_written:
                s._set_agent_state(AgentState.THINKING)
            results = await executor.execute(calls)
            outputs = [
                r.output or FunctionCallOutput(call.call_id, call.name, CANCELLED_TOOL_OUTPUT, is_error=True)
                for call, r in zip(calls, results, strict=True)
            ]
            for o in outputs:
                s._add_history_item(o)
            s._emit(
                "function_tools_executed",
                FunctionToolsExecutedEvent(function_calls=calls, function_call_outputs=outputs),
            )
            handoff = next((r.handoff for r in results if r.handoff is not None), None)
            last = step >= s.options.max_tool_steps
            next_gen = await self._rt.send_tool_outputs(outputs, reply=handoff is None and not last)
            if next_gen is None:
                break
            gen = next_gen
        if handoff is not None:
            await s.update_agent(handoff)

    async def _forward_text(self, msg: rt.MessageGeneration) -> None:
        text_out = self._session._io.text_output if self._session._io else None
        first = True
        async for delta in msg.text_stream:
            if text_out is not None and delta:
                await text_out.capture_text(delta if not first else delta.lstrip())
                first = False

    def on_playback_started(self, t: float) -> None:
        if self._playback_started_at is None:
            self._playback_started_at = t
            self._session._set_agent_state(AgentState.SPEAKING)

    async def _truncate(self, entry: _Played, position: float | None) -> None:
        """Cut the interrupted message, here and on the server, to what the user heard."""
        heard = entry.audio_seconds if position is None else min(position, entry.audio_seconds)
        text = entry.source.text.strip()
        if entry.audio_seconds > 0:
            words = text.split()
            text = " ".join(words[: int(len(words) * heard / entry.audio_seconds)])
        entry.message.content = text
        entry.message.interrupted = True
        s = self._session
        if s.history.get(entry.item_id) is None and text:
            s._add_history_item(entry.message, after=s.history.last_id)
        else:
            s.history.update_item(entry.message)
        if self._usable:
            with contextlib.suppress(ProviderError):
                await self._rt.truncate(
                    entry.item_id, rt.audio_end_ms(heard * 1000, entry.source.audio_bytes)
                )

    def _emit_metrics(self, speech: SpeechHandle) -> None:
        stopped, started = self._speech_stopped_at, self._playback_started_at
        if stopped is None or started is None or started < stopped:
            return
        m = TurnMetrics(speech_id=speech.id, engine="realtime", interrupted=speech.interrupted)
        m.e2e_latency = started - stopped
        self._session._emit_metrics(m)
        self._speech_stopped_at = None
