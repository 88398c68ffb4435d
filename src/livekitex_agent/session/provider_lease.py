"""Who closes a provider: the last running session that used it.

A session holds the providers it was given (its own and its agents'); when it closes it releases
them, and a provider no running session holds any more is closed (``aclose``: HTTP connections,
worker threads). Closing is not the end of a provider: every provider reopens what it needs on its
next use (HTTP sessions lazily, local models from the process's shared pool), so one provider may
serve many sessions, one after the other or at the same time, and a provider built per call is
cleaned up with its call. Nothing is left for the user to close, and no "Unclosed client session".
"""

from __future__ import annotations

import logging

from ..providers.base import Provider

logger = logging.getLogger("livekitex_agent.session")

_holders: dict[int, tuple[Provider, int]] = {}  # id -> (provider, running sessions holding it)


class ProviderLease:
    """The providers one session holds."""

    def __init__(self) -> None:
        self._held: dict[int, Provider] = {}

    def hold(self, *providers: Provider | None) -> None:
        for provider in providers:
            if provider is None or id(provider) in self._held:
                continue
            self._held[id(provider)] = provider
            _, count = _holders.get(id(provider), (provider, 0))
            _holders[id(provider)] = (provider, count + 1)

    async def release(self) -> None:
        """Let go of every provider; close those no other running session holds."""
        held, self._held = list(self._held.values()), {}
        for provider in held:
            _, count = _holders.pop(id(provider), (provider, 1))
            if count > 1:
                _holders[id(provider)] = (provider, count - 1)
                continue
            try:
                await provider.aclose()
            except Exception:
                logger.exception("closing %s failed", provider.label)
