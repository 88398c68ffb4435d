"""Imports point downward, as DESIGN.md draws the layers (type-only imports excepted)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "livekitex_agent"

BASE = {"events", "errors", "log", "config", "validation", "metrics", "chat", "media", "tools", "__init__", "__version__", "hooks", "text", "lazy"}
ALLOWED: dict[str, set[str]] = {
    "base": {"base"},
    "providers": {"base", "providers"},
    "plugins": {"base", "providers", "plugins"},
    "agent": {"base", "providers", "agent"},
    "session": {"base", "providers", "agent", "session"},
    "rooms": {"base", "providers", "agent", "session", "rooms"},
    "playground": {"base", "playground"},  # the browser page and its token endpoint
    "worker": {"base", "providers", "agent", "session", "rooms", "playground", "worker"},
    "testing": {"base", "providers", "plugins", "agent", "session", "rooms", "testing"},
    "top": {"base", "providers", "plugins", "agent", "session", "rooms", "playground", "worker", "testing", "top"},
}


def layer_of(parts: tuple[str, ...]) -> str:
    head = parts[0] if parts else "__init__"
    if head in BASE:
        return "base"
    if head == "nodes":  # the defaults of Agent's nodes
        return "agent"
    if head in ("providers", "plugins", "agent", "session", "rooms", "playground", "worker", "testing"):
        return head
    return "top"  # cli, demo, __main__


def imported_modules(
    tree: ast.Module, module_parts: tuple[str, ...], is_package: bool
) -> list[tuple[int, tuple[str, ...]]]:
    out: list[tuple[int, tuple[str, ...]]] = []
    type_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for sub in ast.walk(node):
                type_only.add(id(sub))
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = module_parts if is_package else module_parts[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = base + tuple((node.module or "").split(".")) if node.module else base
                if not node.module:
                    for alias in node.names:
                        out.append((node.lineno, base + (alias.name,)))
                    continue
                out.append((node.lineno, tuple(p for p in target if p)))
            elif node.module and node.module.startswith("livekitex_agent"):
                out.append((node.lineno, tuple(node.module.split(".")[1:])))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("livekitex_agent."):
                    out.append((node.lineno, tuple(alias.name.split(".")[1:])))
    return out


def test_imports_point_downward() -> None:
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).with_suffix("")
        parts = rel.parts
        is_package = parts[-1] == "__init__"
        module_parts = parts[:-1] if is_package else parts
        if not module_parts:
            continue  # the package root re-exports lazily
        here = layer_of(module_parts)
        tree = ast.parse(path.read_text(), str(path))
        for lineno, target in imported_modules(tree, module_parts, is_package):
            there = layer_of(target)
            if there not in ALLOWED[here]:
                problems.append(f"{rel}.py:{lineno} ({here}) imports {'.'.join(target)} ({there})")
    assert not problems, "layering violations:\n" + "\n".join(problems)
