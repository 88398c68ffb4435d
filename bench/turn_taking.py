"""Turn-taking quality: false cuts and reply delay per turn-detection configuration, one corpus.

Every clip of ``bench/turn_corpus.py`` (espeak-ng voices; clean ends, mid-turn pauses of
0.3–1.5 s, trailing fillers, questions) and of ``bench/turn_corpus_recorded.py`` (recorded human
speech) is spoken into a real :class:`AgentSession` with the real
Silero VAD, a streaming STT that transcribes from the corpus's ground truth (interim: the words
whose audio has been heard; final: at the end of the segment; zero delay), a scripted LLM and TTS. The loop runs on virtual time; any real
compute a configuration does on the decision path (the turn model) is charged to the virtual clock
as the thread CPU time it took.

Per configuration and part of the corpus (``part=all``: the espeak clips the policy was tuned on
plus the held-out ones; ``part=tune``; ``part=heldout``: other sentences in other voices;
``part=recorded``: one real voice, also held out):

- ``false_cut_pct``: paused clips where the turn was taken during a mid-turn pause, in %;
- ``eot_p50_ms`` / ``eot_p95_ms``: true end of speech → end-of-turn decision;
- ``reply_p50_ms`` / ``reply_p95_ms``: true end of speech → first agent audio.

Delays are counted from when the session has *received* the last speech sample (input frames are
20 ms), so they are never understated.

Configurations: ``vad`` (today's default: SileroVAD(), ``min_endpointing_delay=0.5``),
``vad_1500ms`` (silence alone, long enough to cut almost no pause), ``smart_turn`` (the Smart Turn
audio model alone), ``smart_turn_text`` (the model, held by transcript cues), ``text_cues`` (the
transcript cues alone after a 0.2 s pause); ``smart_turn_text_llm300`` and
``..._preemptive``: the same with a 300 ms LLM time to first token, without and with preemptive
generation. The model's cost is measured apart, on a real loop:
thread CPU per decision (features + inference) and the longest event-loop stall while decisions
run in the executor (``RESULT smart_turn_cost``), with the features' and the ONNX run's shares.

``--sweep`` adds the Smart Turn detector with one option changed at a time from its defaults
(threshold, pause_duration, max_pause): the measurements its defaults were chosen by.

Usage: ``python bench/turn_taking.py [--limit N] [--config NAME ...] [--sweep]``
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from turn_corpus import Clip, load_corpus  # noqa: E402
from turn_corpus_recorded import load_recorded  # noqa: E402

from livekitex_agent import Agent  # noqa: E402
from livekitex_agent.chat import ChatMessage  # noqa: E402
from livekitex_agent.media import AudioFrame  # noqa: E402
from livekitex_agent.metrics import percentile  # noqa: E402
from livekitex_agent.providers import VAD, TurnDetector  # noqa: E402
from livekitex_agent.providers.stt import (  # noqa: E402
    STT,
    EventQueue,
    SpeechAlternative,
    SpeechEvent,
    SpeechEventType,
    STTCapabilities,
    STTStream,
    iterate_events,
)
from livekitex_agent.session import AgentSession  # noqa: E402
from livekitex_agent.session.turn_detection import DetectorTurns  # noqa: E402
from livekitex_agent.testing import FakeLLM, FakeTTS, MemoryIO, run_virtual  # noqa: E402
from livekitex_agent.testing.fakes import FakeLLMResponse  # noqa: E402

FRAME = 0.02
# int8 operations of one Smart Turn v3.2 decision (Whisper-tiny encoder on 8 s: 2 convolutions,
# 4 layers of 400 tokens x 384, 6 heads, FFN 1536): 3.57 G multiply-adds
MODEL_GOP = 7.1
TAIL = 0.25
CUT_MARGIN = 0.05  # a decision this long before the true end is a cut (the VAD lags ~1 window)


class CorpusSTT(STT):
    """Transcribes what the clip has said so far: the parts whose speech has been heard.

    A part counts as heard up to its last ``TAIL`` seconds (a real STT gets a word whose fading
    end the VAD already took for silence, as with the breathy voice).
    """

    sample_rate = 16000
    capabilities = STTCapabilities(streaming=True, interim_results=True)

    def __init__(self, clip: Clip, heard: Callable[[], float]) -> None:
        self._clip = clip
        self._heard = heard  # seconds of the clip received so far
        self._given = 0

    def take_heard(self) -> list[str]:
        heard = self._heard()
        parts: list[str] = []
        while self._given < len(self._clip.parts) and self._clip.part_ends[self._given] <= heard + TAIL:
            parts.append(self._clip.parts[self._given])
            self._given += 1
        return parts

    async def recognize(self, frames: Sequence[AudioFrame], *, language: str | None = None) -> SpeechEvent:
        return _event(SpeechEventType.FINAL_TRANSCRIPT, self.take_heard())

    def stream(self, *, language: str | None = None) -> STTStream:
        return _CorpusStream(self)


def _event(kind: SpeechEventType, parts: list[str]) -> SpeechEvent:
    return SpeechEvent(kind, [SpeechAlternative(text=" ".join(parts), language="en")])


class _CorpusStream(STTStream):
    """Streams the parts as they are heard (interim, at zero delay), all of them as the final."""

    def __init__(self, stt: CorpusSTT) -> None:
        self._stt = stt
        self._parts: list[str] = []
        self._events: EventQueue = asyncio.Queue()

    def push_frame(self, frame: AudioFrame) -> None:
        new = self._stt.take_heard()
        if new:
            self._parts += new
            self._events.put_nowait(_event(SpeechEventType.INTERIM_TRANSCRIPT, self._parts))

    def end_input(self) -> None:
        self._parts += self._stt.take_heard()
        self._events.put_nowait(_event(SpeechEventType.FINAL_TRANSCRIPT, self._parts))
        self._events.put_nowait(None)

    def __aiter__(self) -> AsyncIterator[SpeechEvent]:
        return iterate_events(self._events)

    async def aclose(self) -> None:
        pass


class ChargedDetector(TurnDetector):
    """Runs a detector's model inline and charges its thread CPU time to the virtual clock."""

    def __init__(self, inner: Any, **kwargs: Any) -> None:
        if isinstance(inner, TurnDetector):  # the detector's own defaults, unless a config says otherwise
            for name in ("threshold", "pause_duration", "max_pause", "transcript_cues"):
                kwargs.setdefault(name, getattr(inner, name))
        super().__init__(**kwargs)
        self.inner = inner
        self.costs: list[float] = []

    async def predict_end_of_turn(self, audio: Any, transcript: str, *, language: str | None = None) -> float:
        t0 = time.thread_time()
        p = float(self.inner.infer(audio))
        cost = time.thread_time() - t0
        self.costs.append(cost)
        await asyncio.sleep(cost)
        return p


