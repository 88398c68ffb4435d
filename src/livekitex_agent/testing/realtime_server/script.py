"""What the test server answers: scripted responses, and the deterministic audio it speaks them with."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

SAMPLE_RATE = 24000
BYTES_PER_MS = 48  # 24 kHz PCM16 mono


@dataclass
class ScriptedMessage:
    """An assistant message. It is spoken (a tone whose length follows the text) unless the
    session's (or response's) output modality is text."""

    text: str


@dataclass
class ScriptedFunctionCall:
    name: str
    arguments: str | dict[str, Any] = "{}"
    call_id: str | None = None

    @property
    def arguments_json(self) -> str:
        return self.arguments if isinstance(self.arguments, str) else json.dumps(self.arguments)


ScriptedOutput = ScriptedMessage | ScriptedFunctionCall


@dataclass
class ScriptedResponse:
    """One whole response. ``status`` ``failed``/``incomplete`` ends it that way after its output."""

    output: list[ScriptedOutput] = field(default_factory=list)
    status: Literal["completed", "incomplete", "failed"] = "completed"
    status_details: dict[str, Any] | None = None


ScriptItem = str | ScriptedOutput | ScriptedResponse | Sequence[ScriptedOutput]


@dataclass
class ScriptContext:
    """What a script callable sees when the server needs a response."""

    items: list[dict[str, Any]]  # the conversation as the server holds it (GA item dicts)
    instructions: str  # session instructions, or the response's override
    tools: list[dict[str, Any]]
    response_params: dict[str, Any]  # the response.create parameters ({} for a VAD-triggered response)
    connection_index: int

    @property
    def last_item(self) -> dict[str, Any] | None:
        return self.items[-1] if self.items else None

    @property
    def last_user_text(self) -> str | None:
        """The text (or transcript) of the latest user message."""
        for item in reversed(self.items):
            if item.get("type") == "message" and item.get("role") == "user":
                parts = item.get("content") or []
                return "".join(str(p.get("text") or p.get("transcript") or "") for p in parts)
        return None


Script = Callable[[ScriptContext], "ScriptItem | None"]


def to_response(item: ScriptItem) -> ScriptedResponse:
    """Normalize what a test queued or a script returned."""
    if isinstance(item, ScriptedResponse):
        return item
    if isinstance(item, str):
        return ScriptedResponse([ScriptedMessage(item)])
    if isinstance(item, (ScriptedMessage, ScriptedFunctionCall)):
        return ScriptedResponse([item])
    outputs = list(item)
    for out in outputs:
        if not isinstance(out, (ScriptedMessage, ScriptedFunctionCall)):
            raise TypeError(f"a scripted response holds ScriptedMessage/ScriptedFunctionCall, got {out!r}")
    return ScriptedResponse(outputs)


class ToneGenerator:
    """A continuous 440 Hz tone: the 'voice' of the test server (deterministic, phase-continuous)."""

    def __init__(self, frequency: float = 440.0, amplitude: float = 0.3) -> None:
        self._step = 2 * math.pi * frequency / SAMPLE_RATE
        self._amplitude = amplitude * 32767
        self._pos = 0

    def pcm(self, duration_ms: int) -> bytes:
        n = SAMPLE_RATE * duration_ms // 1000
        t = np.arange(self._pos, self._pos + n, dtype=np.float64)
        self._pos += n
        return (np.sin(t * self._step) * self._amplitude).astype("<i2").tobytes()


def split_words(text: str) -> list[str]:
    """``"Hi there."`` → ``["Hi ", "there."]`` (the transcript deltas of a spoken message)."""
    words: list[str] = []
    current = ""
    for ch in text:
        current += ch
        if ch == " ":
            words.append(current)
            current = ""
    if current:
        words.append(current)
    return words
