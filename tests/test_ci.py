"""``.ci/run`` sets ``CI=true`` itself: a missing livekit-server or audio stack then fails the tests
(see ``conftest.py``, ``pulse_audio.py``) even on a runner that does not export it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_run_exports_ci_true_for_the_tests(tmp_path: Path) -> None:
    fake_make = tmp_path / "make"  # stands in for the real make: records what the tests would see
    fake_make.write_text(f'#!/bin/sh\necho "make $1 CI=${{CI:-unset}}" >> {tmp_path}/calls\n')
    fake_make.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PATH"] = f"{tmp_path}:{env['PATH']}"
    subprocess.run([str(ROOT / ".ci" / "run")], env=env, check=True, timeout=60, stdin=subprocess.DEVNULL)
    assert (tmp_path / "calls").read_text().splitlines() == ["make lint CI=true", "make test CI=true"]
