"""Tools from real MCP servers (the official SDK, stdio and streamable HTTP) inside a session turn."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from livekitex_agent import Agent, function_tool
from livekitex_agent.session import AgentSession
from livekitex_agent.testing import FakeLLM, FakeLLMResponse, FakeToolCall
from livekitex_agent.tools import mcp as mcp_tools
from livekitex_agent.tools.mcp import MCPConnectionError, MCPServerHTTP, MCPServerStdio

SERVER_SCRIPT = Path(__file__).with_name("mcp_calc_server.py")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _mcp_tasks() -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("mcp:") and not t.done()]


async def test_stdio_server_tools_are_called_in_a_turn_validated_and_the_server_reconnects_after_a_crash() -> None:
    server = MCPServerStdio(sys.executable, [str(SERVER_SCRIPT)], tool_timeout=20.0)
    llm = FakeLLM(
        [
            FakeLLMResponse(tool_calls=[FakeToolCall("add", {"a": 2, "b": 3}), FakeToolCall("pid", {})]),
            "Two and three make five.",
            FakeLLMResponse(
                tool_calls=[FakeToolCall("add", {"a": "two", "b": 3}), FakeToolCall("divide", {"a": 1, "b": 0})]
            ),
            "I could not do that.",
            FakeLLMResponse(tool_calls=[FakeToolCall("crash", {})]),
            "The calculator crashed.",
            FakeLLMResponse(tool_calls=[FakeToolCall("add", {"a": 40, "b": 2})]),
            "Forty-two.",
        ]
    )
    agent = Agent("You add numbers.", mcp_servers=[server])
    session = AgentSession(llm=llm)
    await session.start(agent)
    try:
        # the LLM sees the server's tools with their JSON schemas, like our own tools
        assert {"add", "divide", "pid", "crash"} <= set(agent.tool_registry.names())
        add = agent.tool_registry["add"].to_dict()
        assert add["description"] == "Add two whole numbers."
        assert add["parameters"]["properties"] == {"a": {"type": "integer"}, "b": {"type": "integer"}}
        assert add["parameters"]["required"] == ["a", "b"]

        result = await session.run(user_input="What is two plus three?")
        assert "add" in llm.requests[0].tools
        outputs = result.function_outputs
        assert [(o.name, o.output, o.is_error) for o in outputs][0] == ("add", "5", False)
        server_pid = int(outputs[1].output)
        assert _alive(server_pid)
        assert result.reply == "Two and three make five."

        # arguments are checked against the server's schema before the call; the server's own error
        # comes back as a result the LLM reads
        result = await session.run(user_input="Two plus three, then one over zero.")
        bad_args, server_error = result.function_outputs
        assert bad_args.is_error and "a: 'two' is not of type 'integer'" in bad_args.output
        assert server_error.is_error and "divide" in server_error.output

        # the server dies in the middle of a call: the LLM reads that, and the next call reconnects
        result = await session.run(user_input="Crash.")
        (crashed,) = result.function_outputs
        assert crashed.is_error and "closed the connection" in crashed.output
        result = await session.run(user_input="Forty plus two?")
        assert [o.output for o in result.function_outputs] == ["42"]
        assert server.connections == 2
    finally:
        await session.aclose()
    # closed with the session: no subprocess, no task left
    assert not _alive(server_pid)
    assert not server.connected and not _mcp_tasks()
    assert "add" not in agent.tool_registry


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def _http_server(port: int) -> AsyncIterator[None]:
    import uvicorn

    sys.path.insert(0, str(SERVER_SCRIPT.parent))
    try:
        import mcp_calc_server
    finally:
        sys.path.remove(str(SERVER_SCRIPT.parent))
    app = mcp_calc_server.server.streamable_http_app()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    task = asyncio.get_running_loop().create_task(server.serve())
    try:
        async with asyncio.timeout(10):
            while not server.started:  # noqa: ASYNC110 - uvicorn has no started event
                await asyncio.sleep(0.01)
        yield
    finally:
        server.should_exit = True
        await task


class Calculator(Agent):
    def __init__(self, server: MCPServerHTTP) -> None:
        super().__init__("You add numbers.", mcp_servers=[server])

    @function_tool
    async def add(self, a: int, b: int) -> str:
        """Our own add, which the server's must not replace."""
        return "local"


