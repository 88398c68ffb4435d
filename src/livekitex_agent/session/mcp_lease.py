"""The MCP servers a session's agents use: connected when an agent takes over, closed with the session."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from ..tools.mcp import MCPServer
from ..tools.registry import ToolRegistry

logger = logging.getLogger("livekitex_agent.session")


class MCPLease:
    """Opens each agent's MCP servers into its tool registry, and releases them all on close.

    A server that cannot be reached is reported (``report``) and not waited for again: it keeps
    reconnecting in the background and its tools appear when it answers.
    """

    def __init__(self, report: Callable[[BaseException], None]) -> None:
        self._report = report
        self._held: list[tuple[MCPServer, ToolRegistry]] = []

    async def open(self, servers: Sequence[MCPServer], registry: ToolRegistry) -> None:
        """Connect an agent's ``servers`` (those not open yet) and list their tools into its ``registry``."""
        new = [s for s in servers if (s, registry) not in self._held]
        self._held.extend((s, registry) for s in new)
        outcomes = await asyncio.gather(*(s.open(registry) for s in new), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, Exception):
                self._report(outcome)

    async def release(self) -> None:
        held, self._held = self._held, []
        for server, registry in held:
            try:
                await server.release(registry)
            except Exception:
                logger.exception("closing MCP server %r failed", server.name)