class _Signalled(TurnDetector):
    """Asks the real detector (in its executor) and says when it answered."""

    def __init__(self, inner: Any) -> None:
        super().__init__(transcript_cues=False)
        self.inner = inner
        self.done = asyncio.Event()

    async def predict_end_of_turn(self, audio: Any, transcript: str, *, language: str | None = None) -> float:
        try:
            return float(await self.inner.predict_end_of_turn(audio, transcript, language=language))
        finally:
            self.done.set()


class TextOnly:
    """No audio model: every pause looks final, so only the transcript cues can hold the turn."""

    def infer(self, audio: Any) -> float:
        return 1.0


@dataclass
class Config:
    name: str
    options: dict[str, Any] = field(default_factory=dict)
    llm_ttft: float = 0.0


@dataclass
class ClipResult:
    clip: Clip
    decisions: list[float]  # audio time of each end-of-turn decision
    replies: list[float]  # audio time of each first agent audio of a reply
    llm_requests: int = 0

    @property
    def false_cut(self) -> bool:
        return any(t < self.clip.speech_end - CUT_MARGIN for t in self.decisions)

    def eot_delay(self) -> float | None:
        after = [t for t in self.decisions if t >= self.clip.speech_end - CUT_MARGIN]
        return after[0] - self.clip.speech_end if after else None

    def reply_delay(self) -> float | None:
        after = [t for t in self.decisions if t >= self.clip.speech_end - CUT_MARGIN]
        if not after:
            return None
        replies = [t for t in self.replies if t >= after[0]]
        return replies[0] - self.clip.speech_end if replies else None


