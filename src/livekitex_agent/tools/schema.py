"""JSON schema for a tool's parameters, built from its signature, type hints and docstring."""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable
from typing import Annotated, Any, get_args, get_origin

import pydantic
from pydantic.fields import FieldInfo

_SECTION = re.compile(r"^\s*(Args|Arguments|Parameters|Params)\s*:\s*$", re.IGNORECASE)
_OTHER_SECTION = re.compile(r"^\s*(Returns?|Raises|Yields|Examples?|Notes?)\s*:\s*$", re.IGNORECASE)
_ARG_LINE = re.compile(r"^\s*(\*{0,2}\w+)\s*(\([^)]*\))?\s*:\s*(.*)$")
_SPHINX_PARAM = re.compile(r"^\s*:param\s+(?:[\w\[\], ]+\s+)?(\w+)\s*:\s*(.*)$")


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """Split a docstring into (description, {argument: description}).

    Understands Google style (``Args:`` sections) and Sphinx style (``:param name: ...``).
    """
    if not doc:
        return "", {}
    lines = inspect.cleandoc(doc).splitlines()
    description: list[str] = []
    args: dict[str, str] = {}
    section = "description"
    current: str | None = None
    arg_indent: int | None = None
    for line in lines:
        sphinx = _SPHINX_PARAM.match(line)
        if sphinx:
            current = sphinx.group(1)
            args[current] = sphinx.group(2).strip()
            section = "sphinx"
            continue
        if line.strip().startswith(":") and section in ("description", "sphinx"):
            section = "sphinx-other"
            current = None
            continue
        if _SECTION.match(line):
            section, current, arg_indent = "args", None, None
            continue
        if _OTHER_SECTION.match(line):
            section, current = "other", None
            continue
        if section == "description":
            description.append(line)
        elif section == "args":
            if not line.strip():
                current = None
                continue
            indent = len(line) - len(line.lstrip())
            m = _ARG_LINE.match(line)
            if m and (arg_indent is None or indent <= arg_indent):
                arg_indent = indent
                current = m.group(1).lstrip("*")
                args[current] = m.group(3).strip()
            elif current is not None:
                args[current] = (args[current] + " " + line.strip()).strip()
        elif section == "sphinx" and current is not None and line.strip():
            args[current] = (args[current] + " " + line.strip()).strip()
    return "\n".join(description).strip(), args


def _strip_titles(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _strip_titles(v) for k, v in schema.items() if k != "title" or not isinstance(v, str)}
    if isinstance(schema, list):
        return [_strip_titles(v) for v in schema]
    return schema


def is_context_annotation(annotation: Any, context_type: type) -> bool:
    """True when ``annotation`` is the run-context type (or a parametrised/annotated form of it)."""
    if annotation is context_type:
        return True
    origin = get_origin(annotation)
    if origin is Annotated:
        return is_context_annotation(get_args(annotation)[0], context_type)
    return origin is context_type


def build_arguments_model(
    fn: Callable[..., Any], *, name: str, context_type: type, skip_first: bool
) -> tuple[type[pydantic.BaseModel], str | None, str]:
    """Build a pydantic model of ``fn``'s parameters.

    Returns (model, name of the injected context parameter or None, description from the docstring).
    """
    sig = inspect.signature(fn)
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception as e:  # an unresolvable forward reference is the author's bug: say which tool
        raise TypeError(f"cannot resolve the type hints of tool {name!r}: {e}") from e
    description, arg_docs = parse_docstring(fn.__doc__)
    fields: dict[str, Any] = {}
    context_param: str | None = None
    params = list(sig.parameters.values())
    if skip_first and params:
        params = params[1:]
    for p in params:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise TypeError(f"tool {name!r}: *args/**kwargs parameters are not supported ({p.name})")
        annotation = hints.get(p.name, Any)
        if is_context_annotation(annotation, context_type):
            context_param = p.name
            continue
        if annotation is Any and p.name not in hints:
            raise TypeError(f"tool {name!r}: parameter {p.name!r} needs a type hint")
        default: Any = ... if p.default is inspect.Parameter.empty else p.default
        doc = arg_docs.get(p.name)
        field_info: FieldInfo
        if isinstance(default, FieldInfo):
            field_info = default
        else:
            described = doc and not _annotated_has_description(annotation)
            field_info = pydantic.Field(default=default, description=doc) if described else pydantic.Field(default=default)
        fields[p.name] = (annotation, field_info)
    for param, (annotation, _) in fields.items():
        try:  # a type pydantic cannot describe must name the tool and the parameter, not just the type
            pydantic.TypeAdapter(annotation).json_schema()
        except Exception as e:
            raise TypeError(
                f"tool {name!r}: parameter {param!r} has an unsupported type hint {annotation!r} "
                f"(use JSON-like types: str, int, float, bool, list, dict, Literal, Enum, pydantic models): "
                f"{type(e).__name__}"
            ) from e
    model_name = "".join(part.capitalize() for part in re.split(r"[^0-9a-zA-Z]+", name) if part) or "Tool"
    model = pydantic.create_model(
        f"{model_name}Args", __config__=pydantic.ConfigDict(extra="forbid"), **fields
    )
    return model, context_param, description


def _annotated_has_description(annotation: Any) -> bool:
    if get_origin(annotation) is Annotated:
        return any(isinstance(m, FieldInfo) and m.description for m in get_args(annotation)[1:])
    return False


def parameters_schema(model: type[pydantic.BaseModel]) -> dict[str, Any]:
    """The JSON schema of the arguments model, in the shape LLM APIs expect for ``parameters``."""
    schema = _strip_titles(model.model_json_schema())
    schema.setdefault("properties", {})
    schema.setdefault("required", [])
    schema["additionalProperties"] = False
    return typing.cast(dict[str, Any], schema)
