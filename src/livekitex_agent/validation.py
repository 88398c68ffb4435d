"""One validation path for every option: session and worker options, settings, tools, providers.

Each check returns the (normalised) value or raises :class:`ConfigError` whose message names the
option and the bad value. Numbers must be finite (NaN and infinity are refused: ``nan`` compares
false with everything, so it would silently mean "no limit" or "at once"), ``True``/``False`` are
not numbers, and a flag must be a real ``bool`` (``"no"`` is truthy).
"""

from __future__ import annotations

import inspect
import math
from typing import Any

from .errors import ConfigError


def _show(name: str, value: Any) -> str:
    return f"{name}={value!r}"


def check_number(
    name: str,
    value: Any,
    *,
    minimum: float | None = 0.0,
    exclusive: bool = False,
    maximum: float | None = None,
    allow_none: bool = False,
    unit: str = "",
) -> float | None:
    """A finite number ``>= minimum`` (``> minimum`` when ``exclusive``), ``<= maximum``."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{_show(name, value)} must be a number{' or None' if allow_none else ''}")
    if not math.isfinite(value):
        none = " (use None for no limit)" if allow_none else ""
        raise ConfigError(f"{_show(name, value)} must be a finite number{none}")
    if minimum is not None and (value < minimum or (exclusive and value == minimum)):
        op = ">" if exclusive else ">="
        raise ConfigError(f"{_show(name, value)} must be {op} {minimum:g}{unit}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{_show(name, value)} must be <= {maximum:g}{unit}")
    return value


def check_int(name: str, value: Any, *, minimum: int | None = 0, allow_none: bool = False) -> int | None:
    """An ``int`` (not a ``bool``, not a float, not a string) ``>= minimum``."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{_show(name, value)} must be an integer{' or None' if allow_none else ''}")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{_show(name, value)} must be >= {minimum}")
    return value


def check_bool(name: str, value: Any, *, allow_none: bool = False) -> bool | None:
    """``True`` or ``False`` (or ``None`` when allowed); strings such as ``"no"`` are refused."""
    if value is None and allow_none:
        return None
    if not isinstance(value, bool):
        raise ConfigError(f"{_show(name, value)} must be True or False{' or None' if allow_none else ''}")
    return value


def check_instance(name: str, value: Any, kind: type | tuple[type, ...], *, allow_none: bool = True) -> Any:
    """``value`` is an instance of ``kind`` (a provider class, say), or ``None`` when allowed."""
    if value is None and allow_none:
        return None
    if not isinstance(value, kind):
        kinds = kind if isinstance(kind, tuple) else (kind,)
        wanted = " or ".join(k.__name__ for k in kinds)
        raise ConfigError(f"{name} must be a {wanted}, got {type(value).__name__}: {value!r:.80}")
    return value


def check_choice(name: str, value: Any, choices: tuple[Any, ...]) -> Any:
    if value not in choices:
        raise ConfigError(f"{_show(name, value)} must be one of {', '.join(map(repr, choices))}")
    return value


def is_async_callable(fn: Any) -> bool:
    """True for ``async def`` functions, methods, partials of them and objects with ``async __call__``."""
    if inspect.iscoroutinefunction(fn):
        return True
    call = getattr(fn, "__call__", None)  # noqa: B004 - an object's own async __call__
    return call is not None and inspect.iscoroutinefunction(call)


def check_async_callable(name: str, value: Any, *, allow_none: bool = False) -> Any:
    """An ``async def`` function (a plain function would fail on every call, not once here)."""
    if value is None and allow_none:
        return None
    if not callable(value):
        raise ConfigError(f"{name} must be an async function, got {type(value).__name__}: {value!r:.80}")
    if not is_async_callable(value):
        label = getattr(value, "__qualname__", None) or repr(value)
        raise ConfigError(f"{name} must be an async function (async def), got the plain function {label}")
    return value