async def run_clip(clip: Clip, vad: VAD, config: Config) -> ClipResult:
    loop = asyncio.get_running_loop()
    io = MemoryIO(input_sample_rate=16000, frame_duration=FRAME, record_input=True)

    def heard() -> float:
        rec = io.audio_input.recorded
        return loop.time() - rec[0][0] + FRAME if rec else 0.0

    llm = FakeLLM(default=FakeLLMResponse("Sure, one moment please.", ttft=config.llm_ttft))
    session = AgentSession(
        vad=vad,
        stt=CorpusSTT(clip, heard),
        llm=llm,
        tts=FakeTTS(seconds_per_char=0.01),
        user_away_timeout=None,
        **config.options,
    )
    decisions: list[float] = []

    def on_item(ev: Any) -> None:
        if isinstance(ev.item, ChatMessage) and ev.item.role == "user":
            decisions.append(heard())

    session.on("conversation_item_added", on_item)
    await session.start(Agent("Answer briefly."), io=io)
    io.push_audio(clip.audio)
    io.end_input()
    await session.wait_closed()
    start = io.audio_input.recorded[0][0]
    replies = [seg.start - start + FRAME for seg in io.audio_output.segments]
    return ClipResult(clip, decisions, replies, len(llm.requests))


def report(config: Config, results: list[ClipResult], wall: float, part: str) -> str:
    paused = [r for r in results if r.clip.pauses]
    cuts = sum(r.false_cut for r in paused)
    eot = [d * 1000 for r in results if (d := r.eot_delay()) is not None]
    reply = [d * 1000 for r in results if (d := r.reply_delay()) is not None]
    missed = len(results) - len(reply)
    print(
        f"# {config.name} part={part}: {len(results)} clips ({len(paused)} paused, {cuts} cut), "
        f"{missed} without a reply after the end, {wall:.1f} s wall",
        flush=True,
    )
    for r in paused if part != "all" else []:
        if r.false_cut:
            print(f"#   cut: {r.clip.id} {r.clip.text!r} pauses={r.clip.pauses}")
    slow = sorted(
        ((d, r.clip.id) for r in results if (d := r.reply_delay()) is not None and d > 0.5), reverse=True
    )
    if slow and part != "all":
        worst = ", ".join(f"{i} {d * 1000:.0f}" for d, i in slow[:6])
        print(f"#   {len(slow)} replies later than 500 ms; the latest: {worst}")
    return (
        f"RESULT turn_taking config={config.name} part={part} "
        f"false_cut_pct={100 * cuts / max(1, len(paused)):.1f} "
        f"eot_p50_ms={percentile(eot, 50):.0f} eot_p95_ms={percentile(eot, 95):.0f} "
        f"reply_p50_ms={percentile(reply, 50):.0f} reply_p95_ms={percentile(reply, 95):.0f} "
        f"llm_requests_per_clip={sum(r.llm_requests for r in results) / len(results):.2f} "
        f"clips={len(results)} paused={len(paused)}"
    )


def sweep_configs(model: Any) -> list[Config]:
    """``--sweep``: the detector's defaults, one option changed at a time (how they were chosen)."""
    changes: list[tuple[str, dict[str, Any]]] = [
        ("threshold_0.3", {"threshold": 0.3}),
        ("threshold_0.7", {"threshold": 0.7}),
        ("pause_0.15s", {"pause_duration": 0.15}),
        ("pause_0.3s", {"pause_duration": 0.3}),
        ("max_pause_1.0s", {"max_pause": 1.0}),
        ("max_pause_1.5s", {"max_pause": 1.5}),
    ]
    return [
        Config(f"smart_turn_text_{name}", {"turn_detection": ChargedDetector(model, **kw)})
        for name, kw in changes
    ]


def configs(model: Any) -> list[Config]:
    return [
        Config("vad"),  # today's default: SileroVAD() and min_endpointing_delay=0.5
        Config("vad_1500ms", {"min_endpointing_delay": 1.5}),
        Config("smart_turn", {"turn_detection": ChargedDetector(model, transcript_cues=False)}),
        Config("smart_turn_text", {"turn_detection": ChargedDetector(model, transcript_cues=True)}),
        Config("text_cues", {"turn_detection": ChargedDetector(TextOnly(), transcript_cues=True)}),
        # a 300 ms LLM time to first token, without and with preemptive generation
        Config("smart_turn_text_llm300", {"turn_detection": ChargedDetector(model)}, llm_ttft=0.3),
        Config(
            "smart_turn_text_llm300_preemptive",
            {"turn_detection": ChargedDetector(model), "preemptive_generation": True},
            llm_ttft=0.3,
        ),
    ]


