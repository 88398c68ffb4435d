"""The generated appendices and the performance chapter are up to date, and describe everything."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from docgen.describe import describe, docstring_items, field_comments
from docgen.reference import MISSING
from docscan import ROOT


def test_generated_files_are_up_to_date(generated: dict[str, str]) -> None:
    stale = []
    for rel, text in generated.items():
        path = ROOT / rel
        old = path.read_text(encoding="utf-8") if path.exists() else ""
        if old != text:
            diff = "".join(
                list(difflib.unified_diff(old.splitlines(True), text.splitlines(True), rel, "from the code"))[
                    :40
                ]
            )
            stale.append(diff)
    assert not stale, "generated docs out of date; run: python scripts/gen_docs.py\n" + "\n".join(stale)


def test_every_option_variable_and_flag_has_a_description(generated: dict[str, str]) -> None:
    missing = [
        f"{rel}: {line.split('|')[1].strip()}"
        for rel, text in generated.items()
        for line in text.splitlines()
        if MISSING in line
    ]
    assert not missing, (
        "describe these in the code (a trailing # comment on the field, or a ``name``: line in the "
        "docstring), then run scripts/gen_docs.py:\n" + "\n".join(missing)
    )


@dataclass
class _Sample:
    """A sample.

    - ``beta``: from the docstring,
      over two lines.
    ``gamma(x)`` called with x.
    """

    alpha: int = 1  # from the comment
    beta: str = ""
    # above the field
    gamma: float = 0.0
    delta: bool = False


def test_descriptions_come_from_field_comments_and_docstring_items() -> None:
    assert field_comments(_Sample) == {"alpha": "from the comment", "gamma": "above the field"}
    assert docstring_items(_Sample.__doc__) == {
        "beta": "from the docstring, over two lines.",
        "gamma": "called with x.",
    }
    assert describe("alpha", _Sample) == "from the comment"
    assert describe("beta", _Sample) == "from the docstring, over two lines."
    assert describe("delta", _Sample) == ""  # undescribed: the appendix marks it and the test above fails
