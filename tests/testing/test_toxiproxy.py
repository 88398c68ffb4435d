"""The toxiproxy helper against the real toxiproxy-server: each toxic does to a TCP stream what it says."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from livekitex_agent.testing import Toxiproxy
from livekitex_agent.testing.toxiproxy import Proxy, ToxiproxyError


@pytest.fixture
async def echo_port() -> AsyncIterator[int]:
    """A TCP echo server on 127.0.0.1 (``bye`` is echoed, then it closes the connection)."""

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
                if data == b"bye":
                    break
        except ConnectionError:
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


@pytest.fixture
async def proxy(toxiproxy: Toxiproxy, echo_port: int) -> Proxy:
    return await toxiproxy.create_proxy("echo", upstream=f"127.0.0.1:{echo_port}")


async def connect(proxy: Proxy) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(proxy.host, proxy.port)


async def round_trip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, data: bytes) -> bytes:
    writer.write(data)
    await writer.drain()
    async with asyncio.timeout(3):
        return await reader.readexactly(len(data))


async def test_a_proxy_forwards_bytes_both_ways(toxiproxy: Toxiproxy, proxy: Proxy) -> None:
    assert proxy.host == "127.0.0.1" and proxy.port > 0
    reader, writer = await connect(proxy)
    assert await round_trip(reader, writer, b"hello") == b"hello"
    writer.close()
    assert await toxiproxy.version() == "2.12.0"


async def test_latency_delays_each_chunk_until_removed(proxy: Proxy) -> None:
    reader, writer = await connect(proxy)
    loop = asyncio.get_running_loop()
    await proxy.latency(200)
    t0 = loop.time()
    assert await round_trip(reader, writer, b"slow") == b"slow"
    assert loop.time() - t0 >= 0.19
    await proxy.remove_toxic("latency_downstream")
    t0 = loop.time()
    assert await round_trip(reader, writer, b"fast") == b"fast"
    assert loop.time() - t0 < 0.15
    writer.close()


async def test_timeout_zero_stalls_the_stream_without_closing_it(proxy: Proxy) -> None:
    reader, writer = await connect(proxy)
    assert await round_trip(reader, writer, b"before") == b"before"
    await proxy.timeout(0)
    writer.write(b"lost")
    await writer.drain()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.4):
            await reader.read(1)  # nothing arrives, and the connection is not closed either
    assert not reader.at_eof()
    assert [t.type for t in await proxy.toxics()] == ["timeout"]
    await proxy.remove_toxics()  # toxiproxy closes what the toxic stalled; new connections flow
    async with asyncio.timeout(3):
        assert await reader.read() == b""
    writer.close()
    reader, writer = await connect(proxy)
    assert await round_trip(reader, writer, b"after") == b"after"
    writer.close()


async def test_reset_peer_cuts_the_connection_at_the_next_bytes(proxy: Proxy) -> None:
    reader, writer = await connect(proxy)
    await proxy.reset_peer(stream="upstream")
    writer.write(b"cut")
    await writer.drain()
    async with asyncio.timeout(3):
        try:
            data = await reader.read(100)
        except ConnectionResetError:
            data = b""
    assert data == b""  # nothing echoed: the connection is gone
    writer.close()


async def test_limit_data_truncates_the_stream_then_closes_it(proxy: Proxy) -> None:
    reader, writer = await connect(proxy)
    await proxy.limit_data(10)
    writer.write(b"0123456789abcdefghij")
    await writer.drain()
    async with asyncio.timeout(3):
        received = await reader.read()  # until EOF
    assert received == b"0123456789"
    writer.close()


async def test_slow_close_delays_the_end_of_the_stream(proxy: Proxy) -> None:
    reader, writer = await connect(proxy)
    await proxy.slow_close(300)
    loop = asyncio.get_running_loop()
    writer.write(b"bye")  # echoed, then the server closes the connection
    async with asyncio.timeout(3):
        assert await reader.readexactly(3) == b"bye"
        t0 = loop.time()
        assert await reader.read() == b""
    assert loop.time() - t0 >= 0.25
    writer.close()


async def test_disable_refuses_connections_until_enabled(proxy: Proxy) -> None:
    reader, writer = await connect(proxy)
    await proxy.disable()
    async with asyncio.timeout(3):
        try:
            assert await reader.read(100) == b""  # the open connection was closed
        except ConnectionResetError:
            pass
    writer.close()
    with pytest.raises(ConnectionRefusedError):
        await connect(proxy)
    await proxy.enable()
    reader, writer = await connect(proxy)
    assert await round_trip(reader, writer, b"back") == b"back"
    writer.close()


async def test_a_bad_toxic_is_refused_with_the_api_answer(proxy: Proxy) -> None:
    with pytest.raises(ToxiproxyError, match="nonsense"):
        await proxy.add_toxic("nonsense", stream="downstream")  # type: ignore[arg-type]


async def test_aclose_stops_the_server_it_started(echo_port: int) -> None:
    toxiproxy = await Toxiproxy.start()
    proxy = await toxiproxy.create_proxy("gone", upstream=f"127.0.0.1:{echo_port}")
    await toxiproxy.aclose()
    assert toxiproxy.process.returncode is not None
    with pytest.raises(ConnectionRefusedError):
        await connect(proxy)
    await toxiproxy.aclose()  # twice is fine
