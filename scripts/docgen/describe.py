"""Descriptions written in the code: dataclass field comments and ````name````: items of docstrings.

The appendices never hold a hand-written description: each one comes from here, so the place to
describe an option is next to it in the code (a trailing ``# comment`` on a field, or a
``- ``name``: what it does`` line in the class or function docstring).
"""

from __future__ import annotations

import ast
import inspect
import io
import re
import textwrap
import tokenize
from typing import Any

_ITEM_RE = re.compile(r"^(?:[-*]\s+)?((?:``\w+(?:\([^`]*\))?``,?\s*)+)(?:[:—–]|-\s)?\s*(.*)$")


def docstring_items(doc: str | None) -> dict[str, str]:
    """``{name: description}`` from docstring lines that start with ````name```` (optionally a bullet).

    A description runs on over the following lines until a blank line or the next item.
    """
    items: dict[str, str] = {}
    if not doc:
        return items
    current: str | None = None
    group: list[str] = []
    for raw in inspect.cleandoc(doc).splitlines():
        line = raw.strip()
        m = _ITEM_RE.match(line)
        if m and (raw.startswith(("- ", "* ", "``")) or raw.lstrip().startswith(("- ", "* "))):
            names = re.findall(r"``(\w+)", m.group(1))
            current = None
            for name in names:
                if name not in items:  # the first mention describes it
                    items[name] = m.group(2).strip()
                    current = name
            group = [n for n in names if items.get(n) == m.group(2).strip()]
            continue
        if not line or line.startswith(("- ", "* ")):
            current = None
            continue
        if current is not None:
            for name in group:
                items[name] = (items[name] + " " + line).strip()
    return items


def field_comments(cls: type) -> dict[str, str]:
    """``{field: comment}`` for the annotated fields of ``cls``: the trailing ``#`` comment of the
    field's line, else the ``#`` comment lines right above it."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    comments: dict[int, str] = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            text = tok.string.lstrip("#").strip()
            if not text.startswith(("noqa", "type:", "pragma")):
                comments[tok.start[0]] = text
    lines = source.splitlines()
    out: dict[str, str] = {}
    tree = ast.parse(source)
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    for node in body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            end = node.end_lineno or node.lineno
            trailing = [comments[n] for n in range(node.lineno, end + 1) if n in comments]
            if trailing:
                out[node.target.id] = " ".join(trailing)
                continue
            above: list[str] = []
            n = node.lineno - 1
            while n >= 1 and lines[n - 1].strip().startswith("#") and n in comments:
                above.insert(0, comments[n])
                n -= 1
            if above:
                out[node.target.id] = " ".join(above)
    return out


def init_attribute_comments(cls: type) -> dict[str, str]:
    """``{attribute: comment}`` for ``self.name = ...`` lines of ``cls.__init__`` that carry a ``#``
    comment (on the line, or the comment lines right above it)."""
    init = cls.__dict__.get("__init__")
    try:
        source = textwrap.dedent(inspect.getsource(init)) if init is not None else ""
    except (OSError, TypeError):
        return {}
    if not source:
        return {}
    comments: dict[int, str] = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            comments[tok.start[0]] = tok.string.lstrip("#").strip()
    lines = source.splitlines()
    out: dict[str, str] = {}
    for node in ast.walk(ast.parse(source)):
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else [node.target]
            if isinstance(node, ast.AnnAssign)
            else []
        )
        for target in targets:
            if (
                isinstance(target, ast.Attribute)
                and isinstance(target.value, ast.Name)
                and target.value.id == "self"
            ):
                end = node.end_lineno or node.lineno
                text = [comments[n] for n in range(node.lineno, end + 1) if n in comments]
                if not text:
                    n = node.lineno - 1
                    while n >= 1 and lines[n - 1].strip().startswith("#") and n in comments:
                        text.insert(0, comments[n])
                        n -= 1
                if text and target.attr not in out:
                    out[target.attr] = " ".join(text)
    return out


def describe(name: str, *owners: Any) -> str:
    """The first description of ``name`` found in ``owners`` (classes or functions): a field comment,
    then an item of the owner's docstring (for a class, also of its ``__init__``)."""
    for owner in owners:
        if owner is None:
            continue
        if isinstance(owner, type):
            found = field_comments(owner).get(name)
            if found:
                return found
            found = docstring_items(owner.__doc__).get(name)
            if found:
                return found
            init = owner.__dict__.get("__init__")
            if init is not None:
                found = docstring_items(init.__doc__).get(name) or init_attribute_comments(owner).get(name)
                if found:
                    return found
        else:
            found = docstring_items(getattr(owner, "__doc__", None)).get(name)
            if found:
                return found
    return ""


def first_line(obj: Any) -> str:
    """The first sentence line of ``obj``'s own docstring ('' when it has none)."""
    doc = obj.__dict__.get("__doc__") if isinstance(obj, type) else getattr(obj, "__doc__", None)
    if not doc or not isinstance(doc, str):
        return ""
    if isinstance(obj, type) and doc.startswith(obj.__name__ + "("):
        return ""  # the signature a dataclass gets when it has no docstring
    paragraph = inspect.cleandoc(doc).split("\n\n", 1)[0]
    return " ".join(paragraph.split())
