#!/usr/bin/env python3
"""Run the benchmarks in ``bench/`` and collect their ``RESULT`` lines into ``bench/results.json``.

A benchmark is a ``bench/*.py`` script with a ``__main__`` block that prints ``RESULT <name> k=v ...``
(helper modules such as ``capacity_agent.py`` are skipped). Each one runs in its own process with
``PYTHONPATH=src`` and a time limit; one that fails or runs out of time is recorded as such (with the
end of its output), never left out. The file also records when, on which commit and on what machine
(cores, CPU model, memory, load average) the figures were measured: ``docs/flow/performance.md`` is
generated from it (``scripts/gen_docs.py``).

Usage: ``python scripts/collect_bench.py [bench/x.py ...] [--timeout 600] [--merge]`` (a benchmark
that declares a longer ``BENCH_TIMEOUT`` gets that)
(``--merge`` keeps the other benchmarks' entries of an existing results file).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results.json"
RESULT_RE = re.compile(r"^RESULT\s+(\S+)((?:\s+\S+=\S*)*)\s*$")
TIMEOUT_RE = re.compile(r"^BENCH_TIMEOUT\s*=\s*(\d+(?:\.\d+)?)\b", re.MULTILINE)


def is_benchmark(path: Path) -> bool:
    """A script that prints RESULT lines when run (not a helper module of another benchmark)."""
    text = path.read_text(encoding="utf-8")
    return "RESULT " in text and '__name__ == "__main__"' in text


def declared_timeout(path: Path) -> float | None:
    """The time limit a benchmark declares for itself (a module-level ``BENCH_TIMEOUT = seconds``):
    a benchmark that needs longer than ``--timeout`` by design says so where it is written."""
    m = TIMEOUT_RE.search(path.read_text(encoding="utf-8"))
    return float(m.group(1)) if m else None


def find_benchmarks() -> list[Path]:
    return sorted(p for p in (ROOT / "bench").glob("*.py") if is_benchmark(p))


def parse_value(text: str) -> Any:
    """``12`` → 12, ``1.5`` → 1.5, anything else stays a string."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_results(output: str) -> list[dict[str, Any]]:
    """Every ``RESULT name k=v ...`` line of ``output``, in order."""
    out = []
    for line in output.splitlines():
        m = RESULT_RE.match(line.strip())
        if m:
            values = dict(kv.split("=", 1) for kv in m.group(2).split())
            out.append({"name": m.group(1), "values": {k: parse_value(v) for k, v in values.items()}})
    return out


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_mb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def machine() -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_mb": _memory_mb(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def git_commit() -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()

    return {
        "commit": git("rev-parse", "HEAD") or "unknown",
        "dirty": bool(git("status", "--porcelain", "--", "src", "bench")),
    }


def run_benchmark(path: Path, timeout: float, root: Path = ROOT) -> dict[str, Any]:
    """Run one benchmark; its entry for the results file (``status``: ok, failed or timeout)."""
    rel = path.relative_to(root).as_posix()
    print(f"== {rel}", flush=True)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(root / "src"), os.environ.get("PYTHONPATH")])),
    }
    load_before = [round(x, 2) for x in os.getloadavg()]
    start = time.monotonic()
    # its own process group: on timeout the benchmark's children (servers, workers) go with it
    child = subprocess.Popen(
        [sys.executable, str(path)],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = child.communicate(timeout=timeout)
        proc = subprocess.CompletedProcess(child.args, child.returncode, stdout, stderr)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
        out, err = child.communicate()
        output = _text(out) + _text(err)
        return {
            "script": rel,
            "status": "timeout",
            "seconds": round(time.monotonic() - start, 1),
            "load_average": load_before,
            "results": parse_results(_text(out)),
            "note": f"did not finish within {timeout:.0f} s",
            "output_tail": output.splitlines()[-15:],
        }
    seconds = round(time.monotonic() - start, 1)
    sys.stdout.write(proc.stdout)
    results = parse_results(proc.stdout)
    entry: dict[str, Any] = {
        "script": rel,
        "status": "ok" if proc.returncode == 0 and results else "failed",
        "seconds": seconds,
        "load_average": load_before,
        "results": results,
    }
    if entry["status"] != "ok":
        entry["note"] = f"exit code {proc.returncode}" + ("" if results else ", no RESULT line")
        entry["output_tail"] = (proc.stdout + proc.stderr).splitlines()[-15:]
        sys.stderr.write(proc.stderr[-3000:])
    return entry


def _text(data: str | bytes | None) -> str:
    if data is None:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "scripts", nargs="*", type=Path, help="benchmarks to run (default: every one in bench/)"
    )
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds each benchmark may take")
    parser.add_argument(
        "--merge", action="store_true", help="keep the other entries of an existing results file"
    )
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    scripts = [p.resolve() for p in args.scripts] or find_benchmarks()
    for p in scripts:
        if not p.is_file() or not is_benchmark(p):
            parser.error(f"{p} is not a benchmark (a bench/*.py script printing RESULT lines)")
    previous: list[dict[str, Any]] = []
    if args.merge and args.output.exists():
        old = json.loads(args.output.read_text())
        previous = [{"date": old["date"], "commit": old["commit"], **e} for e in old["benchmarks"]]
    doc = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        **git_commit(),
        "machine": machine(),
        "benchmarks": [],
    }
    ran = {p.relative_to(ROOT).as_posix() for p in scripts}
    entries = [e for e in previous if e["script"] not in ran]
    for path in scripts:
        # each entry says when and on which commit it ran (--merge keeps older entries)
        timeout = max(args.timeout, declared_timeout(path) or 0.0)
        entries.append({**run_benchmark(path, timeout), "date": doc["date"], "commit": doc["commit"]})
        doc["benchmarks"] = sorted(entries, key=lambda e: e["script"])
        args.output.write_text(json.dumps(doc, indent=2) + "\n")  # written after each: a crash keeps the rest
    bad = [e["script"] for e in entries if e["status"] != "ok"]
    print(
        f"wrote {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}"
        + (f"; not ok: {', '.join(bad)}" if bad else "")
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
