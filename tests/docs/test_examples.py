"""Every code block in the docs is what it says: a python block runs, a fragment compiles and its
imports resolve, a json block parses, and every block says what it is."""

from __future__ import annotations

import ast
import importlib
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from docscan import KNOWN_INFO, ROOT, Block, code_blocks, doc_files

EXAMPLE_TIMEOUT = 30.0
PARALLEL_EXAMPLES = 4


def all_blocks() -> list[Block]:
    return [b for path in doc_files() for b in code_blocks(path.read_text(encoding="utf-8"), path)]


def runnable() -> list[Block]:
    return [b for b in all_blocks() if b.info == "python"]


def check_fragment(code: str) -> list[str]:
    """Problems of a ``python fragment`` block: it must compile (top-level await allowed) and every
    import must resolve (the module imports, each imported name exists)."""
    try:
        tree = compile(code, "<fragment>", "exec", flags=ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    except SyntaxError as e:
        return [f"does not compile: {e.msg} (line {e.lineno})"]
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                try:
                    importlib.import_module(alias.name)
                except ImportError as e:
                    problems.append(f"import {alias.name}: {e}")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            try:
                module = importlib.import_module(node.module)
            except ImportError as e:
                problems.append(f"from {node.module}: {e}")
                continue
            for alias in node.names:
                if alias.name == "*" or hasattr(module, alias.name):
                    continue
                try:
                    importlib.import_module(f"{node.module}.{alias.name}")
                except ImportError:
                    problems.append(f"from {node.module} import {alias.name}: no such name")
    return problems


def run_example(code: str, timeout: float = EXAMPLE_TIMEOUT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def _run_or_timeout(code: str) -> subprocess.CompletedProcess[str] | None:
    try:
        return run_example(code)
    except subprocess.TimeoutExpired:
        return None


@pytest.fixture(scope="module")
def example_results() -> dict[str, subprocess.CompletedProcess[str] | None]:
    """Every runnable block run at once, a few in parallel (each one is mostly interpreter and import
    time); ``None`` for one that timed out."""
    blocks = runnable()
    with ThreadPoolExecutor(max_workers=PARALLEL_EXAMPLES) as pool:
        results = list(pool.map(_run_or_timeout, [b.code for b in blocks]))
    return {b.where: r for b, r in zip(blocks, results, strict=True)}


@pytest.mark.parametrize("block", runnable(), ids=lambda b: b.where)
def test_python_block_runs(
    block: Block, example_results: dict[str, subprocess.CompletedProcess[str] | None]
) -> None:
    proc = example_results[block.where]
    if proc is None:
        pytest.fail(
            f"{block.where}: the example did not finish in {EXAMPLE_TIMEOUT:.0f} s (use virtual time)"
        )
    assert proc.returncode == 0, f"{block.where}: exit {proc.returncode}\n{proc.stderr[-2000:]}"


def test_fragments_compile_and_their_imports_resolve() -> None:
    problems = [
        f"{b.where}: {p}" for b in all_blocks() if b.info == "python fragment" for p in check_fragment(b.code)
    ]
    assert not problems, "\n".join(problems)


def test_json_blocks_parse_and_every_block_says_what_it_is() -> None:
    problems = []
    for b in all_blocks():
        if b.info not in KNOWN_INFO:
            problems.append(f"{b.where}: info string {b.info!r} is not one of {sorted(KNOWN_INFO)}")
        if b.info == "json":
            try:
                json.loads(b.code)
            except json.JSONDecodeError as e:
                problems.append(f"{b.where}: json does not parse: {e}")
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------ the checks on broken samples


def test_sample_blocks_are_found_with_their_lines() -> None:
    text = "# t\n\n```python\nprint(1)\n```\n\n````python fragment\nx = 1\n````\n\n```\nbare\n```\n"
    blocks = code_blocks(text)
    assert [(b.line, b.info, b.code) for b in blocks] == [
        (3, "python", "print(1)\n"),
        (7, "python fragment", "x = 1\n"),
        (11, "", "bare\n"),
    ]


def test_a_failing_example_fails() -> None:
    assert run_example("raise SystemExit(3)").returncode == 3
    with pytest.raises(subprocess.TimeoutExpired):
        run_example("import time; time.sleep(5)", timeout=0.5)


def test_a_fragment_with_a_bad_import_or_syntax_is_reported() -> None:
    assert check_fragment("from livekitex_agent import Agent\nawait Agent.x()\n") == []
    assert check_fragment("from livekitex_agent import NoSuchThing\n") == [
        "from livekitex_agent import NoSuchThing: no such name"
    ]
    assert check_fragment("import livekitex_agent.nowhere\n")[0].startswith("import livekitex_agent.nowhere:")
    assert check_fragment("def f(:\n")[0].startswith("does not compile")
