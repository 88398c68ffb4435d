"""Latency of each stage of a spoken turn with the offline providers, in real time.

Runs the demo call (``python -m livekitex_agent demo --transport memory --llm offline``) ``--rounds``
times: a caller speaks four requests (espeak-ng audio, paced in real time) to an agent session
with Silero VAD, PocketSphinx STT, the demo's rule-based policy as the LLM and espeak-ng TTS, over
in-memory room I/O. Each turn's :class:`TurnMetrics` (what ``metrics_collected`` reports and
``livekitex_turn_latency_seconds`` records) is read from the demo's ``transcript.json``:

- ``eou``: end of the caller's speech → end-of-turn decision (includes the VAD's closing silence);
- ``stt``: speech segment handed to the STT → final transcript;
- ``llm``: request → first token (a local policy here: the framework's share of this stage);
- ``tts``: first text → first audio frame (espeak-ng);
- ``e2e``: end of the caller's speech → first agent audio frame.

Usage: ``python bench/turn_stages.py [--rounds 2]``
Last line: ``RESULT turn_stages eou_p50_ms=... stt_p50_ms=... llm_p50_ms=... tts_p50_ms=... e2e_p50_ms=...``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from livekitex_agent.metrics import percentile

STAGES = (
    ("eou", "end_of_utterance_delay"),
    ("stt", "transcription_delay"),
    ("llm", "llm_ttft"),
    ("tts", "tts_ttfb"),
    ("e2e", "e2e_latency"),
)
DEMO_TIMEOUT = 240.0


def one_call(folder: Path) -> list[dict[str, float | None]]:
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    cmd = [sys.executable, "-m", "livekitex_agent", "demo", "--transport", "memory", "--llm", "offline"]
    cmd += ["--output", str(folder), "--plain"]
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, timeout=DEMO_TIMEOUT)
    turns = json.loads((folder / "transcript.json").read_text())["turns"]
    return [t["latency_ms"] for t in turns]


def main(rounds: int) -> None:
    latencies: list[dict[str, float | None]] = []
    understood = 0
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(rounds):
            folder = Path(tmp) / f"call{n}"
            latencies += one_call(folder)
            summary = json.loads((folder / "transcript.json").read_text())["summary"]
            understood += int(summary.get("understood", 0))
    parts = []
    for key, field in STAGES:
        values = [t[field] for t in latencies if t.get(field) is not None]
        if not values:
            continue
        p50, worst = percentile(values, 50), max(values)
        print(f"{field:24s} p50 {p50:7.1f} ms   max {worst:7.1f} ms   ({len(values)} turns)")
        parts.append(f"{key}_p50_ms={p50:.1f} {key}_max_ms={worst:.1f}")
    print(f"RESULT turn_stages {' '.join(parts)} turns={len(latencies)} understood={understood}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=2, choices=range(1, 6), metavar="1-5")
    main(parser.parse_args().rounds)
