"""Keeping the server's conversation in step with our :class:`ChatContext` (pure functions)."""

from __future__ import annotations

import base64
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from ....chat import INSTRUCTIONS_ID, ChatItem, ChatMessage
from . import client_events as c

NO_AUDIO: Mapping[str, bytes] = {}


def sendable(item: ChatItem, audio: Mapping[str, bytes] = NO_AUDIO) -> bool:
    """Whether an item can be created on the server: not the instructions (they go in the session
    config), and not an empty message, unless it is a user audio turn whose audio we still hold."""
    if item.id == INSTRUCTIONS_ID:
        return False
    if isinstance(item, ChatMessage) and not item.content.strip():
        return item.role == "user" and item.id in audio
    return True


def item_wire(item: ChatItem, audio: Mapping[str, bytes] = NO_AUDIO) -> dict[str, Any]:
    """The GA conversation item for ``item``: an untranscribed user turn is sent as its audio."""
    pcm = audio.get(item.id) if isinstance(item, ChatMessage) and not item.content.strip() else None
    if pcm is None:
        return c.item_to_wire(item)
    return {"id": item.id, "type": "message", "role": "user",
            "content": [{"type": "input_audio", "audio": base64.b64encode(pcm).decode("ascii")}]}


def diff_history(
    local: Sequence[ChatItem], remote_ids: Iterable[str], keep: Collection[str] = (),
    audio: Mapping[str, bytes] = NO_AUDIO,
) -> tuple[list[tuple[ChatItem, str]], list[str]]:
    """What to send so the server holds ``local`` in order.

    Returns ``(creates, deletes)``: items to create, each with the ``previous_item_id`` to insert it
    after (``"root"`` for the start), and server item ids to delete. Server items named in ``keep``
    (e.g. the reply being generated) are never deleted.
    """
    remote = list(remote_ids)
    local_ids = {item.id for item in local}
    deletes = [rid for rid in remote if rid not in local_ids and rid not in keep]
    present = set(remote) - set(deletes)
    creates: list[tuple[ChatItem, str]] = []
    previous = "root"
    for item in local:
        if item.id in present:
            previous = item.id
            continue
        if not sendable(item, audio):
            continue
        creates.append((item, previous))
        present.add(item.id)
        previous = item.id
    return creates, deletes


def replay_items(local: Iterable[ChatItem], audio: Mapping[str, bytes] = NO_AUDIO) -> list[ChatItem]:
    """The items to re-create, in order, on a fresh server session."""
    return [item for item in local if sendable(item, audio)]
