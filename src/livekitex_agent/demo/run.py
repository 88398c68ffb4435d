"""``python -m livekitex_agent demo``: set up, run the scripted call, write the reports."""

from __future__ import annotations

import argparse
import asyncio
import io
import logging
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TextIO

from ..log import configure_logging
from ..media.frame import AudioFrame
from ..providers.fallback import AvailabilityChangedEvent, FallbackLLM
from ..providers.llm import LLM
from ..providers.stt import STT
from ..providers.tts import TTS
from ..providers.turn import TurnDetector
from ..providers.vad import VAD
from ..session import AgentSession
from ..session.recording import RecordingOptions
from .agent import BistroConcierge
from .caller import CallTransport, run_caller, synthesize_lines
from .checks import Summary, TurnCheck, check_call, summarize
from .env import DemoSetupError, Environment, check_environment, require_ready
from .latency import LatencyRow, latency_rows
from .memory import MemoryCall
from .policy import DESCRIPTION, RuleBasedPolicy
from .record import CallInfo, CallRecorder
from .report import ReportFiles, write_reports
from .script import AGENT_RATE, AGENT_VOICE, CALL_SCRIPT, CALLER_VOICE, phrases
from .view import LiveView

TransportChoice = Literal["auto", "memory", "livekit"]
LLMChoice = Literal["auto", "offline", "openai"]
TurnChoice = Literal["smart-turn", "vad"]
AGENT_SAMPLE_RATE = 24000


@dataclass
class DemoOptions:
    output: Path = Path("demo-output")
    transport: TransportChoice = "auto"
    llm: LLMChoice = "auto"
    tty: bool | None = None  # None: live view when stdout is a terminal
    reply_timeout: float = 30.0
    turn_detection: TurnChoice = "smart-turn"  # the best configuration of bench/turn_taking.py
    compare: bool = False  # also run the call with turn_detection="vad": the table shows before/after


@dataclass
class DemoResult:
    checks: list[TurnCheck]
    summary: Summary
    files: ReportFiles
    recorder: CallRecorder


@dataclass
class _Providers:
    vad: VAD
    stt: STT
    tts: TTS
    llm: LLM
    llm_label: str
    notices: list[str] = field(default_factory=list)
    turn_detector: TurnDetector | None = None  # None: turn_detection="vad"

    async def aclose(self) -> None:
        for provider in (self.stt, self.vad, self.tts, self.llm):
            await provider.aclose()


def choose_transport(choice: TransportChoice, env: Environment) -> tuple[str, list[str]]:
    """``"memory"`` or ``"livekit"``, and the notices explaining a fallback."""
    if choice == "livekit" and env.livekit_server is None:
        raise DemoSetupError(
            "--transport livekit needs livekit-server: run `scripts/install-livekit-server.sh` (or `make setup`)"
        )
    if choice == "auto":
        if env.livekit_server is None:
            return "memory", [
                "livekit-server is not installed (`make setup` builds it): using the in-memory I/O instead"
            ]
        return "livekit", []
    return choice, []


def choose_llm(choice: LLMChoice, env: Environment) -> tuple[LLM, str, list[str]]:
    """The LLM, its label for the output, and notices."""
    policy = RuleBasedPolicy()
    if choice == "openai" and not env.openai_key:
        raise DemoSetupError("--llm openai needs the OPENAI_API_KEY environment variable")
    if choice == "offline" or (choice == "auto" and not env.openai_key):
        notices = [] if choice == "offline" else [f"OPENAI_API_KEY is not set: the LLM is an {DESCRIPTION}"]
        return policy, DESCRIPTION, notices
    from ..plugins import openai

    remote = openai.LLM()
    llm = FallbackLLM([remote, policy])
    return llm, f"OpenAI {remote.model} (if it fails: the {DESCRIPTION})", []


async def prepare_providers(
    choice: LLMChoice, env: Environment, turn: TurnChoice = "smart-turn"
) -> _Providers:
    """Local VAD/STT/TTS and turn detector (models loaded now, off the event loop) and the LLM."""
    from ..plugins import local

    llm, label, notices = choose_llm(choice, env)
    vad = local.SileroVAD()
    stt = local.PocketSphinxSTT(phrases=phrases())
    tts = local.EspeakTTS(voice=AGENT_VOICE, rate=AGENT_RATE, sample_rate=AGENT_SAMPLE_RATE)
    detector = None
    if turn == "smart-turn":
        try:
            detector = local.SmartTurnDetector()
        except (FileNotFoundError, ImportError) as e:
            raise DemoSetupError(str(e)) from e
    loads = [asyncio.to_thread(vad.prewarm), asyncio.to_thread(stt.prewarm)]
    if detector is not None:
        loads.append(asyncio.to_thread(detector.prewarm))
    await asyncio.gather(*loads)
    return _Providers(vad, stt, tts, llm, label, notices, detector)


