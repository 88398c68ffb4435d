"""Importing the framework and its plugins stays cheap: heavy dependencies load when first used."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
HEAVY = ("aiohttp", "pydantic", "livekitex_agent.providers.fallback")


def imported_after(code: str) -> list[str]:
    """Which of the heavy modules a fresh interpreter has imported after running ``code``."""
    probe = f"import json, sys\n{code}\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    result: list[str] = json.loads(out.stdout)
    return result


def test_importing_agent_session_and_plugins_loads_no_heavy_dependency() -> None:
    code = (
        "from livekitex_agent import Agent, AgentSession\n"
        "import livekitex_agent.plugins.local, livekitex_agent.plugins.openai\n"
        "Agent('x')"
    )
    assert imported_after(code) == []


@pytest.mark.parametrize(
    ("code", "loaded"),
    [
        ("from livekitex_agent.plugins.openai import LLM; LLM(api_key='k')", "aiohttp"),
        ("from livekitex_agent import function_tool\n@function_tool\ndef f(x: int) -> int: return x", "pydantic"),
        ("from livekitex_agent.providers import FallbackLLM", "livekitex_agent.providers.fallback"),
    ],
)
def test_each_heavy_dependency_loads_when_first_used(code: str, loaded: str) -> None:
    assert loaded in imported_after(code)


def test_an_unknown_name_of_a_lazy_module_is_an_attribute_error_naming_it() -> None:
    import livekitex_agent.plugins.openai as openai_plugin
    import livekitex_agent.providers as providers

    for module, name in ((openai_plugin, "LMM"), (providers, "FallbackLMM")):
        with pytest.raises(AttributeError, match=name):
            getattr(module, name)