async def test_http_server_tools_beside_the_agents_own_and_a_restarted_server_is_reconnected(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = _free_port()
    server = MCPServerHTTP(
        f"http://127.0.0.1:{port}/mcp", headers={"Authorization": "Bearer sk-test-0123456789"},
        tool_prefix="calc_", reconnect_delay=(0.05, 0.2), tool_timeout=0.5,
    )
    llm = FakeLLM(
        [
            FakeLLMResponse(tool_calls=[FakeToolCall("calc_add", {"a": 1, "b": 2}), FakeToolCall("add", {"a": 1, "b": 2})]),
            "Three.",
            FakeLLMResponse(tool_calls=[FakeToolCall("calc_wait", {"seconds": 3})]),
            "That took too long.",
            FakeLLMResponse(tool_calls=[FakeToolCall("calc_add", {"a": 4, "b": 4})]),
            "The calculator is down.",
            FakeLLMResponse(tool_calls=[FakeToolCall("calc_add", {"a": 5, "b": 5})]),
            "Ten.",
        ]
    )
    agent = Calculator(server)
    session = AgentSession(llm=llm)
    caplog.set_level(logging.DEBUG, logger="livekitex_agent")
    try:
        async with _http_server(port):
            await session.start(agent)
            result = await session.run(user_input="One plus two?")
            assert [(o.name, o.output) for o in result.function_outputs] == [("calc_add", "3"), ("add", "local")]
            # the executor's timeout bounds an MCP call like any tool's
            result = await session.run(user_input="Wait three seconds.")
            (slow,) = result.function_outputs
            assert slow.is_error and slow.output == "The tool 'calc_wait' timed out after 0.5 seconds."
        # the server went away: the call fails as a result the LLM reads ...
        result = await session.run(user_input="Four plus four?")
        (down,) = result.function_outputs
        assert down.is_error and f"127.0.0.1:{port}" in down.output
        # ... and once it is back on the same address, the next call reconnects
        async with _http_server(port):
            result = await session.run(user_input="Five plus five?")
            assert [o.output for o in result.function_outputs] == ["10"]
            assert server.connections == 2
    finally:
        await session.aclose()
    assert not _mcp_tasks()
    assert "sk-test-0123456789" not in caplog.text


async def test_an_unreachable_server_is_an_error_event_and_the_session_goes_on() -> None:
    server = MCPServerHTTP(f"http://127.0.0.1:{_free_port()}/mcp", connect_timeout=0.3, reconnect_delay=(0.05, 0.1))
    errors: list[object] = []
    session = AgentSession(llm=FakeLLM(["Hello."]))
    session.on("error", lambda e: errors.append(e))
    await session.start(Agent("Hi.", mcp_servers=[server]))
    try:
        assert len(errors) == 1
        assert errors[0].source == "mcp" and isinstance(errors[0].error, MCPConnectionError)  # type: ignore[attr-defined]
        assert server.name in str(errors[0].error)  # type: ignore[attr-defined]
        assert (await session.run(user_input="Hi")).reply == "Hello."
    finally:
        await session.aclose()
    assert not _mcp_tasks()


def test_without_the_sdk_the_error_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mcp_tools.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match=r"pip install 'livekitex-agent\[mcp\]'"):
        MCPServerStdio("server")


def test_bad_server_options_name_the_value() -> None:
    with pytest.raises(ValueError, match="'ftp://x'"):
        MCPServerHTTP("ftp://x")
    with pytest.raises(TypeError, match="the string 'a b'"):
        MCPServerStdio("python", "a b")  # type: ignore[arg-type]
    with pytest.raises(Exception, match="mcp_servers item must be a MCPServer"):
        Agent("x", mcp_servers=["python server.py"])  # type: ignore[list-item]


def test_secret_headers_and_env_values_never_reach_our_logs(caplog: pytest.LogCaptureFixture) -> None:
    token, password = "mcp-token-Zq81xPw0LmV3", "db-password-77Hn2Kq"
    MCPServerHTTP("http://127.0.0.1:9/mcp", headers={"Authorization": f"Bearer {token}", "Accept": "text/plain"})
    MCPServerStdio("mcp-db", env={"DB_PASSWORD": password, "LANG": "C.UTF-8"})
    log = logging.getLogger("livekitex_agent.tools.mcp")
    with caplog.at_level(logging.INFO, logger="livekitex_agent"):
        log.info("server said: unauthorized for %s (%s), db login %s failed", token, f"Bearer {token}", password)
        log.info("content types: text/plain, locale C.UTF-8")
    assert token not in caplog.text and password not in caplog.text
    assert "content types: text/plain, locale C.UTF-8" in caplog.text  # ordinary values are left alone
