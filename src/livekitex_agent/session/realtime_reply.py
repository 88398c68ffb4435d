"""One answer of the realtime engine: played through the session's audio output, interruptibly, and
carried through connection drops and stalls until the turn is answered exactly once.

A reply plays the model's response and the responses to its tool calls. When the connection drops or
the model stalls, what was already received is still played (the user hears a whole prefix); after the
reconnect the answer is asked for again, continuing from what was heard, and the history ends with
one assistant message for the turn. When the model fails instead, :class:`TurnHandedOver` tells the
caller to let the pipeline answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any, TypeVar

from ..chat import ChatMessage, FunctionCallOutput
from ..errors import ProviderError
from ..events import AgentState, FunctionToolsExecutedEvent
from ..media.resample import Resampler
from ..metrics import TurnMetrics
from ..providers import realtime as rtm
from ..tools.context import RunContext
from ..tools.executor import CANCELLED_TOOL_OUTPUT, ToolExecutor
from .nodes import ShownText, error_source, realtime_audio
from .realtime_host import AnswerCut, ReplyHost, Stalled
from .realtime_stall import GenerationWatchdog
from .speech import SpeechHandle
from .turn_guard import Turn, TurnHandedOver, TurnPhase, continuation_instructions

logger = logging.getLogger("livekitex_agent.session")
T = TypeVar("T")


@dataclass
class _Played:
    message: ChatMessage
    source: rtm.MessageGeneration
    audio_seconds: float = 0.0
    head: str = ""  # what the user heard of the turn's answer before this message continued it

    @property
    def item_id(self) -> str:
        return self.source.item_id


class RealtimeReply:
    """Answers one turn for ``speech`` on the host's realtime model."""

    def __init__(self, host: ReplyHost, speech: SpeechHandle) -> None:
        self._host = host
        self._speech = speech
        self._loop = asyncio.get_running_loop()
        self._playback_started_at: float | None = None
        self._silent: set[str] = set()  # cut messages kept in the history without an announcement yet

    # -- the turn ---------------------------------------------------------------------------------
    async def run(self, gen: rtm.RealtimeGeneration | None, instructions: str | None) -> None:
        """Answer the turn: play ``gen`` (or ask for a response), recovering from drops and stalls.

        Raises :class:`TurnHandedOver` when the model failed with the turn unanswered.
        """
        guard = self._host.guard
        turn = guard.adopt(self._speech, "a reply was asked for")
        try:
            try:
                await self._answer(turn, gen, instructions)
            except TurnHandedOver:
                raise
            except Exception as e:
                if not guard.handed_to(turn, self._speech):
                    raise
                logger.exception("the realtime reply failed after its turn was handed over: %s", e)
            if guard.handed_to(turn, self._speech):
                # the model failed while this reply was between two steps: the pipeline still answers
                raise self._host.handed_over(turn)
        except TurnHandedOver:
            turn.partial = None  # the pipeline completes it
            raise
        finally:
            self._host.guard.finish(turn, "the reply ended")  # e.g. an error: the turn is not left owned
            partial, turn.partial = turn.partial, None
            if partial is not None and partial.id in self._silent and self._host.session.history.get(partial.id):
                self._host.session.announce_item(partial)  # never completed: announced as it was cut

    async def _answer(self, turn: Turn, gen: rtm.RealtimeGeneration | None, instructions: str | None) -> None:
        host, guard, speech = self._host, self._host.guard, self._speech
        while True:
            if not guard.current(turn):
                return  # the user moved on to a new turn
            if host.failed or guard.phase is TurnPhase.HANDED_OVER:
                host.fail("the realtime session failed")  # idempotent: the turn is handed over
                if guard.handed_to(turn, speech):
                    raise host.handed_over(turn)
                return
            if host.closed:
                return
            if speech.interrupted:
                guard.finish(turn, "interrupted")
                return
            if gen is None:
                if guard.phase is TurnPhase.RECOVERING:
                    if not await self._wait_for_recovery() or guard.phase is not TurnPhase.RECOVERING:
                        continue  # whatever happened while this reply woke up is seen at the top
                    guard.move(TurnPhase.AWAITING, "reconnected: asking for the answer again")
                try:
                    gen = await self._request(turn, instructions)
                except Stalled as e:
                    host.turn_lost(turn, str(e), stalled=True, since=e.since)
                    continue
                except AnswerCut as e:
                    self._lost(turn, str(e))
                    continue
                if gen is None:
                    continue  # interrupted while asking
            if guard.current(turn) and guard.phase is TurnPhase.AWAITING:
                guard.move(TurnPhase.ANSWERING, "response created")
            try:
                await self._play(gen, turn)
            except AnswerCut as e:
                gen = None
                self._lost(turn, str(e))
                continue
            guard.finish(turn, "interrupted" if speech.interrupted else "answered")
            return

    def _lost(self, turn: Turn, reason: str) -> None:
        host, guard = self._host, self._host.guard
        if host.failed or not guard.current(turn) or guard.phase is TurnPhase.RECOVERING:
            return  # failed: handed over at the top of the loop; recovering: a stall already counted
        host.turn_lost(turn, reason, stalled=False)

    async def _unless_interrupted(self, task: asyncio.Task[T]) -> bool:
        """Wait for ``task`` unless the speech is interrupted first (then ``task`` is cancelled);
        True when the task finished. The model's response is cancelled if one may be under way."""
        stop = self._loop.create_task(self._speech.wait_for_interrupt())
        try:
            await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            if not task.done():
                task.cancel()
                if not self._host.failed:
                    with contextlib.suppress(ProviderError):
                        await self._host.rt.interrupt()
            await asyncio.gather(task, stop, return_exceptions=True)
        return not task.cancelled()

    async def _wait_for_recovery(self) -> bool:
        """Until reconnected (True) or the engine failed / the user interrupted (False)."""
        self._host.session.set_agent_state(AgentState.THINKING)
        waiting = self._loop.create_task(self._host.wait_connected())
        return await self._unless_interrupted(waiting) and waiting.result() and not self._speech.interrupted

    async def _request(self, turn: Turn, instructions: str | None) -> rtm.RealtimeGeneration | None:
        if turn.partial is not None and turn.partial.content:
            instructions = continuation_instructions(turn.partial.content, instructions)
        ask = self._loop.create_task(self._host.request(instructions))
        if not await self._unless_interrupted(ask):
            return None  # interrupted while asking: the loop sees it and ends
        return ask.result()

    # -- playing one response (and the responses to its tool calls) ------------------------------
    async def _play(self, gen: rtm.RealtimeGeneration, turn: Turn) -> None:
        s, speech = self._host.session, self._speech
        s.set_playing(self)
        played: list[_Played] = []
        work = self._loop.create_task(self._play_steps(gen, turn, played), name=f"realtime-play:{speech.id}")
        try:
            await self._unless_interrupted(work)
        finally:
            error = None if work.cancelled() else work.exception()
            lost = isinstance(error, AnswerCut)
            out = s.io.audio_output if s.io else None
            position = None
            if out is not None and any(p.audio_seconds > 0 for p in played):
                if lost:
                    position = await self._play_out_received(out)
                else:
                    if speech.interrupted or work.cancelled() or error is not None:
                        out.clear_buffer()
                        for entry in played:
                            entry.message.interrupted = True
                    position = (await out.wait_for_playout()).position
            if s.io and s.io.text_output:
                s.io.text_output.flush()
            if played and lost and not speech.interrupted:
                self._cut_for_recovery(turn, played[-1])
            elif played and (speech.interrupted or played[-1].message.interrupted):
                await self._truncate(turn, played[-1], position)
            self._emit_metrics()
        if lost and not speech.interrupted:
            raise AnswerCut(str(error))
        if error is not None and not isinstance(error, AnswerCut):
            s.report_error(error, source=error_source(error, "realtime"), recoverable=True)

    async def _play_out_received(self, out: Any) -> float | None:
        """After a drop the user still hears what was received, unless they interrupt meanwhile."""
        out.flush()
        playout = self._loop.create_task(out.wait_for_playout())
        stop = self._loop.create_task(self._speech.wait_for_interrupt())
        await asyncio.wait({playout, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        await asyncio.gather(stop, return_exceptions=True)
        if not playout.done():
            out.clear_buffer()  # the user interrupted: what they heard is where the answer stops
        return float((await playout).position)

    def _cut_for_recovery(self, turn: Turn, entry: _Played) -> None:
        """What the user heard of the answer so far becomes the turn's partial message (announced only
        once the continuation completes it)."""
        if self._settle(turn, entry, entry.source.text.strip(), announce=False):
            entry.message.interrupted = True
            turn.partial = entry.message

    def _settle(self, turn: Turn, entry: _Played, text: str, *, announce: bool) -> bool:
        """``entry``'s message holds ``text`` after what the user heard of the turn's answer before it
        (one assistant message per turn); False when there is nothing to keep."""
        s, msg, partial = self._host.session, entry.message, turn.partial
        if partial is not None and partial is not msg:
            entry.head = partial.content
            if s.history.get(partial.id) is not None:
                s.history.remove(partial.id)
            self._silent.discard(partial.id)
            turn.partial = None
        msg.content = f"{entry.head} {text}".strip()
        if s.history.get(msg.id) is not None:
            s.history.update_item(msg)
        elif not msg.content:
            return False
        elif announce:
            s.add_history_item(msg, after=s.history.last_id)
        else:
            s.history.insert_after(s.history.last_id, msg)
            self._silent.add(msg.id)
        return True

    async def _play_steps(self, gen: rtm.RealtimeGeneration, turn: Turn, played: list[_Played]) -> None:
        host, s, speech = self._host, self._host.session, self._speech
        agent = s.current_agent
        executor = ToolExecutor(
            agent.tool_registry,
            make_context=lambda call: RunContext(session=s, speech_handle=speech, function_call=call),
            handoff_types=self._host.handoff_types,
        )
        handoff: Any = None
        out = s.io.audio_output if s.io else None
        for step in range(s.options.max_tool_steps + 1):
            audio_written = False
            watchdog = GenerationWatchdog(gen, host.stall_timeouts, self._stalled)
            try:
                async for msg in gen.messages:
                    entry = _Played(ChatMessage(role="assistant", content="", id=msg.item_id), msg)
                    played.append(entry)
                    text_task = self._loop.create_task(self._forward_text(msg, agent))
                    try:
                        resampler: Resampler | None = None
                        async for frame in realtime_audio(agent, msg.audio_stream):
                            if out is None:
                                continue
                            if out.sample_rate and frame.sample_rate != out.sample_rate:
                                resampler = resampler or Resampler(out.sample_rate)
                                converted = resampler.push(frame)
                                if converted is None:
                                    continue
                                frame = converted
                            entry.audio_seconds += frame.duration
                            audio_written = True
                            await out.capture_frame(frame)
                        await text_task
                    finally:
                        text_task.cancel()
                    if not _cut(gen):
                        self._settle(turn, entry, msg.text.strip(), announce=True)
                calls = [call async for call in gen.function_calls]
                result = await gen.done
            finally:
                watchdog.cancel()
            if result.status != "completed":
                for entry in played:
                    entry.message.interrupted = True
            if result.status == "failed" or (result.status == "cancelled" and host.failed):
                if result.reason == rtm.CONNECTION_LOST or host.failed:
                    raise AnswerCut(f"the connection was lost mid-response ({result.error_code or 'dropped'})")
                raise AnswerCut(f"the response failed ({result.error_code or result.reason or 'unknown'})")
            if out is not None and audio_written:
                out.flush()
                await out.wait_for_playout()
            if not calls or result.status == "cancelled":
                break
            for call in calls:
                s.add_history_item(call)
            if not audio_written:
                s.set_agent_state(AgentState.THINKING)
            results = await executor.execute(calls)
            outputs = [
                r.output or FunctionCallOutput(call.call_id, call.name, CANCELLED_TOOL_OUTPUT, is_error=True)
                for call, r in zip(calls, results, strict=True)
            ]
            for o in outputs:
                s.add_history_item(o)
            s.emit(
                "function_tools_executed",
                FunctionToolsExecutedEvent(function_calls=calls, function_call_outputs=outputs),
            )
            handoff = next((r.handoff for r in results if r.handoff is not None), None)
            last = step >= s.options.max_tool_steps
            if handoff is not None or last:
                with contextlib.suppress(ProviderError):
                    await host.rt.send_tool_outputs(outputs, reply=False)
                break
            try:
                await host.rt.send_tool_outputs(outputs, reply=False)
                gen = await host.request(None)
            except (ProviderError, Stalled, AnswerCut) as e:
                # the outputs are in the history: the answer is asked for again after the reconnect
                if isinstance(e, Stalled):
                    host.turn_lost(turn, str(e), stalled=True, since=e.since)
                raise AnswerCut(str(e)) from None
        if handoff is not None:
            await s.update_agent(handoff)

    def _stalled(self, reason: str, since: float) -> None:
        turn = self._host.guard.turn
        if turn is not None and turn.owner is self._speech:
            self._host.turn_lost(turn, reason, stalled=True, since=since)

    async def _forward_text(self, msg: rtm.MessageGeneration, agent: object) -> None:
        s = self._host.session
        text_out = s.io.text_output if s.io else None
        if text_out is None:
            async for _ in msg.text_stream:
                pass
            return
        shown = ShownText(
            agent, text_out, lambda e: s.report_error(e, source=error_source(e, "transcription_node"), recoverable=True)
        )
        first = True
        try:
            async for delta in msg.text_stream:
                if delta:
                    await shown.capture(delta if not first else delta.lstrip())
                    first = False
            await shown.close()
        finally:
            await shown.cancel()

    def on_playback_started(self, t: float) -> None:
        if self._playback_started_at is None:
            self._playback_started_at = t
            self._host.session.set_agent_state(AgentState.SPEAKING)

    async def _truncate(self, turn: Turn, entry: _Played, position: float | None) -> None:
        """Cut the interrupted message, here and on the server, to what the user heard."""
        heard = entry.audio_seconds if position is None else min(position, entry.audio_seconds)
        text = entry.source.text.strip()
        if entry.audio_seconds > 0:
            words = text.split()
            text = " ".join(words[: int(len(words) * heard / entry.audio_seconds)])
        entry.message.interrupted = True
        self._settle(turn, entry, text, announce=True)
        if not self._host.failed:
            with contextlib.suppress(ProviderError):
                await self._host.rt.truncate(entry.item_id, rtm.audio_end_ms(heard * 1000, entry.source.audio_bytes))

    def _emit_metrics(self) -> None:
        stopped, started = self._host.speech_stopped_at, self._playback_started_at
        if stopped is None or started is None or started < stopped:
            return
        m = TurnMetrics(speech_id=self._speech.id, engine="realtime", interrupted=self._speech.interrupted)
        m.e2e_latency = started - stopped
        self._host.session.emit_metrics(m)
        self._host.speech_stopped_at = None


def _cut(gen: rtm.RealtimeGeneration) -> bool:
    """The response already ended in a failure (its messages were closed by a dropped connection)."""
    return gen.done.done() and not gen.done.cancelled() and gen.done.result().status == "failed"

