"""Every ```mermaid block of the docs renders with mermaid-cli in Debian's chromium.

All blocks render in one browser page (``render_mermaid.mjs``: mermaid loaded once, ``mermaid.render``
per block, as mermaid-cli does); a failure names the file and the
block's line. The tools come from ``scripts/install-docs-tools.sh`` (run by the set-up).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from docscan import ROOT, Block, code_blocks, doc_files

TOOLS = ROOT / ".tools"
DRIVER = Path(__file__).with_name("render_mermaid.mjs")
PUPPETEER_CONFIG = TOOLS / "puppeteer-config.json"
RENDER_TIMEOUT = 45.0


def require_tools() -> None:
    missing = [
        what
        for what, ok in (
            ("node", shutil.which("node") is not None),
            ("mermaid-cli", (TOOLS / "node_modules" / "@mermaid-js" / "mermaid-cli").is_dir()),
            ("the puppeteer config", PUPPETEER_CONFIG.exists()),
            (
                "chromium",
                Path(json.loads(PUPPETEER_CONFIG.read_text())["executablePath"]).exists()
                if PUPPETEER_CONFIG.exists()
                else False,
            ),
        )
        if not ok
    ]
    if missing:
        message = f"missing {', '.join(missing)}: run scripts/install-docs-tools.sh"
        if os.environ.get("CI"):
            pytest.fail(message + " (the set-up must install it in CI)")
        pytest.skip(message)


def render(blocks: list[Block]) -> dict[str, str]:
    """``{block.where: error}`` for every block that does not render (one browser for all)."""
    if not blocks:
        return {}
    require_tools()
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "blocks.json"
        spec.write_text(json.dumps([{"id": b.where, "code": b.code} for b in blocks]))
        proc = subprocess.run(
            ["node", str(DRIVER), str(spec), str(TOOLS), str(PUPPETEER_CONFIG)],
            capture_output=True,
            text=True,
            timeout=RENDER_TIMEOUT,
            cwd=tmp,
        )
    assert proc.returncode == 0, f"the mermaid renderer failed: {proc.stderr[-2000:]}"
    return {r["id"]: r["error"] for r in json.loads(proc.stdout) if r["error"]}


SAMPLE = (
    "# Sample\n\n```mermaid\nflowchart LR\n  A[Worker] --> B[Job]\n```\n\n"
    "```mermaid\nsequenceDiagram\n  A->>B: hello\n```\n\n"
    "```mermaid\nflowchart LR\n  A --> \n  -->> B[\n```\n"
)


def doc_blocks() -> list[Block]:
    return [
        b for p in doc_files() for b in code_blocks(p.read_text(encoding="utf-8"), p) if b.info == "mermaid"
    ]


def sample_blocks() -> list[Block]:
    return [b for b in code_blocks(SAMPLE, Path("sample.md")) if b.info == "mermaid"]


@pytest.fixture(scope="module")
def failures() -> dict[str, str]:
    """The docs' blocks and the broken sample, rendered in one browser launch."""
    return render(doc_blocks() + sample_blocks())


def test_every_mermaid_block_renders(failures: dict[str, str]) -> None:
    mine = {where: error for where, error in failures.items() if not where.startswith("sample.md:")}
    assert not mine, "\n".join(f"{where}: {error}" for where, error in mine.items())


def test_a_broken_block_is_reported_with_its_file_and_line(failures: dict[str, str]) -> None:
    sample = {where: error for where, error in failures.items() if where.startswith("sample.md:")}
    assert list(sample) == ["sample.md:13"]
    assert "Parse error" in sample["sample.md:13"]
