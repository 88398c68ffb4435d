"""One pipeline reply: LLM (with tool rounds) → sentence-streamed TTS → paced audio, interruptible.

The reply runs as one task; an interruption cancels it and the finalizer keeps only what the user
heard in the history (the assistant message is cut and marked ``interrupted``). This module runs the
LLM rounds and the tools; its :class:`~.reply_voice.ReplyVoice` speaks the sentences they write.
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
from ..metrics import TurnMetrics, UsageMetrics
from ..nodes import node_overridden
from ..providers.base import ProviderStream, open_stream
from ..providers.llm import LLM, ChatChunk
from ..providers.resume import resumable_chat
from ..providers.tts import TTS
from ..tools.context import RunContext
from ..tools.executor import CANCELLED_TOOL_OUTPUT, ToolExecutor, ToolResult
from .host import SessionHost
from .nodes import error_source, open_llm_node
from .preemptive import prepared_pending
from .reply_voice import ReplyVoice
from .sentences import SentenceStream
from .speech import SpeechHandle
from .turn_timing import ReplyTiming, TurnTiming

logger = logging.getLogger("livekitex_agent.session")


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
        self._llm = llm  # instead of the agent's (e.g. a preemptive reply's buffers)
        self._loop = asyncio.get_running_loop()
        self._timing = ReplyTiming()
        self._voice = ReplyVoice(session, speech, self._timing, tts=tts)  # sentences → TTS → output
        self._steps: list[_Step] = []
        self._handoff: Any = None
        self._executor: ToolExecutor | None = None
        self._pending_calls: list[FunctionCall] = []
        # this speech's items go right after what was in the history when it started, even if the
        # user says something while it plays (keeps the history in spoken order)
        self._anchor: str | None = session.history.last_id

    # -- entry point ------------------------------------------------------------------------------
    async def run(self) -> None:
        speech = self._speech
        self._session.set_playing(self._voice)  # told when the audio starts playing
        work = self._loop.create_task(self._generate(), name=f"generate:{speech.id}")
        interrupted = self._loop.create_task(speech.wait_for_interrupt(), name=f"interrupt:{speech.id}")
        self._voice.start()
        try:
            await asyncio.wait({work, interrupted}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            interrupted.cancel()
            if not work.done():
                work.cancel()
            await asyncio.gather(work, interrupted, return_exceptions=True)
            failed = not work.cancelled() and work.exception() is not None
            position = await self._voice.stop(cut=speech.interrupted or work.cancelled() or failed)
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
        await self._voice.play_out()

    async def _speak_text(self, text: str | AsyncIterator[str]) -> None:
        step = _Step(index=0)
        self._steps.append(step)
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        tts_task = self._voice.speak(queue, step.index)
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
            if not self._voice.has_output or not self._voice.audio_started:
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
                        tts_task = tts_task or self._voice.speak(queue, step.index)
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
                tts_task = tts_task or self._voice.speak(queue, step.index)
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
        heard_all = not interrupted or not self._voice.has_output or not self._voice.audio_written
        for step in self._steps:
            if heard_all:
                text = step.text.strip()
            else:
                text = self._voice.heard_text(position, step.index)
            if step.message is not None:  # a tool step: already in history with its full text
                if not heard_all and text != step.message.content:
                    step.message.content = text
                    step.message.interrupted = True
                    self._session.history.update_item(step.message)
                continue
            if not text and not interrupted:
                continue
            if not text and interrupted and not self._voice.audio_started:
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
