"""The room token the playground page joins with, minted with the dev key.

A production front end never calls this endpoint: its own backend mints each user's token with the
server SDK (``livekit.api.AccessToken``; the same calls as :func:`playground_token`), after its own
authentication, and sends only the token (never the API secret) to the browser. To dispatch a named
agent it adds ``RoomConfiguration(agents=[RoomAgentDispatch(agent_name=...)])`` to the token (or
calls the AgentDispatch API); without it, a worker registered with no agent name is dispatched
automatically.
"""

from __future__ import annotations

import datetime
import re
import warnings

from jwt.warnings import InsecureKeyLengthWarning
from livekit import api

from ..errors import ConfigError

PLAYGROUND_TOKEN_TTL = datetime.timedelta(minutes=5)  # checked at join only: enough to connect
_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


def check_name(what: str, value: object, *, allow_empty: bool = False) -> str:
    """``value`` if it is a room/identity/agent name of 1-64 letters, digits, ``_ . -``; else ConfigError."""
    if not isinstance(value, str):
        raise ConfigError(f"{what} must be a string, got {value!r}")
    if (allow_empty and value == "") or _NAME_RE.fullmatch(value):
        return value
    raise ConfigError(f"{what} {value[:80]!r} must be 1-64 letters, digits, '_', '.' or '-'")


def playground_token(
    api_key: str,
    api_secret: str,
    *,
    room: str,
    identity: str,
    agent_name: str = "",
    ttl: datetime.timedelta = PLAYGROUND_TOKEN_TTL,
) -> str:
    """A token that lets one person join ``room`` (publish their microphone, send chat, subscribe).

    With ``agent_name`` the server dispatches that agent to the room when it is created.
    """
    check_name("room", room)
    check_name("identity", identity)
    check_name("agent name", agent_name, allow_empty=True)
    grants = api.VideoGrants(
        room_join=True, room=room, can_publish=True, can_subscribe=True, can_publish_data=True
    )
    token = (
        api.AccessToken(api_key, api_secret)
        .with_identity(identity)
        .with_name(identity)
        .with_grants(grants)
        .with_ttl(ttl)
    )
    if agent_name:
        token = token.with_room_config(
            api.RoomConfiguration(agents=[api.RoomAgentDispatch(agent_name=agent_name)])
        )
    with warnings.catch_warnings():  # a short dev key is said once at start, not on each token
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return token.to_jwt()
