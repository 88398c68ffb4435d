"""Tools from Model Context Protocol servers: ``Agent(mcp_servers=[MCPServerStdio(...), MCPServerHTTP(...)])``.

Each server keeps one connection, owned by one task that opens it (a subprocess over stdio, or
streamable HTTP), lists the server's tools into the registries of the agents that use it, waits until
the connection ends, and opens it again (a server that drops is reconnected; its tools are listed
anew). The tools are :class:`MCPTool` s: the LLM sees them with the server's JSON schemas, and they run
through the same executor as ``@function_tool`` s (timeouts, arguments checked against the schema,
failures given to the LLM as results). The ``mcp`` SDK is imported only when a server connects.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import re
import sys
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..errors import LivekitexError, ToolError
from ..log import install_redaction
from ..validation import check_number
from .context import RunContext
from .function_tool import DEFAULT_TOOL_TIMEOUT, FunctionTool, ToolArgumentsError, decode_arguments
from .registry import ToolRegistry

logger = logging.getLogger("livekitex_agent.tools.mcp")

INSTALL_HINT = "pip install 'livekitex-agent[mcp]'"
_MAX_LIST_PAGES = 100
_STABLE_CONNECTION = 30.0  # seconds a connection must last for the reconnect backoff to start anew
_CLOSE_TIMEOUT = 10.0  # the SDK bounds a stdio server's shutdown (stdin closed, then TERM, then KILL)
_BAD_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]")


class MCPConnectionError(LivekitexError):
    """An MCP server could not be reached; it is retried in the background."""

    retryable = True


def require_mcp() -> None:
    """Fail with the install command when the ``mcp`` SDK is missing."""
    if importlib.util.find_spec("mcp") is None:
        raise ImportError(f"MCP servers need the official 'mcp' SDK: {INSTALL_HINT}")


class MCPServer(ABC):
    """One MCP server an agent takes tools from. Subclasses say how to reach it.

    ``tool_timeout`` bounds each call (seconds, ``None`` for none); ``connect_timeout`` bounds a
    connection attempt, and how long a session start or a call waits for one; ``allowed_tools``
    keeps only the named tools; ``tool_prefix`` is put before every tool name (two servers, or a
    server and the agent, may name tools alike); ``reconnect_delay`` is the (first, longest) wait
    between failed attempts, doubling in between.
    """

    def __init__(
        self,
        *,
        name: str | None = None,
        tool_timeout: float | None = DEFAULT_TOOL_TIMEOUT,
        connect_timeout: float = 10.0,
        allowed_tools: Sequence[str] | None = None,
        tool_prefix: str = "",
        reconnect_delay: tuple[float, float] = (0.5, 30.0),
    ) -> None:
        require_mcp()
        check_number("MCP server tool_timeout", tool_timeout, exclusive=True, allow_none=True)
        check_number("MCP server connect_timeout", connect_timeout, exclusive=True)
        for value in reconnect_delay:
            check_number("MCP server reconnect_delay", value, exclusive=True)
        if reconnect_delay[0] > reconnect_delay[1]:
            raise ValueError(f"MCP server reconnect_delay must be (first, longest), got {reconnect_delay!r}")
        if _BAD_NAME_CHARS.search(tool_prefix):
            raise ValueError(f"MCP tool_prefix must be letters, digits, '_' or '-', got {tool_prefix!r}")
        if isinstance(allowed_tools, str):
            raise TypeError(f"allowed_tools must be a list of tool names, got the string {allowed_tools!r}")
        self.name = name or self._default_name()
        self.tool_timeout = tool_timeout
        self.connect_timeout = connect_timeout
        self.allowed_tools = None if allowed_tools is None else frozenset(allowed_tools)
        self.tool_prefix = tool_prefix
        self.reconnect_delay = reconnect_delay
        self.tools: dict[str, MCPTool] = {}  # by the name the LLM sees
        self.last_error: BaseException | None = None
        self.connections = 0  # how many times a connection was made (1 + reconnections)
        self._registries: list[ToolRegistry] = []
        self._task: asyncio.Task[None] | None = None
        self._client: Any = None
        self._connected = asyncio.Event()
        self._dropped = asyncio.Event()
        self._stop = asyncio.Event()

    # -- what subclasses say ----------------------------------------------------------------------
    @abstractmethod
    async def _open_transport(self, stack: AsyncExitStack) -> Any:
        """An ``mcp`` transport (an async context manager giving the read and write streams)."""

    @abstractmethod
    def _default_name(self) -> str: ...

    # -- use by sessions --------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def open(self, registry: ToolRegistry) -> None:
        """List this server's tools into ``registry`` (now and after each reconnection).

        Waits up to ``connect_timeout`` for the first connection; raises :class:`MCPConnectionError`
        when there is none (the registry stays attached: the tools appear once the server answers).
        """
        if registry not in self._registries:
            self._registries.append(registry)
            self._register(registry)
        if self._task is None or self._task.done():
            self._stop, self._connected = asyncio.Event(), asyncio.Event()  # this loop's events
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"mcp:{self.name}")
        if not await self._wait_connected(self.connect_timeout):
            raise MCPConnectionError(f"MCP server {self.name!r} is not reachable: {self._describe_error()}")

    async def release(self, registry: ToolRegistry) -> None:
        """Take this server's tools out of ``registry``; the last registry out closes the connection."""
        if registry in self._registries:
            self._registries.remove(registry)
            for tool in self.tools.values():
                if registry.get(tool.name) is tool:
                    registry.unregister(tool.name)
        if not self._registries:
            await self.aclose()

    async def aclose(self) -> None:
        """Close the connection (and end the subprocess) now."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stop.set()
        self._dropped.set()
        done, _ = await asyncio.wait({task}, timeout=_CLOSE_TIMEOUT)
        if not done:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def call_tool(self, remote_name: str, arguments: dict[str, Any]) -> str:
        """Call a tool; its text comes back, or a :class:`ToolError` the LLM reads."""
        if not await self._wait_connected(self.connect_timeout):
            raise ToolError(
                f"The tool server {self.name!r} is not reachable right now ({self._describe_error()})."
            )
        from mcp import MCPError
        from mcp_types import CONNECTION_CLOSED

        client = self._client
        if client is None:  # dropped between the wait and now
            raise ToolError(f"The tool server {self.name!r} is reconnecting; try again.")
        try:
            result = await client.call_tool(remote_name, arguments)
        except MCPError as e:
            if e.code == CONNECTION_CLOSED:
                self._connection_ended()
                raise ToolError(
                    f"The tool server {self.name!r} closed the connection during the call to "
                    f"{remote_name!r}; it is reconnecting."
                ) from e
            raise ToolError(f"The tool server {self.name!r} refused the call to {remote_name!r}: {e}") from e
        text = render_result(result)
        if result.is_error:
            raise ToolError(text or f"The tool {remote_name!r} failed.")
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, connected={self.connected})"

    # -- the connection's owner -------------------------------------------------------------------
    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        delay = self.reconnect_delay[0]
        failures = 0
        while not self._stop.is_set():
            began = loop.time()
            try:
                await self._connect_once()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # an ExceptionGroup from the SDK's task groups, too
                self.last_error = e
                failures += 1
                log = logger.warning if failures == 1 else logger.debug
                log("MCP server %r: connection failed (%s); retrying in %.1fs", self.name, _brief(e), delay)
            if self._stop.is_set():
                break
            if loop.time() - began >= _STABLE_CONNECTION:  # it had been working: start the backoff anew
                delay, failures = self.reconnect_delay[0], 0
            try:  # a server that drops at once is not reconnected in a tight loop
                await asyncio.wait_for(self._stop.wait(), delay)
            except TimeoutError:
                pass
            delay = min(delay * 2, self.reconnect_delay[1])

    async def _connect_once(self) -> None:
        from mcp import Client

        self._dropped = asyncio.Event()
        try:
            async with AsyncExitStack() as stack:
                async with asyncio.timeout(self.connect_timeout):
                    transport = await self._open_transport(stack)
                    watched = _WatchedTransport(transport, self._connection_ended)
                    client = await stack.enter_async_context(Client(watched))
                    listed = await _list_tools(client)
                self._client = client
                self._set_tools(listed)
                self.connections += 1
                self.last_error = None
                self._connected.set()
                logger.info("MCP server %r connected: %d tools", self.name, len(self.tools))
                await self._dropped.wait()
                if not self._stop.is_set():
                    logger.warning("MCP server %r dropped the connection; reconnecting", self.name)
        finally:
            self._client = None
            self._connected.clear()

    def _connection_ended(self) -> None:
        self._connected.clear()
        self._dropped.set()

    async def _wait_connected(self, timeout: float) -> bool:
        if self._connected.is_set():
            return True
        try:
            await asyncio.wait_for(self._connected.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def _describe_error(self) -> str:
        return _brief(self.last_error) if self.last_error is not None else "no answer yet"

    # -- tools ------------------------------------------------------------------------------------
    def _set_tools(self, listed: Sequence[Any]) -> None:
        fresh: dict[str, MCPTool] = {}
        for spec in listed:
            if self.allowed_tools is not None and spec.name not in self.allowed_tools:
                continue
            try:
                tool = MCPTool(self, spec)
            except (ValueError, TypeError) as e:
                logger.warning("MCP server %r: tool %r left out: %s", self.name, spec.name, e)
                continue
            fresh[tool.name] = tool
        old, self.tools = self.tools, fresh
        for registry in self._registries:
            for name, tool in old.items():
                if registry.get(name) is tool:
                    registry.unregister(name)
            self._register(registry)

    def _register(self, registry: ToolRegistry) -> None:
        for tool in self.tools.values():
            existing = registry.get(tool.name)
            if existing is not None and existing is not tool:
                logger.warning(
                    "MCP server %r: tool %r left out, the agent already has a tool of that name "
                    "(give the server a tool_prefix)",
                    self.name,
                    tool.name,
                )
                continue
            registry.register(tool)


_SECRET_NAME = re.compile(r"auth|key|token|secret|passw|credential|cookie", re.IGNORECASE)


def _redact_secret_values(pairs: Mapping[str, str]) -> None:
    """The values of secret-looking headers or environment variables never reach a log of ours
    (``Authorization: Bearer <token>`` registers the token too, in case it is logged alone)."""
    secrets: list[str] = []
    for name, value in pairs.items():
        if _SECRET_NAME.search(name) and isinstance(value, str):
            secrets.append(value)
            _scheme, _, token = value.partition(" ")
            if token.strip():
                secrets.append(token.strip())
    install_redaction(secrets)


class MCPServerStdio(MCPServer):
    """An MCP server run as a subprocess, spoken to over its stdin/stdout.

    ``env`` is added to a minimal inherited environment (``PATH``, ``HOME``, ...), not to ours:
    give the server the variables it needs. Its stderr goes to ours.
    """

    def __init__(
        self,
        command: str,
        args: Sequence[str] = (),
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
        **options: Any,
    ) -> None:
        if not isinstance(command, str) or not command:
            raise ValueError(f"MCPServerStdio command must be a non-empty string, got {command!r}")
        if isinstance(args, str):
            raise TypeError(f"MCPServerStdio args must be a list of strings, got the string {args!r}")
        self.command = command
        self.args = [str(a) for a in args]
        self.env = dict(env) if env is not None else None
        _redact_secret_values(self.env or {})
        self.cwd = cwd
        super().__init__(**options)

    def _default_name(self) -> str:
        return Path(self.args[-1] if self.args else self.command).stem

    async def _open_transport(self, stack: AsyncExitStack) -> Any:
        from mcp import StdioServerParameters, stdio_client

        params = StdioServerParameters(command=self.command, args=self.args, env=self.env, cwd=self.cwd)
        return stdio_client(params, errlog=sys.stderr)


class MCPServerHTTP(MCPServer):
    """An MCP server reached over streamable HTTP at ``url`` (e.g. ``http://127.0.0.1:8000/mcp``).

    ``headers`` go with every request (an ``Authorization`` header, say); they are never logged, and the
    values of secret-looking ones are redacted wherever a record of ours quotes them.
    """

    def __init__(self, url: str, *, headers: Mapping[str, str] | None = None, **options: Any) -> None:
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"MCPServerHTTP url must be an http(s) URL, got {url!r}")
        self.url = url
        self.headers = dict(headers or {})
        _redact_secret_values(self.headers)
        super().__init__(**options)

    def _default_name(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)

    async def _open_transport(self, stack: AsyncExitStack) -> Any:
        import httpx2
        from mcp.client.streamable_http import streamable_http_client

        http = await stack.enter_async_context(
            httpx2.AsyncClient(headers=self.headers, timeout=httpx2.Timeout(30.0, read=300.0))
        )
        return streamable_http_client(self.url, http_client=http)


class MCPTool(FunctionTool):
    """A tool of an MCP server, as the LLM and the executor see it."""

    def __init__(self, server: MCPServer, spec: Any) -> None:  # no super().__init__: no Python function
        name = server.tool_prefix + _BAD_NAME_CHARS.sub("_", spec.name)
        if not name or len(name) > 64:
            raise ValueError(f"tool name {name!r} must have 1 to 64 characters")
        schema = spec.input_schema if isinstance(spec.input_schema, dict) else {}
        if schema.get("type", "object") != "object":
            raise ValueError(f"its input schema is not an object schema: {schema!r}")
        from jsonschema.validators import validator_for

        validator_cls = validator_for(schema)
        validator_cls.check_schema(schema)  # a SchemaError is a ValueError-like server bug: leave it out
        self._validator = validator_cls(schema)
        self.server = server
        self.remote_name: str = spec.name
        self.name = name
        self.description = (spec.description or "").strip()
        from .schema import _strip_titles  # pydantic: loaded with the first MCP tool

        parameters = _strip_titles(schema)
        parameters.setdefault("type", "object")
        parameters.setdefault("properties", {})
        self.parameters: dict[str, Any] = parameters
        self.timeout = server.tool_timeout
        self.cancellable = True
        self.context_param = None
        self.fn = server.call_tool
        self._is_method = False
        self._bound_to = None
        self._is_async = True

    def __get__(self, instance: Any, owner: type | None = None) -> MCPTool:
        return self

    def parse_arguments(self, arguments: str | dict[str, Any] | None) -> Any:
        """Parse the LLM's arguments and check them against the server's JSON schema."""
        data = decode_arguments(self.name, arguments)
        problems = []
        for err in sorted(self._validator.iter_errors(data), key=lambda e: list(e.absolute_path)):
            where = ".".join(str(p) for p in err.absolute_path) or "(arguments)"
            problems.append(f"{where}: {err.message}")
        if problems:
            raise ToolArgumentsError(f"invalid arguments for tool {self.name!r}: " + "; ".join(problems))
        return data

    async def invoke(self, args: Any, ctx: RunContext[Any] | None) -> Any:
        return await self.server.call_tool(self.remote_name, args)

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the tool directly (for tests): ``await tool(city="Paris")``."""
        return await self.server.call_tool(self.remote_name, self.parse_arguments(kwargs))

    def __repr__(self) -> str:
        return f"MCPTool(name={self.name!r}, server={self.server.name!r})"


def render_result(result: Any) -> str:
    """The text the LLM reads from a ``CallToolResult``: its text parts, else its structured content."""
    parts: list[str] = []
    for block in result.content:
        kind = getattr(block, "type", None)
        if kind == "text":
            parts.append(block.text)
        elif kind == "resource":
            inner = block.resource
            text = getattr(inner, "text", None)
            parts.append(text if text is not None else f"[resource {inner.uri} ({inner.mime_type or 'binary'})]")
        elif kind == "resource_link":
            parts.append(f"[resource {block.uri}]")
        elif kind in ("image", "audio"):
            parts.append(f"[{kind} {block.mime_type}]")
    if not parts and result.structured_content is not None:
        return json.dumps(result.structured_content, default=str)
    return "\n".join(parts)


async def _list_tools(client: Any) -> list[Any]:
    tools: list[Any] = []
    cursor: str | None = None
    for _ in range(_MAX_LIST_PAGES):
        page = await client.list_tools(cursor=cursor)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if not cursor:
            break
    return tools


def _brief(error: BaseException | None) -> str:
    """One line for an error, the innermost of an SDK ExceptionGroup; no secrets (headers aren't in it)."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    if error is None:
        return "unknown error"
    text = str(error) or type(error).__name__
    return f"{type(error).__name__}: {text}" if str(error) else text


class _WatchedTransport:
    """Wraps an ``mcp`` transport to learn when the server's side of the connection ends."""

    def __init__(self, inner: Any, on_end: Any) -> None:
        self._inner = inner
        self._on_end = on_end

    async def __aenter__(self) -> tuple[Any, Any]:
        read, write = await self._inner.__aenter__()
        return _WatchedReadStream(read, self._on_end), write

    async def __aexit__(self, *exc: Any) -> Any:
        return await self._inner.__aexit__(*exc)


class _WatchedReadStream:
    """A read stream that calls ``on_end`` when the server's messages stop (EOF or closed)."""

    def __init__(self, inner: Any, on_end: Any) -> None:
        self._inner = inner
        self._on_end = on_end

    def __getattr__(self, name: str) -> Any:  # e.g. ``last_context``
        return getattr(self._inner, name)

    async def receive(self) -> Any:
        import anyio

        try:
            return await self._inner.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            self._on_end()
            raise

    def __aiter__(self) -> _WatchedReadStream:
        return self

    async def __anext__(self) -> Any:
        import anyio

        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def __aenter__(self) -> _WatchedReadStream:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()
