"""Import time: ``from livekitex_agent import Agent, AgentSession`` plus the local and openai plugins.

Each run is a cold subprocess (``python -c``) that times the import line itself (wall clock and the
process's CPU time; the interpreter's own start-up is not counted). The median of ``--runs`` runs is
printed, beside that of ``import numpy`` alone (the floor: audio frames are numpy arrays), so a
loaded machine's figures can be read against it. ``--src DIR`` measures another source tree (e.g. the
main checkout's ``src``, for a before/after on the same machine at the same time).

Usage: ``python bench/import_line.py [--runs 9] [--src DIR]``
Last line: ``RESULT import_line wall_ms=... cpu_ms=... numpy_wall_ms=... heavy_modules=...``
(``heavy_modules``: which of aiohttp, pydantic and the fallback providers the line imported; none is the goal)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

LINE = (
    "from livekitex_agent import Agent, AgentSession\n"
    "import livekitex_agent.plugins.local, livekitex_agent.plugins.openai\n"
)
HEAVY = ("aiohttp", "pydantic", "livekitex_agent.providers.fallback")
PROBE = """
import json, sys, time
w, c = time.perf_counter(), time.process_time()
exec(compile(sys.argv[1], "<import line>", "exec"))
w, c = time.perf_counter() - w, time.process_time() - c
print(json.dumps({"wall": w, "cpu": c, "heavy": [m for m in sys.argv[2:] if m in sys.modules]}))
"""


def run_once(line: str, src: Path) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, line, *HEAVY], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    result: dict[str, object] = json.loads(out.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--src", type=Path, default=Path(__file__).resolve().parents[1] / "src")
    args = parser.parse_args()
    if not 1 <= args.runs <= 100:
        parser.error(f"--runs must be in 1..100, got {args.runs}")
    if not (args.src / "livekitex_agent").is_dir():
        parser.error(f"--src {args.src} holds no livekitex_agent package")
    runs = [run_once(LINE, args.src) for _ in range(args.runs)]
    numpy = [run_once("import numpy\n", args.src) for _ in range(args.runs)]
    wall = statistics.median(float(r["wall"]) for r in runs) * 1000  # type: ignore[arg-type]
    cpu = statistics.median(float(r["cpu"]) for r in runs) * 1000  # type: ignore[arg-type]
    numpy_wall = statistics.median(float(r["wall"]) for r in numpy) * 1000  # type: ignore[arg-type]
    heavy = sorted({m for r in runs for m in r["heavy"]})  # type: ignore[attr-defined]
    print(f"{args.runs} cold runs of the import line from {args.src}: wall {wall:.0f} ms, CPU {cpu:.0f} ms")
    print(f"  import numpy alone: {numpy_wall:.0f} ms; heavy modules imported: {', '.join(heavy) or 'none'}")
    print(
        f"RESULT import_line wall_ms={wall:.0f} cpu_ms={cpu:.0f} numpy_wall_ms={numpy_wall:.0f} "
        f"heavy_modules={','.join(heavy) or 'none'}"
    )


if __name__ == "__main__":
    main()
