"""``Agent``: what the assistant is (instructions, tools, optional providers) and its hooks."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol

from .chat import ChatContext, ChatMessage
from .events import AgentState, CloseReason, EventName, UserState
from .media.frame import AudioFrame
from .media.io import SessionIO
from .metrics import UsageSummary
from .nodes import (
    NodeContext,
    default_llm_node,
    default_node,
    default_stt_node,
    default_tts_node,
    passthrough,
)
from .providers.llm import LLM, ChatChunk
from .providers.stt import STT, SpeechEvent
from .providers.tts import TTS
from .providers.vad import VAD
from .text import TextTransformLike, check_transforms
from .tools.function_tool import FunctionTool
from .tools.mcp import MCPServer
from .tools.registry import ToolRegistry, find_tools
from .validation import check_bool, check_instance

if TYPE_CHECKING:  # session modules that import nothing of the agent's (no import circle)
    from .session.options import SessionOptions
    from .session.recording import SessionReport
    from .session.run_result import RunResult
    from .session.speech import SpeechHandle


class SessionAPI(Protocol):
    """The public API of the session an agent runs in (the type of ``Agent.session``).

    :class:`~livekitex_agent.session.AgentSession` implements it. It is declared here, next to the
    agent, so that the agent can type its session without importing the session module (which
    imports the agent)."""

    userdata: Any
    language: str | None
    history: ChatContext
    options: SessionOptions
    usage: UsageSummary

    @property
    def agent_state(self) -> AgentState: ...
    @property
    def user_state(self) -> UserState: ...
    @property
    def current_agent(self) -> Agent: ...
    @property
    def current_speech(self) -> SpeechHandle | None: ...
    @property
    def io(self) -> SessionIO | None: ...
    @property
    def engine(self) -> Literal["realtime", "pipeline"]: ...
    @property
    def closed(self) -> bool: ...

    def say(
        self,
        text: str | AsyncIterator[str],
        *,
        allow_interruptions: bool | None = None,
        add_to_chat_ctx: bool = True,
    ) -> SpeechHandle: ...
    def generate_reply(
        self,
        *,
        instructions: str | None = None,
        user_input: str | None = None,
        allow_interruptions: bool | None = None,
    ) -> SpeechHandle: ...
    def interrupt(self, *, force: bool = False) -> None: ...
    async def update_agent(self, agent: Agent) -> None: ...
    async def run(self, *, user_input: str, timeout: float | None = 60.0) -> RunResult: ...
    async def wait_for_idle(self) -> None: ...
    async def aclose(self, *, reason: CloseReason = ..., error: BaseException | None = None) -> None: ...
    async def wait_closed(self) -> None: ...
    def report(self) -> SessionReport: ...
    def on(self, event: EventName, callback: Callable[..., Any] | None = None) -> Any: ...
    def once(self, event: EventName, callback: Callable[..., Any]) -> Callable[..., Any]: ...
    def off(self, event: EventName, callback: Callable[..., Any]) -> None: ...


class Agent:
    """Instructions and tools for one role in a conversation.

    Subclass it and decorate methods with ``@function_tool`` to give it tools, or pass ``tools=``.
    ``mcp_servers`` lend their tools (see :mod:`livekitex_agent.tools.mcp`). Providers given here
    (``stt``, ``llm``, ``tts``, ``vad``) override the session's while this agent is active.
    ``tts_text_transforms`` (names or functions ``str -> str``, see :mod:`livekitex_agent.text`)
    replace the session's for this agent's speech. Override the hooks to run code when the agent
    takes over, hands over, or when the user finishes a turn.

    Override a node (``stt_node``, ``llm_node``, ``tts_node``, ``transcription_node``,
    ``realtime_audio_output_node``) to change one stage of the conversation: each is an async
    generator whose default does what the session does without it, so an override usually wraps
    ``super().<node>(...)`` to filter its input or output, or replaces it. Overriding one never
    requires touching another.
    """

    def __init__(
        self,
        instructions: str,
        *,
        tools: Sequence[FunctionTool] = (),
        stt: STT | None = None,
        llm: LLM | None = None,
        tts: TTS | None = None,
        vad: VAD | None = None,
        allow_interruptions: bool | None = None,
        mcp_servers: Sequence[MCPServer] = (),
        tts_text_transforms: Sequence[TextTransformLike] | None = None,
    ) -> None:
        if not isinstance(instructions, str):
            raise TypeError(f"instructions must be a string, got {type(instructions).__name__}")
        for name, value, kind in (("stt", stt, STT), ("llm", llm, LLM), ("tts", tts, TTS), ("vad", vad, VAD)):
            check_instance(f"Agent {name}", value, kind)
        check_bool("Agent allow_interruptions", allow_interruptions, allow_none=True)
        for server in mcp_servers:
            check_instance("Agent mcp_servers item", server, MCPServer, allow_none=False)
        self.instructions = instructions
        self.stt = stt
        self.llm = llm
        self.tts = tts
        self.vad = vad
        self.allow_interruptions = allow_interruptions
        # what the TTS hears instead of the LLM's text while this agent speaks (None: the session's)
        self.tts_text_transforms = check_transforms(
            "Agent tts_text_transforms", tts_text_transforms, allow_none=True
        )
        self._registry = ToolRegistry(find_tools(self))
        for tool in tools:
            self._registry.register(tool)
        self.mcp_servers = list(mcp_servers)  # their tools join the registry while a session runs
        self._session: SessionAPI | None = None
        self._node_context: NodeContext | None = None

    @property
    def tools(self) -> list[FunctionTool]:
        return self._registry.list()

    @property
    def tool_registry(self) -> ToolRegistry:
        return self._registry

    @property
    def session(self) -> SessionAPI:
        """The session this agent is active in (set while it is the current agent)."""
        if self._session is None:
            raise RuntimeError(f"{type(self).__name__} is not running in a session")
        return self._session

    @property
    def node_context(self) -> NodeContext:
        """The providers and settings the session lends this agent's nodes while it is active."""
        if self._node_context is None:
            raise RuntimeError(f"{type(self).__name__} is not running in a session")
        return self._node_context

    # -- nodes: override one to change a stage (see docs/flow/12-extending.md) --------------------
    @default_node
    async def stt_node(self, audio: AsyncIterable[AudioFrame]) -> AsyncIterator[SpeechEvent]:
        """One speech segment of the user's audio (frames at the VAD's rate, from the start of speech
        to its end) → speech events. Final transcripts are the user's words (an empty one: none);
        interim ones update the live transcript and barge-in.

        Default: the STT (the agent's, else the session's) streams the segment when it can (a
        broken stream falls back to recognizing the segment), else recognizes it when it ends.
        Override to post-filter transcripts (drop a hallucination, map a domain word).
        """
        async for event in default_stt_node(self.node_context, audio):
            yield event

    @default_node
    async def llm_node(
        self, chat_ctx: ChatContext, tools: Sequence[FunctionTool]
    ) -> AsyncIterator[ChatChunk | str]:
        """One LLM step: the request's context (a copy: change it freely, the history keeps its own)
        and the tools offered → text and tool calls, as :class:`ChatChunk` s or plain ``str`` text.

        Default: the LLM's ``chat`` (retried until its first chunk, resumed if it dies mid-answer).
        Called for every step of a reply (each tool round too) and for a preemptive reply. Override
        to inject retrieved context, or to answer without an LLM.
        """
        async for chunk in default_llm_node(self.node_context, chat_ctx, tools):
            yield chunk

    @default_node
    async def tts_node(self, text: AsyncIterable[str]) -> AsyncIterator[AudioFrame]:
        """The text the TTS hears, one complete sentence per item (after ``tts_text_transforms``) →
        audio frames (mono, any rate: the session resamples once). Called once per LLM step of a
        reply (and per ``say``); the sentence whose audio is playing is the last one taken from
        ``text``, which keeps the transcript in step with the audio.

        Default: each sentence synthesized by the TTS in turn (retried, resumed mid-stream).
        Override to fix a pronunciation, or to use another voice. The transcript and the history
        keep the LLM's text.
        """
        async for frame in default_tts_node(self.node_context, text):
            yield frame

    @default_node
    async def transcription_node(self, text: AsyncIterable[str]) -> AsyncIterator[str]:
        """The agent's words as they are spoken (pipeline: one sentence per item, as its audio
        starts; realtime: the model's text deltas) → the text shown to the user: the session's text
        output (``lk.transcription`` in a room). Default: unchanged. The audio and the history are
        not affected (the agent still says the words and remembers them). If it raises, the error
        is reported and no more text is shown for that reply.
        """
        async for delta in passthrough(text):
            yield delta

    @default_node
    async def realtime_audio_output_node(self, audio: AsyncIterable[AudioFrame]) -> AsyncIterator[AudioFrame]:
        """The realtime model's audio of one message → what is played. Default: unchanged."""
        async for frame in passthrough(audio):
            yield frame

    # -- hooks ------------------------------------------------------------------------------------
    async def on_enter(self) -> None:
        """Called when this agent becomes the session's agent (at start or after a hand-off)."""

    async def on_exit(self) -> None:
        """Called when this agent hands the conversation to another one, or the session closes."""

    async def on_user_turn_completed(self, turn_ctx: ChatContext, new_message: ChatMessage) -> None:
        """Called with the user's finished spoken turn (pipeline engine) before the reply is generated.

        Edit ``new_message.content`` to change what the LLM sees, or raise
        :class:`~livekitex_agent.errors.StopResponse` to skip the reply. Typed input
        (``generate_reply(user_input=...)``, ``lk.chat``) and turns the realtime model answers by
        itself do not call it.
        """

    def __repr__(self) -> str:
        return f"{type(self).__name__}(tools={[t.name for t in self.tools]})"

    def _attach(self, session: SessionAPI, nodes: NodeContext | None = None) -> None:
        self._session = session
        self._node_context = nodes

    def _detach(self) -> None:
        self._session = None
        self._node_context = None

