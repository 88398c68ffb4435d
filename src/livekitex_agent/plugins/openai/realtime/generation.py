"""Turning ``response.*`` server events into :class:`RealtimeGeneration` objects."""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import get_args

from ....chat import FunctionCall
from ....media.frame import AudioFrame
from ....metrics import UsageMetrics
from ....providers.realtime import (
    GenerationResult,
    GenerationStatus,
    MessageGeneration,
    Modality,
    RealtimeGeneration,
)
from .protocol import (
    SAMPLE_RATE,
    AudioDelta,
    FunctionArgumentsDone,
    OutputItemAdded,
    OutputItemDone,
    Response,
    TextDelta,
)

logger = logging.getLogger("livekitex_agent.plugins.openai.realtime")

_STATUSES = frozenset(get_args(GenerationStatus))
_RECEIVED_ITEMS_KEPT = 64


@dataclass
class _Active:
    generation: RealtimeGeneration
    started_at: float
    messages: dict[str, MessageGeneration] = field(default_factory=dict)
    calls_sent: set[str] = field(default_factory=set)


class ResponseTracker:
    """The responses in progress, and how much audio each assistant item has received."""

    def __init__(self, *, provider: str, modalities: Sequence[Modality]) -> None:
        self._provider = provider
        self._modalities = tuple(modalities)
        self._active: dict[str, _Active] = {}
        self._received: collections.OrderedDict[str, int] = collections.OrderedDict()

    @property
    def active(self) -> bool:
        return bool(self._active)

    def active_item_ids(self) -> set[str]:
        ids: set[str] = set()
        for act in self._active.values():
            ids.update(act.messages)
            ids.update(act.calls_sent)
        return ids

    def received_audio_bytes(self, item_id: str) -> int | None:
        """Bytes of audio received for assistant item ``item_id`` (``None``: no audio seen)."""
        return self._received.get(item_id)

    def note_truncated(self, item_id: str, audio_end_ms: int) -> None:
        """After a truncation the server's item is that long: later truncations must not go past it."""
        if item_id in self._received:
            self._received[item_id] = min(self._received[item_id], audio_end_ms * 48)

    # -- events -------------------------------------------------------------------------------
    def created(self, response: Response, *, user_initiated: bool) -> RealtimeGeneration:
        gen = RealtimeGeneration(response.id, user_initiated=user_initiated)
        self._active[response.id] = _Active(gen, asyncio.get_running_loop().time())
        return gen

    def output_item_added(self, ev: OutputItemAdded) -> None:
        act = self._get(ev.response_id, "response.output_item.added")
        if act is None:
            return
        act.generation.touch()
        if ev.item.type != "message":
            return
        msg = MessageGeneration(ev.item.id, self._modalities)
        act.messages[ev.item.id] = msg
        act.generation.messages.send_nowait(msg)

    def text_delta(self, ev: TextDelta) -> None:
        msg = self._message(ev.response_id, ev.item_id)
        if msg is not None and not msg.text_stream.closed:
            self._active[ev.response_id].generation.touch()
            msg.text += ev.delta
            msg.text_stream.send_nowait(ev.delta)

    def audio_delta(self, ev: AudioDelta) -> None:
        msg = self._message(ev.response_id, ev.item_id)
        if msg is None or msg.audio_stream.closed:
            return
        try:
            frame = AudioFrame.from_bytes(ev.audio, SAMPLE_RATE)
        except ValueError as e:
            logger.warning("skipping an audio delta of item %s: %s", ev.item_id, e)
            return
        self._active[ev.response_id].generation.touch()
        msg.audio_bytes += len(ev.audio)
        self._received[ev.item_id] = msg.audio_bytes
        self._received.move_to_end(ev.item_id)
        while len(self._received) > _RECEIVED_ITEMS_KEPT:
            self._received.popitem(last=False)
        msg.audio_stream.send_nowait(frame)

    def arguments_done(self, ev: FunctionArgumentsDone) -> None:
        act = self._get(ev.response_id, "response.function_call_arguments.done")
        if act is not None:
            act.generation.touch()
        if act is not None and ev.name:
            self._send_call(act, FunctionCall(name=ev.name, arguments=ev.arguments, call_id=ev.call_id, id=ev.item_id))

    def output_item_done(self, ev: OutputItemDone) -> None:
        act = self._get(ev.response_id, "response.output_item.done")
        if act is None:
            return
        act.generation.touch()
        item = ev.item
        if item.type == "message":
            msg = act.messages.get(item.id)
            if msg is not None:
                msg.close()
        elif item.type == "function_call" and item.name and item.call_id and item.status != "incomplete":
            # normally sent on function_call_arguments.done already; this covers servers that skip it
            call = FunctionCall(name=item.name, arguments=item.arguments or "", call_id=item.call_id, id=item.id)
            self._send_call(act, call)

    def done(self, response: Response) -> tuple[RealtimeGeneration, GenerationResult] | None:
        act = self._active.pop(response.id, None)
        if act is None:
            logger.debug("response.done for unknown response %s", response.id)
            return None
        details = response.status_details or {}
        error = details.get("error") if isinstance(details.get("error"), dict) else {}
        usage = None
        if response.usage is not None:
            usage = UsageMetrics(
                provider=self._provider,
                kind="realtime",
                input_tokens=response.usage.input_tokens,
                output_tokens=response.usage.output_tokens,
                duration=asyncio.get_running_loop().time() - act.started_at,
            )
        status = response.status if response.status in _STATUSES else "failed"
        result = GenerationResult(
            status=status,  # type: ignore[arg-type]
            reason=details.get("reason") if isinstance(details.get("reason"), str) else None,
            error_code=error.get("code") if isinstance(error, dict) else None,
            status_details=response.status_details,
            usage=usage,
            output_item_ids=[i.id for i in response.output],
        )
        self._finish(act, result)
        return act.generation, result

    def fail_all(self, result: GenerationResult) -> None:
        """End every response in progress (the connection was lost or the session closed)."""
        active, self._active = self._active, {}
        for act in active.values():
            self._finish(act, result)

    # -- helpers ------------------------------------------------------------------------------
    def _get(self, response_id: str, what: str) -> _Active | None:
        act = self._active.get(response_id)
        if act is None:
            logger.debug("%s for unknown response %s ignored", what, response_id)
        return act

    def _message(self, response_id: str, item_id: str) -> MessageGeneration | None:
        act = self._active.get(response_id)
        msg = act.messages.get(item_id) if act is not None else None
        if msg is None:
            logger.debug("delta for unknown item %s of response %s ignored", item_id, response_id)
        return msg

    @staticmethod
    def _send_call(act: _Active, call: FunctionCall) -> None:
        if call.id in act.calls_sent:
            return
        act.calls_sent.add(call.id)
        act.generation.function_calls.send_nowait(call)

    @staticmethod
    def _finish(act: _Active, result: GenerationResult) -> None:
        for msg in act.messages.values():
            msg.close()
        act.generation.finish(result)