def measure_model_cost(model: Any, clips: list[Clip], decisions: int = 40) -> str:
    """Thread CPU per decision (and its features / ONNX shares), and the longest event-loop stall
    while decisions run in the executor."""
    from livekitex_agent.plugins.local.smart_turn import features

    audio = [c.audio.data[: round((c.speech_end + 0.2) * 16000)].astype("float32") / 32768 for c in clips]
    cpu: list[float] = []
    feat: list[float] = []
    onnx: list[float] = []
    session = model._model()
    for i in range(decisions):
        t0 = time.thread_time()
        x = features(audio[i % len(audio)])
        t1 = time.thread_time()
        session.run(None, {"input_features": x})
        t2 = time.thread_time()
        feat.append((t1 - t0) * 1000)
        onnx.append((t2 - t1) * 1000)
        cpu.append((t2 - t0) * 1000)

    async def ticker(stop: asyncio.Event, gaps: list[float]) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while not stop.is_set():
            await asyncio.sleep(0.001)
            now = loop.time()
            gaps.append((now - last) * 1000)
            last = now

    async def run(with_model: bool) -> float:
        stop, gaps = asyncio.Event(), []
        tick = asyncio.create_task(ticker(stop, gaps))
        signalled = _Signalled(model)
        turns = DetectorTurns(
            signalled, sample_rate=16000, language="en", on_complete=lambda: None, on_error=lambda e: None
        )
        for i in range(decisions):
            if with_model:  # the session's path: the turn's audio from the ring, then the executor
                clip = clips[i % len(clips)]
                turns.audio.push(clip.audio.data[: round((clip.speech_end + 0.2) * 16000)])
                turns.audio.start_turn(clip.speech_end + 0.2)
                turns.ask(clip.text)
                await signalled.done.wait()
                signalled.done.clear()
                turns.cancel()
                turns.audio.end_turn()
            else:
                await asyncio.sleep(0.04)
        stop.set()
        await tick
        await turns.aclose()
        return max(gaps) - 1.0  # beyond the 1 ms the ticker asked to sleep

    # other processes on a shared machine delay the loop too: the stall that recurs in every run is
    # ours; idle and busy runs alternate so that both see the same machine
    idle, busy = [], []
    for _ in range(3):
        idle.append(asyncio.run(run(False)))
        busy.append(asyncio.run(run(True)))
    return (
        f"RESULT smart_turn_cost infer_cpu_p50_ms={percentile(cpu, 50):.1f} "
        f"infer_cpu_p95_ms={percentile(cpu, 95):.1f} features_cpu_p50_ms={percentile(feat, 50):.1f} "
        f"onnx_cpu_p50_ms={percentile(onnx, 50):.1f} model_gop={MODEL_GOP} "
        f"loop_stall_max_ms={min(busy):.1f} loop_stall_idle_max_ms={min(idle):.1f} "
        f"load_avg_1m={os.getloadavg()[0]:.2f} decisions={decisions}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--limit", type=int, default=None, help="only the first N clips")
    parser.add_argument("--config", action="append", help="only these configurations (repeatable)")
    parser.add_argument("--sweep", action="store_true", help="also the detector's options one at a time")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    from livekitex_agent.plugins import local

    clips = load_corpus(limit=args.limit, heldout=True) + ([] if args.limit else load_recorded())
    parts = {
        "all": [c for c in clips if c.split != "recorded"],
        "tune": [c for c in clips if c.split == "tune"],
        "heldout": [c for c in clips if c.split == "heldout"],
        "recorded": [c for c in clips if c.split == "recorded"],
    }
    vad = local.SileroVAD()
    vad.prewarm()
    model = local.SmartTurnDetector()
    model.prewarm()
    lines = [measure_model_cost(model, parts["tune"])]
    for config in configs(model) + (sweep_configs(model) if args.sweep else []):
        if args.config and config.name not in args.config:
            continue
        t0 = time.perf_counter()
        results = {c.id: run_virtual(run_clip(c, vad, config)) for c in clips}
        wall = time.perf_counter() - t0
        for part, members in parts.items():
            if members:
                lines.append(report(config, [results[c.id] for c in members], wall, part))
    for line in lines:
        print(line)


if __name__ == "__main__":
    main()
