"""Who may get a room token from the playground: the pure checks of peer, Host, Origin, Sec-Fetch-Site."""

from __future__ import annotations

import pytest

from livekitex_agent.playground import is_loopback_host, token_request_problem
from livekitex_agent.playground.guard import split_host_port

PORT = 8081
OK = {"peer": "127.0.0.1", "host_header": f"127.0.0.1:{PORT}", "origin": None, "fetch_site": None}


def problem(**changes: str | None) -> str:
    return token_request_problem(**{**OK, **changes}, port=PORT)  # type: ignore[arg-type]


@pytest.mark.parametrize("host", ["127.0.0.1", "127.3.2.1", "::1", "[::1]", "localhost", "LOCALHOST"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback_host(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "10.0.0.1", "192.168.1.2", "evil.example", "localhost.evil", ""])
def test_other_hosts(host: str) -> None:
    assert not is_loopback_host(host)


def test_split_host_port() -> None:
    assert split_host_port("127.0.0.1:8081") == ("127.0.0.1", 8081)
    assert split_host_port("[::1]:80") == ("::1", 80)
    assert split_host_port("[::1]") == ("::1", None)
    assert split_host_port("localhost") == ("localhost", None)
    assert split_host_port("localhost:x")[1] == -1


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"host_header": f"localhost:{PORT}"},
        {"host_header": f"[::1]:{PORT}", "peer": "::1"},
        {"origin": f"http://localhost:{PORT}", "fetch_site": "same-origin"},
        {"origin": f"http://127.0.0.1:{PORT}"},
    ],
)
def test_the_page_on_this_machine_is_answered(changes: dict[str, str]) -> None:
    assert problem(**changes) == ""


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"peer": "192.168.1.20"}, "192.168.1.20"),  # another machine (the server bound to 0.0.0.0)
        ({"peer": None}, "None"),
        ({"host_header": None}, "no Host header"),
        ({"host_header": f"rebind.example:{PORT}"}, "rebind.example"),  # DNS rebinding
        ({"host_header": "127.0.0.1:9999"}, "127.0.0.1:9999"),  # another local service's name
        ({"origin": "https://evil.example"}, "https://evil.example"),  # another site's page
        ({"origin": "http://localhost:3000"}, "http://localhost:3000"),  # another local page
        ({"origin": f"https://localhost:{PORT}"}, f"https://localhost:{PORT}"),
        ({"origin": "null"}, "'null'"),  # sandboxed frames, file:// pages
        ({"fetch_site": "cross-site"}, "cross-site"),
        ({"fetch_site": "same-site"}, "same-site"),
    ],
)
def test_refusals_name_the_reason(changes: dict[str, str | None], named: str) -> None:
    assert named in problem(**changes)
