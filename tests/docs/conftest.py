"""The docs checks import the generators from scripts/ (``docgen``) and share one generation run."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "scripts") not in sys.path:
    sys.path.insert(0, str(ROOT / "scripts"))


@pytest.fixture(scope="session")
def generated() -> dict[str, str]:
    """Every generated documentation file as the code makes it now (path → text)."""
    from docgen.generate import generate

    return generate()
