from __future__ import annotations

import types

import pytest

from livekitex_agent.tools import DuplicateToolError, ToolRegistry, function_tool


@function_tool
async def ping() -> str:
    """Ping."""
    return "pong"


@function_tool(name="ping")
async def ping_again() -> str:
    """Another ping."""
    return "pong"


def test_register_lookup_list_unregister() -> None:
    reg = ToolRegistry([ping])
    assert "ping" in reg and reg.get("ping") is ping and reg["ping"] is ping
    assert reg.names() == ["ping"] and len(reg) == 1
    with pytest.raises(DuplicateToolError, match="'ping' is already registered"):
        reg.register(ping_again)
    reg.register(ping_again, replace=True)
    assert reg["ping"] is ping_again
    reg.unregister("ping")
    assert reg.get("ping") is None
    with pytest.raises(KeyError, match="no tool named 'ping'"):
        reg.unregister("ping")
    with pytest.raises(TypeError, match="FunctionTool"):
        reg.register(lambda: None)  # type: ignore[arg-type]


def test_discover_on_module_and_object() -> None:
    module = types.ModuleType("tools_mod")
    module.ping = ping  # type: ignore[attr-defined]
    module.other = 3  # type: ignore[attr-defined]
    assert ToolRegistry().discover(module) == [ping]

    class Base:
        @function_tool
        async def a(self) -> str:
            """A."""
            return "base-a"

        @function_tool
        async def b(self) -> str:
            """B."""
            return "b"

    class Child(Base):
        @function_tool(name="a")
        async def a_override(self) -> str:
            """A, overridden."""
            return "child-a"

    tools = ToolRegistry().discover(Child())
    assert sorted(t.name for t in tools) == ["a", "b"]
    assert next(t for t in tools if t.name == "a").description == "A, overridden."
