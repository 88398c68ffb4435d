"""An event loop whose clock jumps to the next timer when there is nothing else to do.

Conversations that would take minutes of real time (paced audio, endpointing delays, timeouts)
run in milliseconds and always the same way. Use it for tests whose providers are all in-process
fakes: time also jumps while a thread or subprocess works, so real I/O does not mix well with it.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A selector event loop with a virtual clock starting at 0."""

    def __init__(self) -> None:
        super().__init__()
        self._virtual_now = 0.0

    def time(self) -> float:
        return self._virtual_now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by hand."""
        if seconds < 0:
            raise ValueError(f"cannot move time backwards ({seconds!r})")
        self._virtual_now += seconds

    def _run_once(self) -> None:
        ready: Any = getattr(self, "_ready")  # noqa: B009 - CPython internals, stable since 3.4
        scheduled: Any = getattr(self, "_scheduled")  # noqa: B009
        if not ready and scheduled:
            # nothing runnable now: jump to the earliest timer instead of sleeping until it
            when = scheduled[0].when()
            if when > self._virtual_now:
                self._virtual_now = when
        super()._run_once()  # type: ignore[misc]


def run_virtual(main: Coroutine[Any, Any, T], *, debug: bool = False) -> T:
    """Run ``main`` to completion on a fresh :class:`VirtualTimeLoop`."""
    with asyncio.Runner(loop_factory=VirtualTimeLoop, debug=debug) as runner:
        return runner.run(main)


def virtual_time(fn: Callable[P, Awaitable[T]]) -> Callable[P, T]:
    """Decorator: run an ``async def`` test on virtual time (works with pytest fixtures)."""
    if not inspect.iscoroutinefunction(fn):
        raise TypeError("@virtual_time decorates async functions")

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        return run_virtual(fn(*args, **kwargs))

    return wrapper