async def run_demo(options: DemoOptions, stream: TextIO | None = None) -> DemoResult:
    """Run the whole demo; raises :class:`DemoSetupError` when the machine lacks something."""
    view = LiveView(stream, tty=options.tty)
    env = check_environment()
    require_ready(env)
    kind, notices = choose_transport(options.transport, env)
    _check_output(options.output)
    view.message("LivekitexAgent demo: a phone call to a restaurant's voice agent", style="1")
    began = time.monotonic()
    view.message("preparing: loading the VAD and speech recognition models, synthesizing the caller's voice")
    providers, clips = await asyncio.gather(
        prepare_providers(options.llm, env, options.turn_detection), synthesize_lines(CALL_SCRIPT)
    )
    try:
        info = CallInfo(
            transport=MemoryCall.name if kind == "memory" else "local LiveKit server",
            llm=providers.llm_label,
            stt="local PocketSphinx, biased to the script's phrases",
            tts=f"local espeak-ng (agent voice {AGENT_VOICE}, caller voice {CALLER_VOICE})",
            vad="local Silero",
            notices=notices + providers.notices,
        )
        recorder = CallRecorder(info, CALL_SCRIPT)
        if isinstance(providers.llm, FallbackLLM):
            providers.llm.on("availability_changed", lambda e: _note_availability(recorder, e))
        for line in (
            f"transport: {info.transport}",
            f"LLM: {info.llm}",
            f"STT: {info.stt}",
            f"TTS: {info.tts}",
        ):
            view.message("  " + line)
        for notice in info.notices:
            view.message("  note: " + notice, style="33")
        transport = await _start_transport(kind, options.transport, recorder, view)
        view.message(f"ready in {time.monotonic() - began:.1f} s; the call starts\n")
        await _call(transport, recorder, providers, clips, view, options.reply_timeout)
    finally:
        await providers.aclose()
    baseline = None
    if options.compare and options.turn_detection != "vad":
        view.message("\nthe same call with turn_detection='vad' (the default before), for the table:")
        baseline = await _baseline_rows(options, env, clips)
    checks = check_call(recorder)
    summary = summarize(checks)
    files = write_reports(
        options.output,
        recorder,
        checks,
        baseline=baseline,
        labels=(f"after: {options.turn_detection}", "before: vad"),
    )
    view.message("")
    view.message(files.latency_table)
    view.message("")
    view.message(summary.text(), style="32" if summary.passed else "31")
    view.message(f"output: {files.folder.resolve()}")
    return DemoResult(checks, summary, files, recorder)


async def _baseline_rows(options: DemoOptions, env: Environment, clips: list[AudioFrame]) -> list[LatencyRow]:
    """The call again, in memory, with silence-based end of turn: its latency rows."""
    providers = await prepare_providers("offline" if options.llm == "auto" else options.llm, env, "vad")
    quiet = LiveView(io.StringIO(), tty=False)
    try:
        info = CallInfo(transport=MemoryCall.name, llm=providers.llm_label, stt="", tts="", vad="")
        recorder = CallRecorder(info, CALL_SCRIPT)
        await _call(MemoryCall(recorder), recorder, providers, clips, quiet, options.reply_timeout)
    finally:
        await providers.aclose()
    return latency_rows(recorder.turns)


def _check_output(folder: Path) -> None:
    """Fail before the call, not after it, when the reports cannot be written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DemoSetupError(
            f"cannot write the reports to --output {str(folder)!r}: {e.strerror or e}"
        ) from e


async def _start_transport(
    kind: str, choice: TransportChoice, recorder: CallRecorder, view: LiveView
) -> CallTransport:
    """The transport, ready for the call; a LiveKit server that fails to start falls back to memory
    (with a notice) unless ``--transport livekit`` was asked for."""
    if kind == "memory":
        return MemoryCall(recorder)
    from .livekit import LiveKitCall

    transport = LiveKitCall(recorder)
    try:
        await transport.prepare(view)
        return transport
    except (OSError, RuntimeError, TimeoutError) as e:
        await transport.aclose()
        reason = (str(e).splitlines() or [type(e).__name__])[0]
        if choice == "livekit":
            raise DemoSetupError(f"the local LiveKit server could not start: {reason}") from e
        notice = f"the local LiveKit server could not start ({reason}): using the in-memory I/O instead"
        recorder.info.notices.append(notice)
        recorder.info.transport = MemoryCall.name
        view.message("  note: " + notice, style="33")
        return MemoryCall(recorder)


async def _call(
    transport: CallTransport,
    recorder: CallRecorder,
    providers: _Providers,
    clips: list[AudioFrame],
    view: LiveView,
    reply_timeout: float,
) -> None:
    def make_session() -> AgentSession:
        detector = providers.turn_detector
        return AgentSession(
            vad=providers.vad,
            stt=providers.stt,
            llm=providers.llm,
            tts=providers.tts,
            turn_detection=detector if detector is not None else "vad",
            preemptive_generation=detector is not None,
            record=RecordingOptions(write=False),  # the demo writes its own report from session.report()
        )

    recorder.start()
    view.follow(recorder)
    try:
        await transport.open(make_session, BistroConcierge)
        await run_caller(transport, recorder, clips, reply_timeout=reply_timeout)
    finally:
        try:
            await transport.aclose()
        finally:
            recorder.finish()
            await view.stop()


def _note_availability(recorder: CallRecorder, event: AvailabilityChangedEvent) -> None:
    name = event.provider.label
    if event.available:
        recorder.note("info", f"{name} is available again")
    else:
        recorder.note("error", f"{name} failed ({event.error}); the next provider answers")


def main(args: argparse.Namespace) -> int:
    """The ``demo`` subcommand: 0 when every check passed, 1 when not, 2 when set-up is missing."""
    level = str(args.log_level).upper()
    configure_logging(level)
    if level == "WARNING":
        # the LiveKit SDK's native layer warns about handles it drops while a room closes: noise here
        logging.getLogger("livekit").setLevel(logging.ERROR)
    # the demo's server uses livekit-server's built-in dev key pair, whose secret is short on purpose
    warnings.filterwarnings("ignore", message=r"The HMAC key is \d+ bytes long")
    options = DemoOptions(
        output=Path(args.output),
        transport=args.transport,
        llm=args.llm,
        tty=args.tty,
        turn_detection=args.turn_detection,
        compare=args.compare,
    )
    try:
        result = asyncio.run(run_demo(options))
    except DemoSetupError as e:
        print(f"demo: {e}", file=sys.stderr)
        return 2
    return 0 if result.summary.passed else 1
