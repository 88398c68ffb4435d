"""The realtime engine: one speech-to-speech session carries the whole turn (VAD, LLM, voice).

It feeds the user's audio to the model, turns the model's events into session events and history
items, and answers each turn with a :class:`~.realtime_reply.RealtimeReply`. It follows the turn in
flight with a :class:`~.turn_guard.TurnGuard`: a dropped connection or a stalled model is recovered
(reconnect, then the answer is asked for again), and when the model fails, the turn is handed to the
pipeline exactly once. It keeps the recent input audio, so that the pipeline can hear what the model
did not answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from ..agent import Agent
from ..chat import ChatMessage
from ..errors import ProviderError, ProviderTimeoutError
from ..events import (
    UserInputTranscribedEvent,
    UserState,
)
from ..media.frame import AudioFrame
from ..providers import realtime as rt
from .host import SessionHost
from .realtime_host import AnswerCut, Stalled
from .realtime_input import UserInput
from .realtime_liveness import DeafModelWatch
from .realtime_outage import Outage
from .realtime_reply import RealtimeReply
from .realtime_stall import RealtimeStallTimeouts, ResponseDue
from .speech import SpeechHandle
from .turn_guard import (
    MAX_DROPS_PER_TURN,
    MAX_STALLS_PER_TURN,
    Turn,
    TurnGuard,
    TurnHandedOver,
    TurnPhase,
    UntranscribedTurn,
)

logger = logging.getLogger("livekitex_agent.session")

HandOver = Callable[[SpeechHandle, TurnHandedOver, str | None], Coroutine[Any, Any, None]]


class RealtimeEngine:
    """Runs the conversation on a :class:`~livekitex_agent.providers.realtime.RealtimeSession`.

    ``on_failure(reason)`` is called once when the model is unusable; ``hand_over`` answers a turn
    the failed model left unanswered (the pipeline), in the speech that owned it.
    """

    def __init__(
        self,
        session: SessionHost,
        model: rt.RealtimeModel,
        *,
        on_failure: Callable[[str], None],
        hand_over: HandOver,
        connect_timeout: float = 5.0,
        reconnect_grace: float | None = 3.0,
        stall_timeouts: RealtimeStallTimeouts | None = None,
    ) -> None:
        self.session = session
        self._model = model
        self.rt = model.session()
        self.label = model.label
        self.handoff_types: tuple[type, ...] = (Agent,)
        self.guard = TurnGuard()
        self.stall_timeouts = stall_timeouts or RealtimeStallTimeouts()
        self.speech_stopped_at: float | None = None
        self._on_failure = on_failure
        self._hand_over = hand_over
        self._connect_timeout = connect_timeout
        self._loop = asyncio.get_running_loop()
        self._events_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._drop_requested = False  # a stalled connection is being dropped
        self._quiet_since: float | None = None
        self._response_due = ResponseDue(self.stall_timeouts.response_created, self._no_response)
        self._changed = asyncio.Event()  # set (and replaced) at every connection change
        self._outage = Outage(session.emit, grace=reconnect_grace, on_grace_over=self.fail)
        self._input = UserInput(  # with server turn detection: notices a model that stopped hearing the user
            DeafModelWatch(self.rt.probe, timeout=self.stall_timeouts.response_created, on_deaf=self._model_deaf)
            if model.options.turn_detection is not None else None
        )
        self._unheard_stalls = 0
        self.untranscribed: UntranscribedTurn | None = None  # on failure: the turn the model never transcribed
        self._failed = False
        self._closed = False
        self.failure_noticed_at: float | None = None
        self.failure_error: ProviderError | None = None  # what made the model fail, when it said

    @property
    def failed(self) -> bool:
        return self._failed or self.rt.state in (rt.ConnectionState.FAILED, rt.ConnectionState.CLOSED)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def owner_answers_turn(self) -> bool:
        """After a failure: the speech that owned the turn in flight answers it on the pipeline (a
        speech already done, e.g. dropped from the queue, cannot)."""
        turn = self.guard.turn
        return turn is not None and turn.owner is not None and self.guard.handed_to(turn, turn.owner) \
            and not turn.owner.done()

    # -- lifecycle --------------------------------------------------------------------------------
    async def start(self, agent: Agent) -> None:
        """Connect and load the agent and the history; raises :class:`ProviderError` on failure."""
        try:
            async with asyncio.timeout(self._connect_timeout):
                await self.rt.connect()
        except TimeoutError:
            await self.rt.aclose()
            raise ProviderError(
                f"no connection within {self._connect_timeout:g}s", provider=self.label, retryable=True
            ) from None
        except BaseException:
            await self.rt.aclose()
            raise
        await self.load_agent(agent)
        self._events_task = self._loop.create_task(self._read_events(), name="realtime-events")

    async def load_agent(self, agent: Agent) -> None:
        await self.rt.update_instructions(agent.instructions)
        await self.rt.update_tools(agent.tools)
        await self.rt.update_chat_ctx(self.session.history)

    async def aclose(self) -> None:
        self._closed = True
        self._cancel_timers()
        self._wake()
        if self._input.deaf is not None:
            await self._input.deaf.aclose()
        tasks = [t for t in (self._events_task, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.rt.aclose()

    def _cancel_timers(self) -> None:
        self._outage.cancel()
        self._response_due.cancel()

    # -- input ------------------------------------------------------------------------------------
    def push_audio(self, frame: AudioFrame) -> None:
        self._input.push(self._loop.time(), frame)
        self.rt.push_audio(frame)

    def unanswered_audio(self) -> list[AudioFrame]:
        """Input the pipeline's listener must hear: what was said during an outage, and the user's
        words not committed yet (a committed turn without transcript goes to the pipeline's STT)."""
        return self._input.for_pipeline(self._outage.start)

    # -- answering --------------------------------------------------------------------------------
    async def answer(
        self, speech: SpeechHandle, gen: rt.RealtimeGeneration | None, instructions: str | None
    ) -> None:
        """Answer in ``speech``: play ``gen`` (or ask the model), and hand over if the model fails."""
        try:
            await RealtimeReply(self, speech).run(gen, instructions)
        except TurnHandedOver as h:
            await self._hand_over(speech, h, instructions)

    async def wait_connected(self) -> bool:
        """Until the model is connected (True) or failed / closed (False)."""
        while not self.failed and not self._closed:
            if self.rt.state is rt.ConnectionState.CONNECTED and not self._drop_requested:
                return True
            await self._changed.wait()
        return False

    async def request(self, instructions: str | None) -> rt.RealtimeGeneration:
        """Ask the model for a response; :class:`Stalled` if it is not created in time,
        :class:`AnswerCut` if the connection goes (or is gone for good)."""
        if not await self.wait_connected():
            raise AnswerCut("the realtime model failed")
        await self.rt.update_chat_ctx(self.session.history)
        limit, asked = self.stall_timeouts.response_created, self._loop.time()
        try:
            async with asyncio.timeout(limit):
                return await self.rt.generate_reply(instructions)
        except (TimeoutError, ProviderTimeoutError):
            raise Stalled(f"no response.created within {limit:g}s", asked) from None
        except ProviderError as e:
            if self.failed or (e.retryable and self.rt.state is not rt.ConnectionState.CONNECTED):
                raise AnswerCut(e.message) from None
            raise

    def turn_lost(self, turn: Turn, reason: str, *, stalled: bool, since: float | None = None) -> None:
        """The turn's answer was cut (drop) or never came (a stall, quiet since loop time ``since``):
        recover, or fail past the limits."""
        if not self.guard.current(turn) or self.failed:
            return
        if stalled:
            turn.stalls += 1
        else:
            turn.drops += 1
        if turn.stalls > MAX_STALLS_PER_TURN or turn.drops > MAX_DROPS_PER_TURN:
            what = f"the realtime model {'stalled' if stalled else 'lost its answer'} again during one turn ({reason})"
            if self.session.can_run_pipeline:
                self.fail(what)
                return
            # nobody to hand the turn to: say so, and keep the model for the next turn
            self.session.report_error(ProviderError(what, provider=self.label, retryable=True),
                                       source="realtime", recoverable=True)
            self.guard.move(TurnPhase.IDLE, "given up: there is no pipeline to answer it")
            if stalled:
                self._spawn_reconnect(reason, since)
            return
        logger.warning("realtime turn %s: %s; recovering", "stalled" if stalled else "cut", reason)
        self.guard.move(TurnPhase.RECOVERING, reason)
        if stalled:
            self._spawn_reconnect(reason, since)

    def _spawn_reconnect(self, reason: str, since: float | None) -> None:
        if self.rt.state is rt.ConnectionState.CONNECTED:
            self._drop_requested = True  # not usable until the new connection is up
            self._quiet_since = since  # the outage (and its grace) began when the model went quiet
        task = self._loop.create_task(self._reconnect(reason), name="realtime-stall-reconnect")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _reconnect(self, reason: str) -> None:
        try:
            await self.rt.reconnect(reason)
        except ProviderError as e:
            self.fail(f"cannot reconnect after a stall: {e.message}")

    def handed_over(self, turn: Turn) -> TurnHandedOver:
        return TurnHandedOver(partial=turn.partial, untranscribed=self.untranscribed)

    # -- model events -----------------------------------------------------------------------------
    async def _read_events(self) -> None:
        async for event in self.rt.events():
            if self._input.deaf is not None:
                self._input.deaf.heard()
            try:
                self._handle(event)
            except Exception:
                logger.exception("handling realtime event %s failed", getattr(event, "type", event))

    def _handle(self, ev: rt.RealtimeEvent) -> None:
        s = self.session
        if isinstance(ev, rt.InputSpeechStarted):
            self._input.speech_started(self._loop.time())
            s.set_user_state(UserState.SPEAKING)
            current = s.current_speech
            if current is not None and current.allow_interruptions and s.options.allow_interruptions:
                s.interrupt()
        elif isinstance(ev, rt.InputSpeechStopped):
            self.speech_stopped_at = self._loop.time()
            self._input.speaking = False
            s.set_user_state(UserState.LISTENING)
        elif isinstance(ev, rt.InputAudioCommitted):
            self._committed(ev)
        elif isinstance(ev, rt.InputTranscriptionDelta):
            s.emit("user_input_transcribed", UserInputTranscribedEvent(transcript=ev.delta, is_final=False))
        elif isinstance(ev, rt.InputTranscriptionCompleted):
            self._transcribed(ev.item_id, ev.transcript)
        elif isinstance(ev, rt.InputTranscriptionFailed):
            logger.warning("input transcription of %s failed: %s", ev.item_id, ev.message)
        elif isinstance(ev, rt.GenerationCreated):
            self._response_due.created(ev.generation)
            self._unheard_stalls = 0
            if not ev.generation.user_initiated:  # ours are played by whoever asked for them
                self._server_reply(ev.generation)
        elif isinstance(ev, rt.RealtimeErrorEvent):
            if ev.fatal:  # it fails the session: reported with the failure (and how it was recovered)
                self.failure_error = self.failure_error or ev.error
            else:
                s.report_error(ev.error, source="realtime", recoverable=True)
        elif isinstance(ev, rt.ConnectionStateChanged):
            self._connection_changed(ev)
        elif isinstance(ev, rt.UsageCollected):
            s.emit_usage(ev.usage)

    def _committed(self, ev: rt.InputAudioCommitted) -> None:
        s = self.session
        self._input.committed()
        self._unheard_stalls = 0
        # a placeholder under the server's id keeps the server item from being deleted by a sync
        s.history.insert_after(ev.previous_item_id, ChatMessage(role="user", content="", id=ev.item_id))
        td = self._model.options.turn_detection
        if td is not None and td.create_response:
            turn = self.guard.begin("the user's turn ended", user_item_id=ev.item_id)
            if self._input.turn_start is not None:
                turn.spoken = (self._input.turn_start, self._loop.time())
            self._response_due.expect()

    def _no_response(self, reason: str, since: float) -> None:
        turn, guard = self.guard.turn, self.guard
        if turn is not None and guard.phase is TurnPhase.AWAITING and turn.owner is None:
            self.turn_lost(turn, reason, stalled=True, since=since)

    def _model_deaf(self, since: float) -> None:
        """The user spoke and stopped, and the model said nothing since (loop time ``since``) nor
        answered a probe: its connection is dead. Reconnect (and say the user's words again), or fail."""
        if self.failed or self._closed or self.rt.state is not rt.ConnectionState.CONNECTED or self._drop_requested:
            return
        reason = "the model said nothing after the user spoke and did not answer a probe"
        turn = self.guard.turn
        if turn is not None and self.guard.in_flight:
            self.turn_lost(turn, reason, stalled=True, since=since)
            return
        self._input.mark_unheard(since)
        self._unheard_stalls += 1
        if self._unheard_stalls > MAX_STALLS_PER_TURN and self.session.can_run_pipeline:
            self.fail(reason)
        else:
            self._spawn_reconnect(reason, since)

    def _transcribed(self, item_id: str, transcript: str) -> None:
        s = self.session
        text = transcript.strip()
        item = s.history.get(item_id)
        if isinstance(item, ChatMessage):
            item.content = text
            s.history.update_item(item)
        else:
            item = ChatMessage(role="user", content=text, id=item_id)
            s.history.append(item)
        if text:
            s.emit("user_input_transcribed", UserInputTranscribedEvent(transcript=text, is_final=True))
        s.announce_item(item)

    def _server_reply(self, gen: rt.RealtimeGeneration | None) -> None:
        """A response the server started (or the re-request of an unowned turn) gets a speech."""
        s, guard = self.session, self.guard
        speech = s.new_speech("generate_reply", None, user_initiated=False)
        turn = guard.turn
        if turn is None or not guard.in_flight or turn.owner is not None:
            turn = guard.begin("the model started a response")
        turn.owner = speech
        if gen is not None and guard.phase is TurnPhase.AWAITING:
            guard.move(TurnPhase.ANSWERING, "response created")
        s.enqueue(speech, lambda: self.answer(speech, gen, None))

    # -- the connection ---------------------------------------------------------------------------
    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _connection_changed(self, ev: rt.ConnectionStateChanged) -> None:
        if ev.new is not rt.ConnectionState.CONNECTED:
            self._drop_requested = False
        if ev.new is rt.ConnectionState.RECONNECTING:
            quiet, self._quiet_since = self._quiet_since, None
            if self._outage.lost(ev.reason, ev.attempt, since=quiet):
                turn = self.guard.turn
                if turn is not None and turn.owner is None and self.guard.phase is TurnPhase.AWAITING:
                    self._response_due.cancel()
                    self.turn_lost(turn, ev.reason or "connection lost", stalled=False)
        elif ev.reconnected:
            start = self._outage.start
            outage = self._outage.restored(ev.reason)
            # what the user said while we were offline (or had begun to say) goes to the new connection
            replay = self._input.for_new_connection(start)
            for frame in replay:
                self.rt.push_audio(frame)
            logger.info("realtime reconnected after %.2fs; replayed %.1fs of input",
                        outage, sum(f.duration for f in replay))
            if self._input.unheard_from is not None and self._input.deaf is not None:
                self._input.deaf.replayed()  # the new connection must react to the user's words
            turn = self.guard.turn
            if turn is not None and turn.owner is None and self.guard.phase is TurnPhase.RECOVERING:
                self._server_reply(None)  # nobody answers that turn yet: ask for its answer
        elif ev.new is rt.ConnectionState.FAILED:
            self.failure_error = self.failure_error or ev.error
            self.fail(ev.reason or (str(ev.error) if ev.error else "realtime session failed"))
        self._wake()

    def fail(self, reason: str) -> None:
        """The model is unusable: hand the turn in flight over (exactly once) and tell the switch."""
        if self._failed or self._closed:
            return
        self._failed = True
        self.failure_noticed_at = self._loop.time()
        self._cancel_timers()
        s, guard = self.session, self.guard
        turn = guard.turn if guard.in_flight else None
        if turn is not None:
            user = s.history.get(turn.user_item_id) if turn.user_item_id else None
            if isinstance(user, ChatMessage) and not user.content.strip():
                # never transcribed: the pipeline's STT transcribes the turn's audio first
                now = self._loop.time()
                start, end = turn.spoken or (self._input.turn_start or now - 30.0, now)
                self.untranscribed = UntranscribedTurn(user, self._input.buffer.since(start, end))
            guard.move(TurnPhase.HANDED_OVER, reason)
        elif (unheard := self._input.take_unheard()) is not None:
            # the model never heard the user's last words: the pipeline's STT does, and answers them
            msg = ChatMessage(role="user", content="")
            s.history.append(msg)
            self.untranscribed = UntranscribedTurn(msg, unheard)
        self._outage.failed(reason)
        self._wake()
        self._on_failure(reason)
