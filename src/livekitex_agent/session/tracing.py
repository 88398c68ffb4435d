"""OpenTelemetry traces of a session: one span per answered user turn, built from its events.

``AgentSession(tracing=TracingOptions(...))`` (``pip install 'livekitex-agent[otel]'``). Nothing is
added to the audio or reply path: the tracer listens to the session's events, notes when each
happened on the loop clock, and when a turn's :class:`~livekitex_agent.metrics.TurnMetrics` arrive
(once its reply has played) writes the turn's spans with explicit start and end times derived from
those metrics, so a trace and ``metrics_collected`` always agree::

    turn                      user speech start → reply played (the TurnMetrics as attributes)
    ├── end_of_turn           end of user speech → end-of-turn decision (end_of_utterance_delay)
    ├── stt                   segment handed to the STT → final transcript (transcription_delay)
    ├── llm                   first request → last step done (llm_ttft)
    │   ├── llm_request       one per LLM step
    │   └── tool_round        one per round of tool calls
    │       └── tool_call     one per call (name, error; never arguments or results)
    ├── tts                   first sentence sent → last sentence synthesized (tts_ttfb)
    └── playout               first audio frame out → end of the reply (interrupted)

The spans of one tool round share the round's times (the executor runs the calls concurrently and
its event reports the round). ``opentelemetry`` is imported only when tracing is used.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from ..events import EVENT_NAMES
from ..hooks import current_job_attributes
from ..metrics import TurnMetrics, UsageMetrics
from ..validation import check_instance

INSTALL_HINT = "pip install 'livekitex-agent[otel]'"
TRACER_NAME = "livekitex_agent"
_USER_KINDS = ("user_start", "user_end", "transcript")
_MAX_SEEN = 256  # observations kept while no turn closes (text turns, noise): the oldest go


@dataclass
class TracingOptions:
    """Where a session's spans go.

    With ``span_processors`` (e.g. ``BatchSpanProcessor(OTLPSpanExporter())``) the session gets a
    tracer provider of its own whose resource names the job and the room (``livekit.job.id``,
    ``livekit.room.name``, ``livekit.agent.name``) plus ``resource_attributes``; the processors stay
    yours (share them between sessions; shut them down when the process ends). Otherwise the spans
    go to ``tracer_provider`` (default: OpenTelemetry's global one) and the job and room are
    attributes of each turn span.
    """

    span_processors: Sequence[Any] = ()
    tracer_provider: Any = None
    resource_attributes: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.span_processors and self.tracer_provider is not None:
            raise ValueError("TracingOptions: give span_processors or tracer_provider, not both")


@dataclass
class _Seen:
    kind: str
    t: float  # loop time the event arrived
    duration: float = 0.0
    payload: Any = None


class SessionTracer:
    """Listens to one session's events and writes a trace per turn (see the module doc)."""

    def __init__(self, options: TracingOptions) -> None:
        try:
            from opentelemetry import trace
        except ImportError as e:
            raise ImportError(f"tracing needs OpenTelemetry: {INSTALL_HINT}") from e
        self.options = options
        self._trace = trace
        self._tracer: Any = None
        self._span_attributes: dict[str, str] = {}
        self._seen: list[_Seen] = []
        self._anchor: tuple[float, int] | None = None  # (loop time, epoch ns) of the first event

    @classmethod
    def attach(cls, session: Any, options: TracingOptions | None) -> SessionTracer | None:
        """Trace ``session`` (an :class:`AgentSession`) when ``options`` is given; None otherwise."""
        check_instance("AgentSession tracing", options, TracingOptions)
        if options is None:
            return None
        tracer = cls(options)
        for name in EVENT_NAMES:
            session.on(name, lambda payload, _name=name: tracer.observe(_name, payload))
        return tracer

    # -- events -----------------------------------------------------------------------------------
    def observe(self, name: str, payload: Any) -> None:
        now = asyncio.get_running_loop().time()
        if self._anchor is None:
            self._anchor = (now, time.time_ns())
        seen = self._seen
        if name == "user_state_changed":
            if payload.new_state == "speaking":
                seen.append(_Seen("user_start", now))
            elif payload.old_state == "speaking":
                seen.append(_Seen("user_end", now))
        elif name == "user_input_transcribed" and payload.is_final:
            seen.append(_Seen("transcript", now))
        elif name == "agent_state_changed" and payload.new_state in ("thinking", "speaking"):
            seen.append(_Seen(str(payload.new_state), now))
        elif name == "agent_state_changed" and payload.new_state == "listening":
            # a reply ended without turn metrics (a text turn, say()): its stages trace nothing
            self._seen = [s for s in seen if s.kind in _USER_KINDS]
        elif name == "function_tools_executed":
            seen.append(_Seen("tools", now, payload=payload))
        elif name == "metrics_collected":
            metrics = payload.metrics
            if isinstance(metrics, UsageMetrics) and metrics.kind in ("llm", "tts"):
                seen.append(_Seen(metrics.kind, now, duration=metrics.duration))
            elif isinstance(metrics, TurnMetrics):
                self._write_turn(metrics, now)
        if len(self._seen) > _MAX_SEEN:
            del self._seen[: len(self._seen) - _MAX_SEEN]

    # -- spans ------------------------------------------------------------------------------------
    def _write_turn(self, m: TurnMetrics, now: float) -> None:
        seen, tracer = self._seen, self._get_tracer()
        play = _last(seen, "speaking")
        user_end = _last(seen, "user_end")
        speech_end = play - m.e2e_latency if play is not None and m.e2e_latency is not None else user_end
        decided = (
            speech_end + m.end_of_utterance_delay
            if speech_end is not None and m.end_of_utterance_delay is not None
            else _first(seen, "thinking")
        )
        children: list[tuple[str, float, float, dict[str, Any], list[Any]]] = []
        if speech_end is not None and decided is not None:
            children.append(("end_of_turn", speech_end, decided, {}, []))
        transcript = _last(seen, "transcript", before=decided if decided is not None else now)
        if transcript is not None and m.transcription_delay is not None:
            children.append(("stt", transcript - m.transcription_delay, transcript, {}, []))
        llm = self._llm_spans(seen, m)
        if llm is not None:
            children.append(llm)
        tts = [(s.t - s.duration, s.t) for s in seen if s.kind == "tts"]
        if tts:
            attrs = _attrs(ttfb=m.tts_ttfb, sentences=len(tts))
            children.append(("tts", min(a for a, _ in tts), max(b for _, b in tts), attrs, []))
        if play is not None:
            children.append(("playout", play, now, _attrs(interrupted=m.interrupted), []))

        starts = [c[1] for c in children]
        user_start = _last(seen, "user_start", before=speech_end) if speech_end is not None else None
        turn_start = min([*starts, *([user_start] if user_start is not None else []), now])
        attributes = {**self._span_attributes, **_metric_attributes(m)}
        turn = tracer.start_span("turn", start_time=self._ns(turn_start), attributes=attributes)
        context = self._trace.set_span_in_context(turn)
        for child in children:
            self._write_span(tracer, context, child, turn_start, now)
        turn.end(end_time=self._ns(now))
        # what the user said after the reply began (a barge-in) belongs to the next turn
        cut = play if play is not None else now
        self._seen = [s for s in seen if s.kind in _USER_KINDS and s.t > cut]

    def _llm_spans(self, seen: list[_Seen], m: TurnMetrics) -> tuple[str, float, float, dict[str, Any], list[Any]] | None:
        steps = [(s.t - s.duration, s.t) for s in seen if s.kind == "llm"]
        if not steps:
            return None
        children: list[Any] = [("llm_request", a, b, _attrs(step=i), []) for i, (a, b) in enumerate(steps)]
        for round_index, s in enumerate(x for x in seen if x.kind == "tools"):
            began = max((b for _, b in steps if b <= s.t), default=s.t)
            calls: list[Any] = [
                ("tool_call", began, s.t, _attrs(name=c.name, call_id=c.call_id, is_error=o.is_error), [])
                for c, o in zip(s.payload.function_calls, s.payload.function_call_outputs, strict=False)
            ]
            children.append(("tool_round", began, s.t, _attrs(round=round_index, calls=len(calls)), calls))
        start = min(c[1] for c in children)
        end = max(c[2] for c in children)
        return ("llm", start, end, _attrs(ttft=m.llm_ttft, steps=len(steps)), children)

    def _write_span(
        self, tracer: Any, parent: Any, spec: tuple[str, float, float, dict[str, Any], list[Any]],
        low: float, high: float,
    ) -> None:
        name, start, end, attributes, children = spec
        start = min(max(start, low), high)  # a child never leaves its parent
        end = min(max(end, start), high)
        span = tracer.start_span(name, context=parent, start_time=self._ns(start), attributes=attributes)
        context = self._trace.set_span_in_context(span)
        for child in children:
            self._write_span(tracer, context, child, start, end)
        span.end(end_time=self._ns(end))

    def _ns(self, t: float) -> int:
        assert self._anchor is not None
        loop_t, epoch_ns = self._anchor
        return epoch_ns + round((t - loop_t) * 1e9)

    def _get_tracer(self) -> Any:
        if self._tracer is not None:
            return self._tracer
        options, job = self.options, current_job_attributes()
        if options.span_processors:
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider

            resource = Resource.create({"service.name": "livekitex-agent", **job, **options.resource_attributes})
            own = TracerProvider(resource=resource)
            for processor in options.span_processors:
                own.add_span_processor(processor)
            provider: Any = own
        else:
            provider = options.tracer_provider or self._trace.get_tracer_provider()
            self._span_attributes = {**job, **options.resource_attributes}
        self._tracer = provider.get_tracer(TRACER_NAME)
        return self._tracer


def _last(seen: list[_Seen], kind: str, *, before: float | None = None) -> float | None:
    times = [s.t for s in seen if s.kind == kind and (before is None or s.t <= before + 1e-9)]
    return times[-1] if times else None


def _first(seen: list[_Seen], kind: str) -> float | None:
    return next((s.t for s in seen if s.kind == kind), None)


def _attrs(**values: Any) -> dict[str, Any]:
    return {f"livekitex.{k}": v for k, v in values.items() if v is not None}


def _metric_attributes(m: TurnMetrics) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(m):
        value = getattr(m, f.name)
        if f.name not in ("type", "timestamp") and value is not None:
            out[f"livekitex.turn.{f.name}"] = value
    return out
