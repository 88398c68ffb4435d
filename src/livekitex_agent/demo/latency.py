"""The per-turn latency report: a text table for the terminal and a PNG bar chart (matplotlib, Agg)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..metrics import TurnMetrics
from .record import TurnRecord

STAGES = (
    ("end_of_utterance_delay", "end of utterance"),
    ("transcription_delay", "STT"),
    ("llm_ttft", "LLM"),
    ("tts_ttfb", "TTS"),
    ("e2e_latency", "end-to-end"),
)
INSTALL_HINT = "pip install 'livekitex-agent[demo]'"
NOTE = (
    "end of utterance and end-to-end count from the end of the caller's speech, so they include the\n"
    "VAD's silence window; STT is the decoding time, LLM time to first token, TTS time to first audio"
)


@dataclass(frozen=True)
class LatencyRow:
    turn: int
    request: str
    values_ms: tuple[float | None, ...]  # in the order of STAGES


def latency_rows(turns: list[TurnRecord]) -> list[LatencyRow]:
    """One row per caller turn that produced turn metrics."""
    rows = []
    for turn in turns:
        m: TurnMetrics | None = turn.metrics
        if turn.line is None or m is None:
            continue
        values = tuple(None if (v := getattr(m, attr)) is None else v * 1000.0 for attr, _ in STAGES)
        rows.append(LatencyRow(turn.index, turn.line.text, values))
    return rows


def format_table(
    rows: list[LatencyRow],
    *,
    request_width: int = 36,
    baseline: list[LatencyRow] | None = None,
    labels: tuple[str, str] = ("mean", "before"),
) -> str:
    """A fixed-width table in milliseconds, with a mean row (``labels[0]``) and, with ``baseline``
    (the same call in another configuration), its mean row (``labels[1]``) below."""
    heads = [label for _, label in STAGES]
    widths = [max(6, len(h)) for h in heads]
    before_e2e = {r.turn: r.values_ms[-1] for r in baseline or []}
    extra = f"  {labels[1] + ' e2e':>{len(labels[1]) + 4}}" if baseline else ""
    header = (
        f"{'#':>2}  {'request':<{request_width}}  "
        + "  ".join(f"{h:>{w}}" for h, w in zip(heads, widths, strict=True))
        + extra
    )
    lines = ["latency per turn (ms)", header, "-" * len(header)]

    def cells(values: tuple[float | None, ...]) -> str:
        return "  ".join(
            f"{'-' if v is None else f'{v:.0f}':>{w}}" for v, w in zip(values, widths, strict=True)
        )

    for row in rows:
        line = f"{row.turn:>2}  {_short(row.request, request_width):<{request_width}}  {cells(row.values_ms)}"
        if baseline:
            before = before_e2e.get(row.turn)
            line += f"  {'-' if before is None else f'{before:.0f}':>{len(labels[1]) + 4}}"
        lines.append(line)
    if rows:
        lines.append("-" * len(header))
        lines.append(f"{'':>2}  {labels[0]:<{request_width}}  {cells(_means(rows))}")
        if baseline:
            lines.append(f"{'':>2}  {labels[1]:<{request_width}}  {cells(_means(baseline))}")
    else:
        lines.append("(no turn metrics were collected)")
    lines.append(NOTE)
    return "\n".join(lines)


def _means(rows: list[LatencyRow]) -> tuple[float | None, ...]:
    means: list[float | None] = []
    for i in range(len(STAGES)):
        present = [v for r in rows if (v := r.values_ms[i]) is not None]
        means.append(sum(present) / len(present) if present else None)
    return tuple(means)


def write_chart(path: Path, rows: list[LatencyRow], *, subtitle: str = "") -> None:
    """A grouped bar chart (one group per turn, one bar per stage) as PNG.

    Uses matplotlib's object API with the Agg canvas: no display, no global pyplot state.
    Raises ImportError naming the install command when matplotlib is missing.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as e:
        raise ImportError(f"the latency chart needs matplotlib: {INSTALL_HINT}") from e
    fig = Figure(figsize=(10, 4.8), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    width = 0.8 / len(STAGES)
    top = max((v for r in rows for v in r.values_ms if v is not None), default=0.0)
    for s, (_, label) in enumerate(STAGES):
        xs = [i + (s - (len(STAGES) - 1) / 2) * width for i in range(len(rows))]
        heights = [r.values_ms[s] or 0.0 for r in rows]
        bars = ax.bar(xs, heights, width=width, label=label)
        ax.bar_label(bars, labels=[_label(r.values_ms[s]) for r in rows], fontsize=7, padding=2)
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels([_short(f"{r.turn}. {r.request}", 28) for r in rows], fontsize=8)
    ax.set_ylabel("milliseconds")
    ax.set_ylim(0, max(top, 1.0) * 1.3)  # headroom for the legend and the labels
    ax.set_title("Demo call: latency per turn" + (f"\n{subtitle}" if subtitle else ""), fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper left", fontsize="small", ncols=len(STAGES))
    if not rows:
        ax.text(0.5, 0.5, "no turn metrics", ha="center", va="center", transform=ax.transAxes)
    fig.tight_layout()
    fig.savefig(str(path), format="png")


def _label(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}"


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
