"""Access tokens the framework mints: the least grants each use needs, and a short lifetime.

Tokens and the secret that signs them never reach logs or exception messages.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import warnings
from collections.abc import Iterator

from livekit import api

logger = logging.getLogger("livekitex_agent.worker")

MIN_SECRET_BYTES = 32  # what HMAC-SHA256 wants (RFC 7518 3.2); PyJWT warns below it
_weak_secret_said = False


def check_secret_strength(api_secret: str) -> None:
    """Say once per process, at start, when the signing secret is short (``livekit-server --dev``'s
    ``secret``); the tokens signed with it afterwards do not repeat it (PyJWT would, on each one)."""
    global _weak_secret_said
    size = len(api_secret.encode())
    if _weak_secret_said or size >= MIN_SECRET_BYTES:
        return
    _weak_secret_said = True
    logger.warning(
        "LIVEKIT_API_SECRET is %d bytes long: fine for a development server, too short for production "
        "(use at least %d random bytes)",
        size,
        MIN_SECRET_BYTES,
    )


def sign(token: api.AccessToken) -> str:
    """The signed JWT, without PyJWT's per-token warning about a short key (said once at start)."""
    with quiet_short_key_warning():
        return token.to_jwt()


@contextlib.contextmanager
def quiet_short_key_warning() -> Iterator[None]:
    """Around code that signs tokens itself (``api.LiveKitAPI`` calls): no per-token PyJWT warning."""
    from jwt.warnings import InsecureKeyLengthWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        yield

WORKER_TOKEN_TTL = datetime.timedelta(minutes=5)  # only checked when the websocket is opened
ROOM_TOKEN_TTL = datetime.timedelta(minutes=10)  # only checked at join; the server refreshes it after


def worker_token(api_key: str, api_secret: str, ttl: datetime.timedelta = WORKER_TOKEN_TTL) -> str:
    """A token that only lets its holder register as an agent worker."""
    grants = api.VideoGrants(agent=True, can_publish=False, can_subscribe=False, can_publish_data=False)
    return sign(api.AccessToken(api_key, api_secret).with_grants(grants).with_ttl(ttl))


def agent_room_token(
    api_key: str,
    api_secret: str,
    *,
    room: str,
    identity: str,
    name: str = "",
    metadata: str = "",
    attributes: dict[str, str] | None = None,
    ttl: datetime.timedelta = ROOM_TOKEN_TTL,
) -> str:
    """A token for an agent participant to join one room (``connect`` mode, where no server assigns one)."""
    grants = api.VideoGrants(
        room_join=True,
        room=room,
        can_publish=True,
        can_subscribe=True,
        can_publish_data=True,
        can_update_own_metadata=True,
    )
    token = (
        api.AccessToken(api_key, api_secret)
        .with_identity(identity)
        .with_kind("agent")
        .with_grants(grants)
        .with_ttl(ttl)
    )
    if name:
        token = token.with_name(name)
    if metadata:
        token = token.with_metadata(metadata)
    if attributes:
        token = token.with_attributes(attributes)
    return sign(token)
