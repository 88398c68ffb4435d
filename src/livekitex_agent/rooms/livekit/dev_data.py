"""Dev data for a front end: each turn's latency and each tool call, as JSON data packets.

Off unless enabled: ``LiveKitRoomIO(agent_data=True)`` (``session.start(..., room=ctx.room,
agent_data=True)``), or the environment variable ``LIVEKITEX_AGENT_DATA=1``, which ``dev`` mode sets.
Packets are reliable, sent to the linked participant only, one JSON object each (UTF-8), schema
version 1:

- topic ``lk.agent.metrics``, when a turn ends::

    {"type": "turn_metrics", "version": 1, "speech_id": "...", "engine": "pipeline" | "realtime",
     "end_of_utterance_delay": s, "transcription_delay": s, "llm_ttft": s, "tts_ttfb": s,
     "e2e_latency": s, "framework_delay": s, "tool_steps": n, "interrupted": bool, "timestamp": unix s}

  (delays in seconds, ``null`` when the stage did not run);
- topic ``lk.agent.tools``, for each tool call once it returned::

    {"type": "tool_call", "version": 1, "call_id": "...", "name": "...", "arguments": "<JSON text as
     the model wrote it>", "result": "<the tool's output>", "is_error": bool, "timestamp": unix s}

  (``arguments`` and ``result`` cut to :data:`MAX_FIELD_CHARS` characters, ``truncated`` true then).

Tool arguments and results may hold what the user said: enable this only where the person in the room
may see them (development, your own test rooms).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections import deque
from collections.abc import Callable
from typing import Any

from livekit import rtc

from ...events import FunctionToolsExecutedEvent, MetricsCollectedEvent
from ...metrics import TurnMetrics
from ._tasks import TaskOwner
from .conventions import TOPIC_AGENT_METRICS, TOPIC_AGENT_TOOLS

logger = logging.getLogger("livekitex_agent.rooms.livekit")

ENV_AGENT_DATA = "LIVEKITEX_AGENT_DATA"
SCHEMA_VERSION = 1
MAX_FIELD_CHARS = 2000  # keeps a packet well under the data channel's size limit
MAX_PENDING = 64  # packets waiting for the room; the oldest are dropped past this
_LATENCIES = (
    "end_of_utterance_delay",
    "transcription_delay",
    "llm_ttft",
    "tts_ttfb",
    "e2e_latency",
    "framework_delay",
)


def agent_data_enabled(option: bool | None, env: dict[str, str] | None = None) -> bool:
    """``option`` when given, else whether ``LIVEKITEX_AGENT_DATA`` is ``1``/``true``/``yes``."""
    if option is not None:
        return option
    value = (os.environ if env is None else env).get(ENV_AGENT_DATA, "")
    return value.strip().lower() in ("1", "true", "yes")


def turn_metrics_message(m: TurnMetrics) -> bytes:
    """The ``lk.agent.metrics`` packet of one turn."""
    msg: dict[str, Any] = {"type": "turn_metrics", "version": SCHEMA_VERSION, "speech_id": m.speech_id}
    msg["engine"] = m.engine
    for name in _LATENCIES:
        value = getattr(m, name)
        msg[name] = None if value is None else round(float(value), 4)
    msg.update(tool_steps=m.tool_steps, interrupted=m.interrupted, timestamp=round(m.timestamp, 3))
    return json.dumps(msg, separators=(",", ":")).encode()


def tool_call_messages(event: FunctionToolsExecutedEvent) -> list[bytes]:
    """The ``lk.agent.tools`` packets of one round of tool calls (one per call)."""
    outputs = {o.call_id: o for o in event.function_call_outputs}
    packets = []
    for call in event.function_calls:
        out = outputs.get(call.call_id)
        arguments, cut_args = _cut(call.arguments)
        result, cut_result = _cut(out.output if out is not None else "")
        msg = {
            "type": "tool_call",
            "version": SCHEMA_VERSION,
            "call_id": call.call_id,
            "name": call.name,
            "arguments": arguments,
            "result": result,
            "is_error": bool(out is not None and out.is_error),
            "timestamp": round(out.created_at if out is not None else call.created_at, 3),
        }
        if cut_args or cut_result:
            msg["truncated"] = True
        packets.append(json.dumps(msg, separators=(",", ":")).encode())
    return packets


def _cut(text: str) -> tuple[str, bool]:
    return (text, False) if len(text) <= MAX_FIELD_CHARS else (text[:MAX_FIELD_CHARS], True)


class AgentDataPublisher:
    """Follows a session's metrics and tool calls and sends them, in order, from one owned task.

    ``destination()`` names the participant to send to (the linked one); ``None`` holds nothing back
    but sends to nobody (no one to show it to yet).
    """

    def __init__(self, room: rtc.Room, destination: Callable[[], str | None]) -> None:
        self._room = room
        self._destination = destination
        self._pending: deque[tuple[str, bytes]] = deque(maxlen=MAX_PENDING)
        self._wakeup = asyncio.Event()
        self._tasks = TaskOwner()
        self._sender: asyncio.Task[None] | None = None
        self._session: Any = None
        self._closed = False

    def attach(self, session: Any) -> None:
        self._session = session
        session.on("metrics_collected", self._on_metrics)
        session.on("function_tools_executed", self._on_tools)

    async def aclose(self) -> None:
        self._closed = True
        off = getattr(self._session, "off", None)
        if off is not None:
            off("metrics_collected", self._on_metrics)
            off("function_tools_executed", self._on_tools)
        await self._tasks.cancel_all()

    def _on_metrics(self, event: MetricsCollectedEvent) -> None:
        if isinstance(event.metrics, TurnMetrics):
            self._push(TOPIC_AGENT_METRICS, turn_metrics_message(event.metrics))

    def _on_tools(self, event: FunctionToolsExecutedEvent) -> None:
        for packet in tool_call_messages(event):
            self._push(TOPIC_AGENT_TOOLS, packet)

    def _push(self, topic: str, payload: bytes) -> None:
        if self._closed:
            return
        self._pending.append((topic, payload))
        self._wakeup.set()
        if self._sender is None:
            self._sender = self._tasks.spawn(self._send_loop(), name="lk-agent-data")

    async def _send_loop(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._pending:
                topic, payload = self._pending.popleft()
                identity = self._destination()
                if identity is None or not self._room.isconnected():
                    continue
                try:
                    await self._room.local_participant.publish_data(
                        payload, reliable=True, topic=topic, destination_identities=[identity]
                    )
                except Exception as e:
                    logger.warning("failed to publish %s data: %s", topic, e)
