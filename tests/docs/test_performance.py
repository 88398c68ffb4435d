"""``docs/flow/performance.md`` agrees with ``bench/results.json``, and the collector reads benchmarks right."""

from __future__ import annotations

import json
import re
from pathlib import Path

from collect_bench import declared_timeout, is_benchmark, parse_results, run_benchmark
from docgen.performance import PERFORMANCE_MD, render_performance
from docscan import ROOT


def chapter_values(text: str) -> dict[str, list[str]]:
    """``{RESULT name: [every value in its tables]}`` read back from the chapter: the last cell of a
    ``figure | value`` (or ``key | value``) row, every cell of a row of a wide table."""
    out: dict[str, list[str]] = {}
    current = None
    two_columns = True
    for line in text.splitlines():
        m = re.search(r"\(`RESULT (\w+)`\)", line)
        if m:
            current = m.group(1)
        elif line.startswith("## "):
            current = None
        elif current and line.startswith("|") and not line.startswith("|---"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if (
                cells[0] in ("figure", "key")
                or cells[0].startswith("`")
                and all(c.startswith("`") for c in cells)
            ):
                two_columns = cells[0] in ("figure", "key")
                continue
            out.setdefault(current, []).extend(cells[-1:] if two_columns else [c for c in cells if c])
    return out


def test_performance_chapter_shows_every_figure_of_the_results_file() -> None:
    results = json.loads((ROOT / "bench" / "results.json").read_text())
    text = (ROOT / PERFORMANCE_MD).read_text()
    assert text == render_performance(), "run: python scripts/gen_docs.py"
    assert results["date"] in text and results["commit"] in text
    assert f"{results['machine']['cores']} cores ({results['machine']['cpu_model']})" in text
    shown = chapter_values(text)
    expected: dict[str, list[str]] = {}
    for bench in results["benchmarks"]:
        assert f"`{bench['script']}` | {bench['status']} |" in text
        for result in bench["results"]:
            expected.setdefault(result["name"], []).extend(str(v) for v in result["values"].values())
    for name, values in expected.items():
        assert sorted(shown.get(name, [])) == sorted(values), name


def test_every_benchmark_in_bench_is_in_the_results_or_named_as_not_measured() -> None:
    results = json.loads((ROOT / "bench" / "results.json").read_text())
    measured = {b["script"] for b in results["benchmarks"]}
    text = (ROOT / PERFORMANCE_MD).read_text()
    for path in sorted((ROOT / "bench").glob("*.py")):
        script = path.relative_to(ROOT).as_posix()
        if is_benchmark(path):
            assert script in measured or f"- `{script}`" in text, f"{script}: run make bench"


def test_unknown_and_failed_benchmarks_still_appear(tmp_path: Path) -> None:
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "new_one.py").write_text(
        'if __name__ == "__main__":\n    print("RESULT new_one x=1")\n'
    )
    (tmp_path / "bench" / "helper.py").write_text("X = 1\n")
    doc = {
        "date": "2026-01-01T00:00:00Z",
        "commit": "abc",
        "dirty": False,
        "machine": {
            "cores": 2,
            "cpu_model": "Test CPU",
            "memory_mb": 2048,
            "python": "3.11",
            "system": "Linux",
            "load_average": [0.1, 0.1, 0.1],
        },
        "benchmarks": [
            {
                "script": "bench/slow.py",
                "status": "timeout",
                "seconds": 600.0,
                "load_average": [0.1, 0.1, 0.1],
                "results": [],
                "note": "did not finish within 600 s",
            },
            {
                "script": "bench/capacity_sbs.py",
                "status": "ok",
                "seconds": 3.0,
                "load_average": [0.1, 0.1, 0.1],
                "results": [
                    {"name": "capacity_sbs", "values": {"eot_p50_ms": 412, "mode": "vad"}},
                    {"name": "capacity_sbs", "values": {"eot_p50_ms": 1500, "mode": "vad_1500ms"}},
                ],
            },
            {
                "script": "bench/fallback_switch.py",
                "status": "ok",
                "seconds": 1.0,
                "load_average": [0.1, 0.1, 0.1],
                "results": [{"name": "fallback_switch", "values": {"p50_ms": 15.1, "new_key_ms": 7}}],
            },
        ],
    }
    (tmp_path / "bench" / "results.json").write_text(json.dumps(doc))
    text = render_performance(tmp_path)
    assert "- `bench/slow.py`: timeout (did not finish within 600 s)" in text
    assert "- `bench/new_one.py`" in text and "helper.py" not in text  # added since, not yet measured
    assert "## Other benchmarks" in text and "| 412 | vad |" in text
    assert "| failure → pipeline ready p50 (ms) | 15.1 |" in text and "| `new_key_ms` | 7 |" in text
    assert "machine was loaded" not in text
    assert chapter_values(text) == {
        "capacity_sbs": ["412", "vad", "1500", "vad_1500ms"],
        "fallback_switch": ["15.1", "7"],
    }
    assert "| `eot_p50_ms` | `mode` |" in text and "| 1500 | vad_1500ms |" in text  # one row per RESULT line


def test_result_lines_are_parsed_and_helpers_are_not_benchmarks(tmp_path: Path) -> None:
    out = "warming up\nRESULT a p50_ms=1.5 n=3 mode=fast\nnoise RESULT b x=1\nRESULT c\n"
    assert parse_results(out) == [
        {"name": "a", "values": {"p50_ms": 1.5, "n": 3, "mode": "fast"}},
        {"name": "c", "values": {}},
    ]
    helper = tmp_path / "helper.py"
    helper.write_text('if __name__ == "__main__":\n    print("hi")\n')
    assert not is_benchmark(helper)
    assert is_benchmark(ROOT / "bench" / "turn_overhead.py")


def test_a_benchmark_that_fails_or_hangs_is_recorded_not_dropped(tmp_path: Path) -> None:
    bench = tmp_path / "bench"
    bench.mkdir()
    scripts = {
        "ok.py": 'print("RESULT ok a_ms=1.5")',
        "fails.py": 'print("RESULT fails a_ms=2")\nraise SystemExit(3)',
        "hangs.py": 'import time\nprint("RESULT hangs partial=1", flush=True)\ntime.sleep(30)',
    }
    for name, body in scripts.items():
        (bench / name).write_text(
            'if __name__ == "__main__":\n' + "".join(f"    {line}\n" for line in body.splitlines())
        )
    entries = {name: run_benchmark(bench / name, timeout=2.0, root=tmp_path) for name in scripts}
    assert entries["ok.py"]["status"] == "ok"
    assert entries["ok.py"]["results"] == [{"name": "ok", "values": {"a_ms": 1.5}}]
    assert entries["fails.py"]["status"] == "failed" and entries["fails.py"]["note"] == "exit code 3"
    assert entries["hangs.py"]["status"] == "timeout"
    assert entries["hangs.py"]["note"] == "did not finish within 2 s"
    assert entries["hangs.py"]["results"] == [{"name": "hangs", "values": {"partial": 1}}]


def test_a_benchmark_may_declare_a_longer_time_limit(tmp_path: Path) -> None:
    long = tmp_path / "long.py"
    long.write_text('BENCH_TIMEOUT = 1020  # seconds\nprint("RESULT x a=1")\n')
    plain = tmp_path / "plain.py"
    plain.write_text('print("RESULT x a=1")\n')
    assert declared_timeout(long) == 1020.0
    assert declared_timeout(plain) is None
    assert declared_timeout(ROOT / "bench" / "capacity_sbs.py") == 1020.0
