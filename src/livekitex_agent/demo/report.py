"""What the demo leaves behind: transcript (Markdown + JSON with every event), stereo WAV, latency chart."""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import __version__
from ..media.stereo import stereo_track
from ..media.wav import write_wav
from ..session.recording import to_jsonable
from .checks import TurnCheck, summarize
from .latency import STAGES, LatencyRow, format_table, latency_rows, write_chart
from .policy import DESCRIPTION
from .record import CallRecorder, LogEntry

WAV_RATE = 24000


@dataclass
class ReportFiles:
    folder: Path
    transcript_md: Path
    transcript_json: Path
    audio_wav: Path
    latency_png: Path | None  # None when matplotlib is missing
    latency_table: str


def write_reports(
    folder: Path,
    recorder: CallRecorder,
    checks: list[TurnCheck],
    *,
    baseline: list[LatencyRow] | None = None,
    labels: tuple[str, str] = ("mean", "before"),
) -> ReportFiles:
    """Write every report into ``folder`` (created if needed); returns the paths. ``baseline``: the
    rows of the same call in another configuration, shown as a "before" mean row."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = latency_rows(recorder.turns)
    files = ReportFiles(
        folder=folder,
        transcript_md=folder / "transcript.md",
        transcript_json=folder / "transcript.json",
        audio_wav=folder / "call.wav",
        latency_png=folder / "latency.png",
        latency_table=format_table(rows, baseline=baseline, labels=labels),
    )
    report = recorder.session_report
    left, right = (report.user_audio, report.agent_audio) if report is not None else ([], [])
    write_wav(files.audio_wav, stereo_track(left, right, origin=recorder.origin, sample_rate=WAV_RATE))
    try:
        assert files.latency_png is not None
        write_chart(files.latency_png, rows, subtitle=f"{recorder.info.transport}; LLM: {recorder.info.llm}")
    except ImportError as e:
        recorder.info.notices.append(f"no latency chart: {e}")
        files.latency_png = None
    files.transcript_json.write_text(json.dumps(transcript_json(recorder, checks, rows), indent=2) + "\n")
    files.transcript_md.write_text(transcript_markdown(recorder, checks, files))
    return files


def _setup(recorder: CallRecorder) -> dict[str, Any]:
    info = recorder.info
    return {
        "livekitex_agent": __version__,
        "started_at": datetime.datetime.fromtimestamp(recorder.started_at, datetime.UTC).isoformat(),
        "duration_s": round(recorder.duration, 3),
        "transport": info.transport,
        "llm": info.llm,
        "stt": info.stt,
        "tts": info.tts,
        "vad": info.vad,
        "notices": list(info.notices),
    }


def transcript_json(
    recorder: CallRecorder, checks: list[TurnCheck], rows: list[LatencyRow]
) -> dict[str, Any]:
    """The machine-readable transcript: set-up, checks, turns with latencies, every event."""
    by_turn = {r.turn: r for r in rows}
    turns = []
    for check in checks:
        row = by_turn.get(check.index)
        turns.append(
            {
                "index": check.index,
                "request": check.request,
                "heard": check.heard,
                "understood": check.understood,
                "expected_call": to_jsonable(check.expected_call),
                "tool_calls": to_jsonable(check.tool_calls),
                "tool_ok": check.tool_ok,
                "answer": check.answer,
                "latency_ms": None
                if row is None
                else {key: v for (key, _), v in zip(STAGES, row.values_ms, strict=True)},
            }
        )
    summary = summarize(checks)
    return {
        "demo": _setup(recorder),
        "summary": {**to_jsonable(summary), "passed": summary.passed},
        "turns": turns,
        "log": [to_jsonable(e) for e in recorder.log],
        "events": all_events(recorder),
    }


def all_events(recorder: CallRecorder) -> list[dict[str, Any]]:
    """The session's recorded events and the caller's, on the demo's timeline, in time order."""
    events = [{"t": round(e.t, 4), "type": e.type, **e.data} for e in recorder.events]
    report = recorder.session_report
    if report is not None:
        shift = report.origin - recorder.origin  # the session started after the demo's clock
        events += [{**e, "t": round(e["t"] + shift, 4)} for e in report.events]
    return sorted(events, key=lambda e: e["t"])


_WHO = {
    "caller": "**Caller**",
    "agent": "**Agent**",
    "heard": "_heard_",
    "tool": "_tool_",
    "latency": "_latency_",
    "info": "_info_",
    "error": "**error**",
}


def _md_line(entry: LogEntry) -> str:
    text = entry.text.replace("\n", " ")
    if entry.who == "tool":
        text = f"`{text}`"
    elif entry.who in ("caller", "agent", "heard"):
        text = f"“{text}”"
    return f"- `{entry.t:6.1f} s` {_WHO.get(entry.who, entry.who)}: {text}"


def _yes(ok: bool) -> str:
    return "✅" if ok else "❌"


def transcript_markdown(recorder: CallRecorder, checks: list[TurnCheck], files: ReportFiles) -> str:
    setup = _setup(recorder)
    summary = summarize(checks)
    out = [
        "# LivekitexAgent demo: a phone call to Bistro Lumen",
        "",
        f"- started {setup['started_at']}, lasted {recorder.duration:.1f} s",
        f"- transport: {setup['transport']}",
        f"- LLM: {setup['llm']}",
        f"- STT: {setup['stt']}; TTS: {setup['tts']}; VAD: {setup['vad']}",
    ]
    out += [f"- note: {n}" for n in setup["notices"]]
    out += ["", f"**Result: {summary.text()}** {_yes(summary.passed)}", "", "## The call", ""]
    out += [_md_line(e) for e in recorder.log]
    out += [
        "",
        "## Checks",
        "",
        "| # | caller said | agent heard | understood | expected tool call | tool calls made | right call | agent answered |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in checks:
        made = "; ".join(f"`{t.name}({json.dumps(t.arguments)})`" for t in c.tool_calls) or "none"
        expected = f"`{c.expected_call.describe()}`" if c.expected_call else "none"
        out.append(
            f"| {c.index} | {c.request} | {c.heard or '(nothing)'} | {_yes(c.understood)} | {expected} | "
            f"{made} | {_yes(c.tool_ok)} | {c.answer or '(nothing)'} |"
        )
    out += ["", "## Latency per turn", "", "```", files.latency_table, "```", ""]
    if files.latency_png is not None:
        out += [f"![latency per turn]({files.latency_png.name})", ""]
    out += [
        "## Files",
        "",
        f"- `{files.audio_wav.name}`: the call in stereo (left: caller, right: agent)",
        f"- `{files.transcript_json.name}`: this transcript with every session event",
    ]
    if files.latency_png is not None:
        out.append(f"- `{files.latency_png.name}`: the latency chart")
    if DESCRIPTION in setup["llm"]:
        out += ["", f"_The LLM of this run was an {DESCRIPTION}; set OPENAI_API_KEY to use OpenAI._"]
    return "\n".join(out) + "\n"
