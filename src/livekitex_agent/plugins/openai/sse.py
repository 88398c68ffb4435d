"""Server-sent events: an incremental, pure decoder of ``text/event-stream`` bytes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SSEEvent:
    data: str
    event: str = "message"
    id: str | None = None


class SSEDecoder:
    """Feed raw bytes as they arrive; get complete events back.

    Handles ``\\n``, ``\\r\\n`` and ``\\r`` line ends, multi-line ``data:``, comments (``: ping``)
    and UTF-8 characters split across network chunks.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._data: list[str] = []
        self._event = ""
        self._id: str | None = None

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        self._buf += chunk
        events: list[SSEEvent] = []
        while True:
            line = self._next_line()
            if line is None:
                return events
            event = self._handle_line(line)
            if event is not None:
                events.append(event)

    def flush(self) -> list[SSEEvent]:
        """End of stream: dispatch a last event that had no blank line after it."""
        events: list[SSEEvent] = []
        if self._buf:
            rest = bytes(self._buf)
            self._buf.clear()
            for line in rest.decode("utf-8", "replace").splitlines():
                event = self._handle_line(line)
                if event is not None:
                    events.append(event)
        event = self._handle_line("")
        if event is not None:
            events.append(event)
        return events

    def _next_line(self) -> str | None:
        buf = self._buf
        lf, cr = buf.find(b"\n"), buf.find(b"\r")
        if lf < 0 and cr < 0:
            return None
        if cr < 0 or 0 <= lf < cr:
            i, end = lf, lf + 1
        else:
            if cr + 1 >= len(buf):
                return None  # wait: this may be the first half of \r\n
            i, end = cr, (cr + 2 if buf[cr + 1] == 0x0A else cr + 1)
        line = bytes(buf[:i]).decode("utf-8", "replace")
        del buf[:end]
        return line

    def _handle_line(self, line: str) -> SSEEvent | None:
        if not line:
            if not self._data:
                self._event = ""
                return None
            event = SSEEvent(data="\n".join(self._data), event=self._event or "message", id=self._id)
            self._data = []
            self._event = ""
            return event
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            self._id = value
        return None
