"""Keeping the server's conversation in step with our :class:`ChatContext` (pure functions)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

from ....chat import INSTRUCTIONS_ID, ChatItem, ChatMessage


def sendable(item: ChatItem) -> bool:
    """Whether an item can be created on the server: not the instructions (they go in the session
    config), and not an empty message (a user audio turn without transcript cannot be re-sent)."""
    if item.id == INSTRUCTIONS_ID:
        return False
    return not (isinstance(item, ChatMessage) and not item.content.strip())


def diff_history(
    local: Sequence[ChatItem], remote_ids: Iterable[str], keep: Collection[str] = ()
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
        if not sendable(item):
            continue
        creates.append((item, previous))
        present.add(item.id)
        previous = item.id
    return creates, deletes


def replay_items(local: Iterable[ChatItem]) -> list[ChatItem]:
    """The items to re-create, in order, on a fresh server session."""
    return [item for item in local if sendable(item)]
