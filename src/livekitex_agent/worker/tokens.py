"""Access tokens the framework mints: the least grants each use needs, and a short lifetime.

Tokens and the secret that signs them never reach logs or exception messages.
"""

from __future__ import annotations

import datetime

from livekit import api

WORKER_TOKEN_TTL = datetime.timedelta(minutes=5)  # only checked when the websocket is opened
ROOM_TOKEN_TTL = datetime.timedelta(minutes=10)  # only checked at join; the server refreshes it after


def worker_token(api_key: str, api_secret: str, ttl: datetime.timedelta = WORKER_TOKEN_TTL) -> str:
    """A token that only lets its holder register as an agent worker."""
    grants = api.VideoGrants(agent=True, can_publish=False, can_subscribe=False, can_publish_data=False)
    return api.AccessToken(api_key, api_secret).with_grants(grants).with_ttl(ttl).to_jwt()


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
    return token.to_jwt()
