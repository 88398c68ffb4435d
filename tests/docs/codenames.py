"""The public names the code defines, read by the same introspection the appendices use."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from dataclasses import dataclass, field

from docgen import introspect as ix
from docgen import reference


@dataclass
class CodeNames:
    events: set[str] = field(default_factory=set)
    event_classes: set[str] = field(default_factory=set)
    options: dict[str, set[str]] = field(default_factory=dict)  # "AgentSession" → names
    env: set[str] = field(default_factory=set)
    flags: set[str] = field(default_factory=set)
    cli_flags: set[str] = field(default_factory=set)
    metrics: set[str] = field(default_factory=set)
    metric_series: set[str] = field(default_factory=set)
    public_classes: set[str] = field(default_factory=set)
    commands: dict[str, set[str]] = field(default_factory=dict)  # CLI subcommand → its flags
    identifiers: set[str] = field(default_factory=set)  # every name the repository's Python code uses


def collect() -> CodeNames:
    names = CodeNames()
    names.events = reference.event_names()
    for mod in ix.modules():
        for name, obj in vars(mod).items():
            if name.endswith("Event") and (not inspect.isclass(obj) or obj.__module__.startswith(ix.PACKAGE)):
                names.event_classes.add(name)
        if ix.is_public(mod.__name__):
            names.public_classes |= {
                n for n, o in ix.iter_public_members(mod) if inspect.isclass(o) and not n.startswith("_")
            }
    params, session_fields = reference.agent_session_options()
    session = {o.name for o in params} | {o.name for o in session_fields}
    names.options = {
        "AgentSession": session,
        "SessionOptions": {o.name for o in session_fields},
        "WorkerOptions": {o.name for o in reference.worker_options()},
    }
    names.env = {u.name for u in ix.env_vars_in_source()}
    names.commands = {
        name: {s for a in sub._actions for s in a.option_strings}
        for name, (_, sub) in ix.subcommands(ix.cli_parser()).items()
    }
    names.identifiers = identifiers()
    names.cli_flags = ix.all_cli_flags()
    names.flags = names.cli_flags | ix.script_flags()
    for m in ix.worker_metrics():
        names.metrics.add(m.name)
        names.metric_series |= {m.name, *m.samples, m.name + "_created"}
    return names


def identifiers() -> set[str]:
    """Every identifier the Python code of the repository defines or uses (names, attributes, arguments,
    keywords, module names, words of string constants)."""
    out: set[str] = set()
    for folder in ("src", "tests", "bench", "scripts", "examples"):
        for path in (ix.ROOT / folder).rglob("*.py"):
            if path.parent.name == "docs" and path.parent.parent.name == "tests":
                continue  # the docs checks' own samples name things that do not exist
            out.add(path.stem)
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Name):
                    out.add(node.id)
                elif isinstance(node, ast.Attribute):
                    out.add(node.attr)
                elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    out.add(node.name)
                elif isinstance(node, ast.arg) or isinstance(node, ast.keyword) and node.arg:
                    out.add(node.arg)
                elif isinstance(node, ast.alias):
                    out.update(node.name.split("."))
                elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                    out.update(re.findall(r"[A-Za-z_]\w*", node.value))
    return out


def resolves(dotted: str) -> bool:
    """``livekitex_agent.a.b.C.d`` names a module, or an attribute chain under the longest module."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False
