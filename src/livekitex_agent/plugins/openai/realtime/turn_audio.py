"""The user's audio turns the server heard but nobody has transcribed yet.

A reconnect lands in a fresh server session, which knows the user's turns only from the history we
replay. A spoken turn without a transcript would be an empty message there; the audio we sent for it
is kept instead (until its transcript arrives) and replayed as ``input_audio``.
"""

from __future__ import annotations

import collections

from .protocol import SAMPLE_RATE

BYTES_PER_SECOND = SAMPLE_RATE * 2  # 24 kHz PCM16 mono


class TurnAudio:
    """Audio sent since the last commit, and the audio of the committed turns not transcribed yet.

    Chunks are kept as sent (no copy per chunk); both the open buffer (``max_seconds``) and the number
    of turns kept (``max_turns``) are bounded.
    """

    def __init__(self, *, max_seconds: float = 30.0, max_turns: int = 4) -> None:
        self._max_bytes = int(max_seconds * BYTES_PER_SECOND)
        self._max_turns = max_turns
        self._open: collections.deque[bytes] = collections.deque()
        self._open_bytes = 0
        self._turns: collections.OrderedDict[str, bytes] = collections.OrderedDict()

    def sent(self, chunk: bytes) -> None:
        """A chunk of PCM16 went to the server's input buffer."""
        self._open.append(chunk)
        self._open_bytes += len(chunk)
        while self._open_bytes > self._max_bytes and self._open:
            self._open_bytes -= len(self._open.popleft())

    def cleared(self) -> None:
        """The server's input buffer was emptied without a commit (clear, or a new connection)."""
        self._open.clear()
        self._open_bytes = 0

    def committed(self, item_id: str) -> None:
        """The server turned its input buffer into user item ``item_id``."""
        if self._open_bytes:
            self._turns[item_id] = b"".join(self._open)
            while len(self._turns) > self._max_turns:
                self._turns.popitem(last=False)
        self.cleared()

    def transcribed(self, item_id: str) -> None:
        """Item ``item_id`` has its transcript: the text is replayed from now on."""
        self._turns.pop(item_id, None)

    def get(self, item_id: str) -> bytes | None:
        return self._turns.get(item_id)

    @property
    def turns(self) -> dict[str, bytes]:
        return dict(self._turns)
