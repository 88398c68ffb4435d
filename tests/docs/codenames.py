"""The public names the code defines, read by the same introspection the appendices use."""

from __future__ import annotations

import importlib
import inspect
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
    names.cli_flags = ix.all_cli_flags()
    names.flags = names.cli_flags | ix.script_flags()
    for m in ix.worker_metrics():
        names.metrics.add(m.name)
        names.metric_series |= {m.name, *m.samples, m.name + "_created"}
    return names


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
