"""LivekitexAgent: realtime voice AI agents for LiveKit rooms."""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Agent": ".agent",
    "AgentSession": ".session",
    "JobContext": ".worker",
    "WorkerOptions": ".worker",
    "RunContext": ".tools",
    "function_tool": ".tools",
    "FunctionTool": ".tools",
    "ToolError": ".errors",
    "ProviderError": ".errors",
    "ConfigError": ".errors",
    "ChatContext": ".chat",
    "AudioFrame": ".media",
    "cli": ".cli",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    # Lazy exports: `import livekitex_agent` stays cheap, and worker processes load only what they use.
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'livekitex_agent' has no attribute {name!r}")
    mod = importlib.import_module(module, __name__)
    value = mod if name == "cli" else getattr(mod, name)
    globals()[name] = value
    return value
