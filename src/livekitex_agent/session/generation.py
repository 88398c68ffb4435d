"""One pipeline reply: LLM (with tool rounds) → sentence-streamed TTS → paced audio, interruptible.

The reply runs as one task; an interruption cancels it and the finalizer keeps only what the user
heard in the history (the assistant message is cut and marked ``interrupted``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from ..agent import Agent
from ..chat import ChatContext, ChatMessage, FunctionCall, FunctionCallOutput
from ..events import AgentState, FunctionToolsExecutedEvent
from ..media.frame import AudioFrame
from ..media.resample import Resampler
from ..metrics import TurnMetrics, UsageMetrics
from ..nodes import node_overridden
from ..providers.base import ProviderStream, open_stream
from ..providers.llm import LLM, ChatChunk
from ..providers.resume import resumable_chat, resumable_synthesis
from ..providers.tts import TTS
from ..tools.context import RunContext
from ..tools.executor import CANCELLED_TOOL_OUTPUT, ToolExecutor, ToolResult
from .host import SessionHost
from .node_speech import speak_through_node
from .nodes import ShownText, error_source, open_llm_node
from .preemptive import prepared_pending
from .sentences import SentenceStream
from .speech import SpeechHandle
from .timeline import SpeechTimeline, TextSegment
from .tts_text import SpeakableText
from .turn_timing import TurnTiming

logger = logging.getLogger("livekitex_agent.session")


@dataclass
class _Timing:
    llm_request: float | None = None
    llm_first_chunk: float | None = None
    first_sentence: float | None = None
    tts_request: float | None = None
    tts_first_frame: float | None = None
    playback_start: float | None = None


@dataclass
class _Step:
    index: int
    text: str = ""
    message: ChatMessage | None = None
    calls: list[FunctionCall] = field(default_factory=list)


class ReplyGeneration:
    """Runs one :class:`SpeechHandle` of the pipeline engine."""

    def __init__(
        self,
        session: SessionHost,
        speech: SpeechHandle,
        *,
        instructions: str | None = None,
        say_text: str | AsyncIterator[str] | None = None,
        turn: TurnTiming | None = None,
        add_to_chat_ctx: bool = True,
        llm: LLM | None = None,
        tts: TTS | None = None,
    ) -> None:
        self._session = session
        self._speech = speech
        self._instructions = instructions
        self._say_text = say_text
        self._turn = turn
        self._add_to_chat_ctx = add_to_chat_ctx
        self._llm, self._tts = llm, tts  # instead of the agent's (e.g. a preemptive reply's buffers)
        self._loop = asyncio.get_running_loop()
        self._out = session.io.audio_output if session.io else None
        self._text_out = session.io.text_output if session.io else None
        self._timeline = SpeechTimeline()
        self._timing = _Timing()
        self._steps: list[_Step] = []
        self._handoff: Any = None
        self._audio_started = False
        self._playing = asyncio.Event()  # set with _audio_started: what the text sync waits for
        self._audio_written = False
        self._segment_ready = asyncio.Event()
        self._executor: ToolExecutor | None = None
        self._pending_calls: list[FunctionCall] = []
        # this speech's items go right after what was in the history when it started, even if the
        # user says something while it plays (keeps the history in spoken order)
        self._anchor: str | None = session.history.last_id
        self._speakable = SpeakableText.for_session(session)  # what the TTS hears of a sentence
        self._shown: ShownText | None = None  # the reply's words on their way to the text output

    # -- entry point ------------------------------------------------------------------------------
    async def run(self) -> None:
        speech = self._speech
        self._session.set_playing(self)
        work = self._loop.create_task(self._generate(), name=f"generate:{speech.id}")
        interrupted = self._loop.create_task(speech.wait_for_interrupt(), name=f"interrupt:{speech.id}")
        self._shown = self._shown_text()
        sync = self._loop.create_task(self._sync_text(), name=f"text-sync:{speech.id}")
        try:
            await asyncio.wait({work, interrupted}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            interrupted.cancel()
            if not work.done():
                work.cancel()
            await asyncio.gather(work, interrupted, return_exceptions=True)
            position = 0.0
            failed = not work.cancelled() and work.exception() is not None
            if self._out is not None and self._audio_written:
                if speech.interrupted or work.cancelled() or failed:
                    self._out.clear_buffer()
                result = await self._out.wait_for_playout()
                position = result.position
            sync.cancel()
            await asyncio.gather(sync, return_exceptions=True)
            if self._shown is not None:
                await self._shown.close()
            if self._text_out is not None:
                self._text_out.flush()
            await self._finish_tools()
            self._finalize_messages(position, cut=failed)
            self._emit_metrics()
        if not work.cancelled() and (error := work.exception()) is not None:
            self._session.report_error(error, source=error_source(error, "pipeline"), recoverable=True)
        if self._handoff is not None and not speech.interrupted:
            await self._session.update_agent(self._handoff)

    # -- generation -------------------------------------------------------------------------------
    async def _generate(self) -> None:
        if self._say_text is not None:
            await self._speak_text(self._say_text)
        else:
            await self._llm_loop()
        if self._out is not None and self._audio_written:
            self._out.flush()
            await self._out.wait_for_playout()

    async def _speak_text(self, text: str | AsyncIterator[str]) -> None:
        step = _Step(index=0)
        self._steps.append(step)
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        tts_task = self._loop.create_task(self._tts_worker(queue, step), name="tts")
        try:
            sentences = SentenceStream()
            if isinstance(text, str):
                chunks: list[str] = sentences.push(text + " ") + sentences.flush()
                step.text = text
                for s in chunks:
                    queue.put_nowait(s)
            else:
                async for delta in text:
                    step.text += delta
                    for s in sentences.push(delta):
                        queue.put_nowait(s)
                for s in sentences.flush():
                    queue.put_nowait(s)
            queue.put_nowait(None)
            await tts_task
        finally:
            if not tts_task.done():
                tts_task.cancel()
                await asyncio.gather(tts_task, return_exceptions=True)

    async def _llm_loop(self) -> None:
        session = self._session
        agent = session.current_agent
        llm = self._llm or session.llm_for(agent)
        if llm is None and not node_overridden(agent, "llm_node"):
            raise RuntimeError("generate_reply needs an LLM: give llm= to the AgentSession or the Agent")
        max_steps = session.options.max_tool_steps
        self._executor = ToolExecutor(
            agent.tool_registry,
            make_context=lambda call: RunContext(
                session=session, speech_handle=self._speech, function_call=call
            ),
            handoff_types=(Agent,),
        )
        for index in range(max_steps + 1):
            step = _Step(index=index)
            self._steps.append(step)
            tools = agent.tools if index < max_steps else []
            chat_ctx = self._request_context()
            await self._llm_step(llm, chat_ctx, tools, step)
            if not step.calls:
                break
            self._record_step_message(step)
            await self._run_tools(step)
            if self._handoff is not None:
                break
            if self._out is None or not self._audio_started:
                session.set_agent_state(AgentState.THINKING)

    def _request_context(self) -> ChatContext:
        ctx = self._session.history.copy()
        if self._instructions:
            ctx.add_message("system", self._instructions)
        return ctx

    async def _open_llm(
        self, llm: LLM | None, chat_ctx: ChatContext, tools: list[Any]
    ) -> tuple[ProviderStream[ChatChunk], AsyncIterator[ChatChunk], ChatChunk | None]:
        self._timing.llm_request = self._timing.llm_request or self._loop.time()
        agent = self._session.current_agent
        # through the agent's llm_node, unless a preemptive reply already ran it for this request
        if llm is None or (node_overridden(agent, "llm_node") and not prepared_pending(llm)):
            return await open_llm_node(agent, chat_ctx, tools)
        return await open_stream(
            lambda: resumable_chat(llm, chat_ctx=chat_ctx, tools=tools, tool_choice="auto" if tools else "none"),
            policy=llm.retry_policy,
            provider=llm.label,
        )

    async def _llm_step(self, llm: LLM | None, chat_ctx: ChatContext, tools: list[Any], step: _Step) -> None:
        started = self._loop.time()
        stream, it, first = await self._open_llm(llm, chat_ctx, tools)
        if self._timing.llm_first_chunk is None:
            self._timing.llm_first_chunk = self._loop.time()
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        tts_task: asyncio.Task[None] | None = None
        sentences = SentenceStream()
        usage: Any = None
        try:
            chunk = first
            while chunk is not None:
                if chunk.content:
                    step.text += chunk.content
                    for sentence in sentences.push(chunk.content):
                        if self._timing.first_sentence is None:
                            self._timing.first_sentence = self._loop.time()
                        tts_task = tts_task or self._start_tts(queue, step)
                        queue.put_nowait(sentence)
                step.calls.extend(chunk.tool_calls)
                if chunk.usage is not None:
                    usage = chunk.usage
                try:
                    chunk = await it.__anext__()
                except StopAsyncIteration:
                    chunk = None
            for sentence in sentences.flush():
                if self._timing.first_sentence is None:
                    self._timing.first_sentence = self._loop.time()
                tts_task = tts_task or self._start_tts(queue, step)
                queue.put_nowait(sentence)
            queue.put_nowait(None)
            if usage is not None:
                self._session.emit_usage(
                    UsageMetrics(
                        provider=llm.label if llm is not None else "llm_node",
                        kind="llm",
                        input_tokens=usage.prompt_tokens,
                        output_tokens=usage.completion_tokens,
                        duration=self._loop.time() - started,
                    )
                )
            if tts_task is not None:
                await tts_task
        finally:
            await stream.aclose()
            if tts_task is not None and not tts_task.done():
                tts_task.cancel()
                await asyncio.gather(tts_task, return_exceptions=True)

    def _start_tts(self, queue: asyncio.Queue[str | None], step: _Step) -> asyncio.Task[None]:
        return self._loop.create_task(self._tts_worker(queue, step), name=f"tts:{self._speech.id}")

    # -- speech synthesis -------------------------------------------------------------------------
    async def _tts_worker(self, queue: asyncio.Queue[str | None], step: _Step) -> None:
        session = self._session
        tts = self._tts or session.tts_for(session.current_agent)
        out = self._out
        if out is not None and node_overridden(session.current_agent, "tts_node"):
            await speak_through_node(self, session.current_agent, queue, step=step.index, tts=tts,
                                     output_rate=out.sample_rate)
            return
        while (sentence := await queue.get()) is not None:
            if out is None or tts is None:
                # text-only: the words are "heard" as soon as they exist
                self.begin_sentence(sentence, step.index)
                continue
            await self._synthesize(tts, sentence, step)

    async def _synthesize(self, tts: TTS, sentence: str, step: _Step) -> None:
        out = self._out
        assert out is not None
        resampler = (
            Resampler(out.sample_rate) if out.sample_rate and out.sample_rate != tts.sample_rate else None
        )

        spoken = self._speakable(sentence)  # what the TTS hears; the transcript keeps `sentence`
        if not spoken.strip():  # nothing to say (e.g. only an emoji)
            self.begin_sentence(sentence, step.index)
            return
        requested = self._loop.time()
        if self._timing.tts_request is None:
            self._timing.tts_request = requested
        stream, it, frame = await open_stream(
            lambda: resumable_synthesis(tts, spoken), policy=tts.retry_policy, provider=tts.label
        )
        if self._timing.tts_first_frame is None:
            self._timing.tts_first_frame = self._loop.time()
        segment = self.begin_sentence(sentence, step.index)
        try:  # the per-frame path: inline, no extra await per frame
            while frame is not None:
                if resampler is not None:
                    frame = resampler.push(frame)
                if frame is not None and frame.data.size:
                    self._audio_written = True
                    await out.capture_frame(frame)
                    self._timeline.add_audio(frame.duration)
                try:
                    frame = await it.__anext__()
                except StopAsyncIteration:
                    frame = None
            if resampler is not None and (tail := resampler.flush()) is not None:
                await self.play(tail, None)
        finally:
            await stream.aclose()
        self.emit_tts_usage(tts.label, spoken, segment.duration, requested)

    # -- what the tts_node path (node_speech.py) uses --------------------------------------------
    def speakable(self, sentence: str) -> str:
        return self._speakable(sentence)

    def begin_sentence(self, sentence: str, step: int) -> TextSegment:
        segment = self._timeline.begin_text(sentence, step)
        self._segment_ready.set()
        return segment

    def tts_requested(self) -> None:
        if self._timing.tts_request is None:
            self._timing.tts_request = self._loop.time()

    def tts_first_frame(self) -> None:
        if self._timing.tts_first_frame is None:
            self._timing.tts_first_frame = self._loop.time()

    async def play(self, frame: AudioFrame | None, resampler: Resampler | None) -> None:
        if resampler is not None and frame is not None:
            frame = resampler.push(frame)
        if frame is not None and frame.data.size:
            assert self._out is not None
            self._audio_written = True
            await self._out.capture_frame(frame)
            self._timeline.add_audio(frame.duration)

    def emit_tts_usage(self, provider: str, spoken: str, audio: float, requested: float) -> None:
        self._session.emit_usage(
            UsageMetrics(
                provider=provider,
                kind="tts",
                characters=len(spoken),
                audio_duration=audio,
                duration=self._loop.time() - requested,
            )
        )

    def _shown_text(self) -> ShownText | None:
        """Where this reply's words go to be shown (through the agent's ``transcription_node``)."""
        if self._text_out is None:
            return None
        session = self._session
        return ShownText(
            session.current_agent,
            self._text_out,
            lambda e: session.report_error(e, source=error_source(e, "transcription_node"), recoverable=True),
        )

    def on_playback_started(self, t: float) -> None:
        if self._audio_started:
            return
        self._audio_started = True
        self._playing.set()
        self._timing.playback_start = t
        self._session.set_agent_state(AgentState.SPEAKING)

    async def _sync_text(self) -> None:
        """Forward each sentence to the text output when its audio starts playing."""
        out, text_out = self._out, self._text_out
        if text_out is None:
            return
        sent = 0
        while True:
            while sent >= len(self._timeline.segments):
                self._segment_ready.clear()
                await self._segment_ready.wait()
            seg = self._timeline.segments[sent]
            if out is not None and self._audio_written:
                await self._playing.wait()
                # a timer to the sentence's start in the playout, re-armed only if the playout lagged
                while (ahead := seg.start - out.position) > 0:  # noqa: ASYNC110
                    await asyncio.sleep(max(0.005, ahead))
            assert self._shown is not None
            await self._shown.capture(seg.text if sent == 0 else " " + seg.text)
            sent += 1

    # -- tools ------------------------------------------------------------------------------------
    def _record_step_message(self, step: _Step) -> None:
        if step.text.strip():
            step.message = ChatMessage(role="assistant", content=step.text.strip())
            self._add_item(step.message)
        for call in step.calls:
            self._add_item(call)

    async def _run_tools(self, step: _Step) -> None:
        assert self._executor is not None
        self._pending_calls = list(step.calls)
        results = await self._executor.execute(step.calls)
        self._pending_calls = []
        self._record_tool_results(step.calls, results)

    def _record_tool_results(self, calls: list[FunctionCall], results: list[ToolResult]) -> None:
        outputs: list[FunctionCallOutput] = []
        for call, result in zip(calls, results, strict=True):
            output = result.output or FunctionCallOutput(
                call_id=call.call_id, name=call.name, output=CANCELLED_TOOL_OUTPUT, is_error=True
            )
            outputs.append(output)
            self._add_item(output)
            if result.handoff is not None and self._handoff is None:
                self._handoff = result.handoff
        self._session.emit(
            "function_tools_executed",
            FunctionToolsExecutedEvent(function_calls=calls, function_call_outputs=outputs),
        )

    async def _finish_tools(self) -> None:
        """After an interruption: wait for tools that may not be cancelled, and record every outcome."""
        if not self._pending_calls or self._executor is None:
            return
        calls, self._pending_calls = self._pending_calls, []
        results = await self._executor.drain(calls)
        self._record_tool_results(calls, results)

    # -- history and metrics ----------------------------------------------------------------------
    def _add_item(self, item: Any) -> None:
        self._speech.chat_items.append(item)
        if self._add_to_chat_ctx:
            self._session.add_history_item(item, after=self._anchor)
            self._anchor = item.id

    def _finalize_messages(self, position: float, *, cut: bool = False) -> None:
        """Record what was heard; a reply cut by an interruption or a failure is marked interrupted."""
        interrupted = self._speech.interrupted or cut
        heard_all = not interrupted or self._out is None or not self._audio_written
        for step in self._steps:
            if heard_all:
                text = step.text.strip()
            else:
                text = self._timeline.heard_text(position, step.index)
            if step.message is not None:  # a tool step: already in history with its full text
                if not heard_all and text != step.message.content:
                    step.message.content = text
                    step.message.interrupted = True
                    self._session.history.update_item(step.message)
                continue
            if not text and not interrupted:
                continue
            if not text and interrupted and not self._audio_started:
                continue  # nothing was heard: keep no empty message
            msg = ChatMessage(role="assistant", content=text, interrupted=interrupted)
            step.message = msg
            self._add_item(msg)

    def _emit_metrics(self) -> None:
        turn, t = self._turn, self._timing
        if turn is None:
            return
        m = TurnMetrics(speech_id=self._speech.id, engine="pipeline", interrupted=self._speech.interrupted)
        m.tool_steps = max(0, len(self._steps) - 1)
        if turn.speech_end is not None:
            if turn.end_of_turn is not None:
                m.end_of_utterance_delay = max(0.0, turn.end_of_turn - turn.speech_end)
            m.transcription_delay = turn.transcription
            if t.playback_start is not None:
                m.e2e_latency = t.playback_start - turn.speech_end
        if t.llm_request is not None and t.llm_first_chunk is not None:
            m.llm_ttft = t.llm_first_chunk - t.llm_request
        if t.tts_request is not None and t.tts_first_frame is not None:
            m.tts_ttfb = t.tts_first_frame - t.tts_request
        if turn.end_of_turn is not None and t.playback_start is not None:
            provider = 0.0
            if t.llm_request is not None and t.first_sentence is not None:
                provider += t.first_sentence - t.llm_request
            if m.tts_ttfb is not None:
                provider += m.tts_ttfb
            m.framework_delay = max(0.0, t.playback_start - turn.end_of_turn - provider)
        self._session.emit_metrics(m)
