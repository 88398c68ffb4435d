"""``@function_tool``: turn a typed Python function or method into a tool the LLM can call."""

from __future__ import annotations

import inspect
import json
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar, overload

from ..errors import LivekitexError
from ..validation import check_bool, check_number
from .context import RunContext

if TYPE_CHECKING:
    import pydantic

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_TOOL_TIMEOUT = 30.0


class ToolArgumentsError(LivekitexError):
    """The LLM sent arguments that are not valid JSON or do not match the tool's schema."""


class FunctionTool:
    """A callable tool with its name, description and JSON-schema parameters.

    Declared on a class, it is a descriptor: ``instance.tool`` gives a tool bound to the instance.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = DEFAULT_TOOL_TIMEOUT,
        cancellable: bool = True,
        _is_method: bool | None = None,
        _bound_to: Any = None,
    ) -> None:
        self.fn = fn
        self.name = name or fn.__name__
        if not self.name.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"tool name must be letters, digits, '_' or '-', got {self.name!r}")
        check_number(f"tool {self.name!r} timeout", timeout, exclusive=True, allow_none=True)
        check_bool(f"tool {self.name!r} cancellable", cancellable)
        from .schema import build_arguments_model, parameters_schema  # pydantic: loaded with the first tool

        params = list(inspect.signature(fn).parameters)
        self._is_method = _is_method if _is_method is not None else bool(params and params[0] == "self")
        model, context_param, doc_description = build_arguments_model(
            fn, name=self.name, context_type=RunContext, skip_first=self._is_method
        )
        self.arguments_model: type[pydantic.BaseModel] = model
        self.context_param = context_param
        self.description = (description or doc_description or "").strip()
        self.parameters: dict[str, Any] = parameters_schema(model)
        self.timeout = timeout
        self.cancellable = cancellable
        self._bound_to = _bound_to
        self._is_async = inspect.iscoroutinefunction(fn)

    # -- descriptor: bind to the instance the tool is read from ---------------------------------
    def __set_name__(self, owner: type, name: str) -> None:
        self._owner_attr = name

    def __get__(self, instance: Any, owner: type | None = None) -> FunctionTool:
        if instance is None or not self._is_method or self._bound_to is not None:
            return self
        cache = instance.__dict__.setdefault("__livekitex_bound_tools__", {})
        bound = cache.get(id(self))
        if bound is None:
            bound = FunctionTool.__new__(FunctionTool)
            bound.__dict__.update(self.__dict__)
            bound._bound_to = instance
            cache[id(self)] = bound
        return bound

    @property
    def bound_to(self) -> Any:
        return self._bound_to

    # -- schema ---------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """``{name, description, parameters}``: the provider-neutral tool description."""
        return {"name": self.name, "description": self.description, "parameters": self.parameters}

    # -- calling --------------------------------------------------------------------------------
    def parse_arguments(self, arguments: str | dict[str, Any] | None) -> pydantic.BaseModel:
        """Parse and validate raw arguments from the LLM; errors name the tool and the bad value."""
        data = decode_arguments(self.name, arguments)
        import pydantic  # loaded already: the tool's arguments model is a pydantic model

        try:
            return self.arguments_model.model_validate(data)
        except pydantic.ValidationError as e:
            problems = []
            for err in e.errors():
                loc = ".".join(str(p) for p in err["loc"]) or "(arguments)"
                if err["type"] == "missing":
                    problems.append(f"{loc}: missing")
                else:
                    problems.append(f"{loc}: {err['msg']} (got {err.get('input')!r})")
            raise ToolArgumentsError(
                f"invalid arguments for tool {self.name!r}: " + "; ".join(problems)
            ) from None

    async def invoke(self, args: pydantic.BaseModel, ctx: RunContext[Any] | None) -> Any:
        """Call the function with validated arguments (and the context, if it asks for one)."""
        kwargs = {name: getattr(args, name) for name in type(args).model_fields}
        if self.context_param is not None:
            kwargs[self.context_param] = ctx
        call_args: tuple[Any, ...] = (self._bound_to,) if self._is_method else ()
        if self._is_method and self._bound_to is None:
            raise TypeError(f"tool {self.name!r} is a method: read it from an instance to call it")
        result = self.fn(*call_args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the underlying function directly (for tests): ``await agent.get_weather(ctx, "Paris")``."""
        call_args: tuple[Any, ...] = (self._bound_to, *args) if self._bound_to is not None else args
        result = self.fn(*call_args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result

    def __repr__(self) -> str:
        return f"FunctionTool(name={self.name!r})"


def decode_arguments(tool: str, arguments: str | dict[str, Any] | None) -> dict[str, Any]:
    """The LLM's raw arguments as a JSON object (empty for none); errors name the tool and the text."""
    if arguments is None or (isinstance(arguments, str) and not arguments.strip()):
        data: Any = {}
    elif isinstance(arguments, str):
        try:
            data = json.loads(arguments)
        except json.JSONDecodeError as e:
            snippet = arguments if len(arguments) <= 200 else arguments[:200] + "..."
            raise ToolArgumentsError(
                f"arguments for tool {tool!r} are not valid JSON ({e.msg} at position {e.pos}): {snippet}"
            ) from None
    else:
        data = arguments
    if not isinstance(data, dict):
        raise ToolArgumentsError(
            f"arguments for tool {tool!r} must be a JSON object, got {type(data).__name__}: {data!r}"
        )
    return data


@overload
def function_tool(fn: F) -> FunctionTool: ...


@overload
def function_tool(
    fn: None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = DEFAULT_TOOL_TIMEOUT,
    cancellable: bool = True,
) -> Callable[[F], FunctionTool]: ...


def function_tool(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = DEFAULT_TOOL_TIMEOUT,
    cancellable: bool = True,
) -> FunctionTool | Callable[[Callable[..., Any]], FunctionTool]:
    """Make ``fn`` a tool. Its schema comes from the type hints, its description from the docstring.

    ``timeout`` (seconds, ``None`` for none) bounds each call; ``cancellable=False`` lets the tool
    finish even when the user interrupts the agent.
    """

    def wrap(f: Callable[..., Any]) -> FunctionTool:
        tool = FunctionTool(f, name=name, description=description, timeout=timeout, cancellable=cancellable)
        _refuse_duplicate_in_class_body(tool, sys._getframe(1))
        return tool

    if fn is not None:
        return wrap(fn)
    return wrap


def _refuse_duplicate_in_class_body(tool: FunctionTool, frame: Any) -> None:
    """In a class body, a second tool with the same name would silently replace the first: refuse it."""
    owner = tool.fn.__qualname__.rpartition(".")[0]
    for _ in range(3):  # the decorator's caller, possibly through @function_tool(...)
        if frame is None:
            return
        namespace = frame.f_locals
        if namespace.get("__qualname__") == owner and "__module__" in namespace:
            for attr, value in namespace.items():
                if isinstance(value, FunctionTool) and value.name == tool.name:
                    raise DuplicateToolNameError(
                        f"class {owner} declares two tools named {tool.name!r}: "
                        f"{value.fn.__name__} (attribute {attr!r}) and {tool.fn.__name__}; "
                        "give one another name (@function_tool(name=...))"
                    )
            return
        frame = frame.f_back


class DuplicateToolNameError(LivekitexError, ValueError):
    """Two tools of one class have the same name (the LLM could only ever call one of them)."""


ToolFunction = Callable[..., Awaitable[Any]]
