"""Import time: how long a fresh interpreter takes to import each layer of the framework.

Each module is imported in a new ``python`` process (so nothing is cached in ``sys.modules``);
the time is measured inside that process around the ``import`` statement, ``--repeat`` times, and
the median is reported in ms. ``cli_help_ms`` is the wall time of ``python -m livekitex_agent --help``
(interpreter start included), what a user waits for before the CLI answers.

Usage: ``python bench/import_time.py [--repeat 5]``
Last line: ``RESULT import_time package_ms=... session_ms=... worker_ms=... ...``
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

MODULES = {
    "package": "livekitex_agent",
    "session": "livekitex_agent.session",
    "worker": "livekitex_agent.worker",
    "openai": "livekitex_agent.plugins.openai",
    "local": "livekitex_agent.plugins.local",
    "testing": "livekitex_agent.testing",
}
PROBE = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"


def import_seconds(module: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module)],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return float(out.stdout.strip().splitlines()[-1])


def cli_help_seconds() -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "livekitex_agent", "--help"], check=True, capture_output=True, timeout=120
    )
    return time.perf_counter() - start


def main(repeat: int) -> None:
    parts = []
    for key, module in MODULES.items():
        ms = statistics.median(import_seconds(module) * 1000 for _ in range(repeat))
        print(f"{module}: {ms:.1f} ms")
        parts.append(f"{key}_ms={ms:.1f}")
    cli_ms = statistics.median(cli_help_seconds() * 1000 for _ in range(repeat))
    print(f"python -m livekitex_agent --help: {cli_ms:.1f} ms")
    print(f"RESULT import_time {' '.join(parts)} cli_help_ms={cli_ms:.1f} repeat={repeat}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5, choices=range(1, 21), metavar="1-20")
    main(parser.parse_args().repeat)
