"""The session's helpers run alone against a small fake host (``session/host.py``), no AgentSession."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from livekitex_agent import Agent, RunContext, function_tool
from livekitex_agent.chat import ChatContext, ChatItem, ChatMessage, FunctionCallOutput
from livekitex_agent.errors import ErrorCategory, ProviderError
from livekitex_agent.events import AgentState, CloseReason, FunctionToolsExecutedEvent, UserState
from livekitex_agent.metrics import AgentMetrics, UsageMetrics
from livekitex_agent.providers import LLM, TTS
from livekitex_agent.session import SessionOptions, SpeechHandle
from livekitex_agent.session.generation import ReplyGeneration
from livekitex_agent.session.timers import SessionTimers
from livekitex_agent.testing import FakeLLM, FakeLLMResponse, FakeToolCall, virtual_time


class FakeHost:
    """Records what a helper asks of its session; implements the parts of ``SessionHost`` used here."""

    def __init__(self, agent: Agent | None = None, *, llm: LLM | None = None, **options: Any) -> None:
        self.options = SessionOptions(**options)
        self.language: str | None = None
        self.history = ChatContext()
        self.io = None  # text only: no audio output
        self.current_agent = agent or Agent("Be brief.")
        self.agent_state = AgentState.LISTENING
        self.user_state = UserState.LISTENING
        self.closed = False
        self.closing = False
        self.llm = llm
        self.agent_states: list[AgentState] = []
        self.user_states: list[UserState] = []
        self.events: list[tuple[str, Any]] = []
        self.usage: list[UsageMetrics] = []
        self.metrics: list[AgentMetrics] = []
        self.errors: list[tuple[BaseException, str, bool]] = []
        self.announced: list[ChatItem] = []
        self.close_requests: list[CloseReason] = []
        self.playing: Any = None

    def set_agent_state(self, state: AgentState) -> None:
        self.agent_state = state
        self.agent_states.append(state)

    def set_user_state(self, state: UserState) -> None:
        self.user_state = state
        self.user_states.append(state)

    def request_close(self, reason: CloseReason, error: BaseException | None = None) -> None:
        self.close_requests.append(reason)

    def emit(self, event: str, *args: Any) -> None:
        self.events.append((event, *args))

    def emit_usage(self, usage: UsageMetrics) -> None:
        self.usage.append(usage)

    def emit_metrics(self, metrics: AgentMetrics) -> None:
        self.metrics.append(metrics)

    def report_error(self, error: BaseException, *, source: str, recoverable: bool, recovered: bool = False) -> None:
        self.errors.append((error, source, recoverable))

    def add_history_item(self, item: ChatItem, *, after: str | None = None) -> None:
        if after is None:
            self.history.append(item)
        else:
            self.history.insert_after(after, item)
        self.announce_item(item)

    def announce_item(self, item: ChatItem) -> None:
        self.announced.append(item)

    def llm_for(self, agent: Agent) -> LLM | None:
        return agent.llm or self.llm

    def tts_for(self, agent: Agent) -> TTS | None:
        return None

    def set_playing(self, reply: Any) -> None:
        self.playing = reply

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        return asyncio.get_running_loop().create_task(coro, name=name)

    async def update_agent(self, agent: Agent) -> None:
        self.current_agent = agent


def speech() -> SpeechHandle:
    return SpeechHandle(source="generate_reply", allow_interruptions=True, user_initiated=True)


# -- timers -----------------------------------------------------------------------------------------
@virtual_time
async def test_idle_timer_asks_the_host_to_close_for_idleness_and_activity_rearms_it() -> None:
    host = FakeHost(idle_timeout=5.0, user_away_timeout=None)
    timers = SessionTimers(host, host.options)
    timers.start()
    await asyncio.sleep(3.0)
    timers.on_activity()  # e.g. a state change: the idle time counts from here
    await asyncio.sleep(4.0)
    assert host.close_requests == []
    await asyncio.sleep(1.5)
    assert host.close_requests == [CloseReason.IDLE_TIMEOUT]
    timers.cancel()


@virtual_time
async def test_user_away_and_max_duration_reach_the_host_and_speech_holds_the_away_timer() -> None:
    host = FakeHost(user_away_timeout=2.0, max_session_duration=10.0)
    timers = SessionTimers(host, host.options)
    host.user_state = UserState.SPEAKING  # the user is talking: not away, however long it takes
    timers.start()
    await asyncio.sleep(3.0)
    assert host.user_states == []
    host.user_state = UserState.LISTENING
    timers.on_activity()
    await asyncio.sleep(2.1)
    assert host.user_states == [UserState.AWAY] and host.close_requests == []
    await asyncio.sleep(5.0)
    assert host.close_requests == [CloseReason.MAX_DURATION]
    timers.cancel()


# -- a pipeline reply -------------------------------------------------------------------------------
@virtual_time
async def test_a_reply_reports_its_llm_usage_and_records_its_answer_through_the_host() -> None:
    llm = FakeLLM(["It is sunny in Paris."])
    host = FakeHost(llm=llm)
    host.history.add_message("user", "What is the weather in Paris?")
    await ReplyGeneration(host, speech()).run()
    assert host.playing is not None  # the reply told the host it would play (to hear when playback starts)
    (usage,) = host.usage
    assert usage.kind == "llm" and usage.provider == llm.label
    assert usage.input_tokens and usage.output_tokens
    answer = host.history.items[-1]
    assert isinstance(answer, ChatMessage) and answer.role == "assistant"
    assert answer.content == "It is sunny in Paris." and not answer.interrupted
    assert host.announced == [answer] and host.errors == []


class Weather(Agent):
    def __init__(self) -> None:
        super().__init__("Answer with the weather tool.")

    @function_tool
    async def get_weather(self, ctx: RunContext, city: str) -> str:
        """The weather in a city."""
        return f"Sunny in {city}."


@virtual_time
async def test_a_tool_round_reaches_the_host_as_history_state_and_event() -> None:
    llm = FakeLLM([
        FakeLLMResponse(tool_calls=[FakeToolCall("get_weather", {"city": "Paris"})]),
        "Sunny in Paris.",
    ])
    host = FakeHost(Weather(), llm=llm)
    host.history.add_message("user", "Weather in Paris?")
    await ReplyGeneration(host, speech()).run()
    assert host.agent_states == [AgentState.THINKING]  # back to thinking for the second LLM round
    ((name, event),) = [e for e in host.events if e[0] == "function_tools_executed"]
    assert isinstance(event, FunctionToolsExecutedEvent)
    assert [o.output for o in event.function_call_outputs] == ["Sunny in Paris."]
    outputs = [i for i in host.history.items if isinstance(i, FunctionCallOutput)]
    assert [o.output for o in outputs] == ["Sunny in Paris."]
    assert host.history.items[-1].content == "Sunny in Paris."  # type: ignore[union-attr]
    assert [u.kind for u in host.usage] == ["llm", "llm"]


@virtual_time
async def test_a_failed_reply_is_reported_to_the_host_as_recoverable_and_nothing_closes() -> None:
    failure = ProviderError("bad request", provider="fake", retryable=False, category=ErrorCategory.BAD_REQUEST)
    host = FakeHost(llm=FakeLLM([failure]))
    host.history.add_message("user", "hello")
    await ReplyGeneration(host, speech()).run()
    ((error, source, recoverable),) = host.errors
    assert error is failure and source == "pipeline" and recoverable
    assert host.close_requests == [] and host.usage == []
