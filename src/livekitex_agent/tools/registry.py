"""A named collection of tools, with discovery of ``@function_tool`` members on objects and modules."""

from __future__ import annotations

import builtins
import inspect
from collections.abc import Iterable, Iterator
from typing import Any

from .function_tool import FunctionTool


class DuplicateToolError(ValueError):
    """Two tools were registered under the same name."""


class ToolRegistry:
    """Tools by name, in registration order."""

    def __init__(self, tools: Iterable[FunctionTool] = ()) -> None:
        self._tools: dict[str, FunctionTool] = {}
        for tool in tools:
            self.register(tool)

    def register(self, tool: FunctionTool, *, replace: bool = False) -> FunctionTool:
        if not isinstance(tool, FunctionTool):
            raise TypeError(
                f"expected a FunctionTool (use @function_tool), got {type(tool).__name__}: {tool!r}"
            )
        existing = self._tools.get(tool.name)
        if existing is not None and existing is not tool and not replace:
            raise DuplicateToolError(
                f"a tool named {tool.name!r} is already registered ({_origin(existing)}); "
                f"cannot also register {_origin(tool)}"
            )
        self._tools[tool.name] = tool
        return tool

    def unregister(self, name: str) -> FunctionTool:
        try:
            return self._tools.pop(name)
        except KeyError:
            raise KeyError(
                f"no tool named {name!r} (registered: {', '.join(self._tools) or 'none'})"
            ) from None

    def get(self, name: str) -> FunctionTool | None:
        return self._tools.get(name)

    def __getitem__(self, name: str) -> FunctionTool:
        tool = self._tools.get(name)
        if tool is None:
            raise KeyError(f"no tool named {name!r} (registered: {', '.join(self._tools) or 'none'})")
        return tool

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __iter__(self) -> Iterator[FunctionTool]:
        return iter(list(self._tools.values()))

    def __len__(self) -> int:
        return len(self._tools)

    def names(self) -> builtins.list[str]:
        return list(self._tools)

    def list(self) -> list[FunctionTool]:
        return list(self._tools.values())

    def discover(self, source: Any) -> builtins.list[FunctionTool]:
        """Register every ``@function_tool`` found on an object, class or module; returns them."""
        found = find_tools(source)
        for tool in found:
            self.register(tool)
        return found


def find_tools(source: Any) -> list[FunctionTool]:
    """The tools declared on ``source`` (bound to it when it is an instance), in definition order."""
    found: list[FunctionTool] = []
    seen: set[str] = set()
    if inspect.ismodule(source):
        for value in vars(source).values():
            if isinstance(value, FunctionTool) and value.name not in seen:
                seen.add(value.name)
                found.append(value)
        return found
    cls = source if inspect.isclass(source) else type(source)
    for klass in reversed(cls.__mro__):
        own: dict[str, str] = {}
        for attr, value in vars(klass).items():
            if isinstance(value, FunctionTool):
                if value.name in own:
                    raise DuplicateToolError(
                        f"class {klass.__qualname__} has two tools named {value.name!r}: "
                        f"attributes {own[value.name]!r} and {attr!r}"
                    )
                own[value.name] = attr
                tool = getattr(source, attr)
                if tool.name in seen:  # an override in a subclass replaces the base's tool
                    found = [t for t in found if t.name != tool.name]
                seen.add(tool.name)
                found.append(tool)
    return found


def _origin(tool: FunctionTool) -> str:
    fn = tool.fn
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', fn)}"
