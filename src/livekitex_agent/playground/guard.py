"""Who may ask the playground for a room token: pure checks of a request's peer and headers.

The token endpoint signs with the worker's API secret, so it answers only a page that this machine
serves to a browser on this machine: the peer address is loopback, the ``Host`` header names a
loopback host (a DNS-rebinding page would send its own name), and the browser's ``Origin`` (and
``Sec-Fetch-Site`` when sent) say the request comes from the playground's own origin.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

LOOPBACK_NAMES = frozenset({"localhost", "localhost."})


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and any loopback IP address (``127.0.0.0/8``, ``::1``)."""
    host = host.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def split_host_port(value: str) -> tuple[str, int | None]:
    """``"127.0.0.1:8081"`` → ``("127.0.0.1", 8081)``; ``"[::1]"`` → ``("::1", None)``; bad port → -1."""
    value = value.strip()
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return value, -1
        host, rest = value[1:end], value[end + 1 :]
    elif value.count(":") == 1:
        host, _, port = value.partition(":")
        rest = ":" + port
    else:
        host, rest = value, ""
    if not rest:
        return host, None
    if not rest.startswith(":") or not rest[1:].isdigit():
        return host, -1
    return host, int(rest[1:])


def token_request_problem(
    *, peer: str | None, host_header: str | None, origin: str | None, fetch_site: str | None, port: int
) -> str:
    """Why a token request must be refused ("" when it may be answered).

    ``peer`` is the client's address, ``port`` the port the playground is served on; ``origin`` and
    ``fetch_site`` are the ``Origin`` and ``Sec-Fetch-Site`` headers (absent for non-browser clients
    on this machine, which may read the dev key anyway).
    """
    if not peer or not is_loopback_host(peer):
        return f"the token endpoint only answers this machine, not {peer!r}"
    if not host_header:
        return "the request has no Host header"
    host, host_port = split_host_port(host_header)
    if not is_loopback_host(host) or host_port not in (None, port):
        return f"Host {host_header!r} is not this playground (a loopback host on port {port})"
    if origin is not None:
        parts = urlsplit(origin)
        try:
            origin_port = parts.port
        except ValueError:
            origin_port = -1
        if parts.scheme != "http" or not is_loopback_host(parts.hostname or "") or origin_port != port:
            return f"Origin {origin!r} is not this playground (http://localhost:{port})"
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return f"Sec-Fetch-Site {fetch_site!r}: only the playground's own page may ask for a token"
    return ""
