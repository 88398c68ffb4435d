#!/usr/bin/env python3
"""Write the generated documentation: the reference appendices (``docs/reference/*.md``, read from
the code) and the performance chapter (``docs/flow/performance.md``, read from ``bench/results.json``).

Usage: ``python scripts/gen_docs.py`` writes them; ``--check`` writes nothing and exits 1 with a diff
when any of them is out of date (the docs tests run it). Run it with the repository's ``src`` first
on ``sys.path`` (it puts it there itself).
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "scripts"))

from docgen.generate import generate  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--check", action="store_true", help="exit 1 with a diff if a generated file is stale"
    )
    args = parser.parse_args(argv)
    stale = []
    for rel, text in generate().items():
        path = ROOT / rel
        old = path.read_text(encoding="utf-8") if path.exists() else ""
        if old == text:
            continue
        stale.append(rel)
        if args.check:
            sys.stdout.writelines(
                difflib.unified_diff(
                    old.splitlines(True),
                    text.splitlines(True),
                    f"{rel} (committed)",
                    f"{rel} (from the code)",
                )
            )
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {rel}")
    if args.check and stale:
        print(f"\nout of date: {', '.join(stale)}; run: python scripts/gen_docs.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
