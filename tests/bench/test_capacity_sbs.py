"""bench/capacity_sbs.py at its smallest step, so that it cannot rot: one call to each framework's
worker through a real livekit-server (the livekit-agents virtualenv is built on first use, cached in
``.tools``; set-up builds it beforehand)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STEP = re.compile(r"^  (\S+) 1 call\(s\): reply p95 (\d+) ms, (\d+) replies to (\d+) clips", re.MULTILINE)


def test_both_frameworks_answer_a_call_and_each_gets_a_result_line() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    cmd = [
        sys.executable,
        str(ROOT / "bench" / "capacity_sbs.py"),
        "--steps",
        "1",
        "--window",
        "3",
        "--settle",
        "2",
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    steps = {m[0]: (int(m[2]), int(m[3])) for m in STEP.findall(done.stdout)}
    assert set(steps) == {"livekitex_agent", "livekit-agents"}, done.stdout
    for framework, (replies, clips) in steps.items():
        assert clips >= 1 and replies >= 1, f"{framework} answered no clip: {done.stdout}"
    results = [line for line in done.stdout.splitlines() if line.startswith("RESULT capacity_sbs ")]
    assert [r.split()[2] for r in results] == ["framework=livekitex_agent", "framework=livekit-agents"]
