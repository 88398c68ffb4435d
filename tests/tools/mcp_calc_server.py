"""A small MCP server written with the official SDK: run as a script it serves stdio; the HTTP tests
serve ``server.streamable_http_app()`` themselves."""

from __future__ import annotations

import asyncio
import os

from mcp.server.mcpserver import MCPServer

server = MCPServer("calc")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two whole numbers."""
    return a + b


@server.tool()
def divide(a: float, b: float) -> float:
    """Divide a by b."""
    if b == 0:
        raise ValueError("cannot divide by zero")
    return a / b


@server.tool()
async def wait(seconds: float) -> str:
    """Take ``seconds`` to answer."""
    await asyncio.sleep(seconds)
    return "done"


@server.tool()
def pid() -> int:
    """The server's process id."""
    return os.getpid()


@server.tool()
def crash() -> str:
    """End the server process in the middle of the call."""
    os._exit(3)


if __name__ == "__main__":
    server.run()
