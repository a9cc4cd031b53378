"""Splitting a streamed body into the units faults count: SSE events, or whole chunks.

``SseSplitter.feed(data)`` returns the pieces of ``data`` in order; a piece
that ends an event carries that event's name and text (the whole event, also
the part that came in earlier chunks). Pure and incremental: an event split
across any number of chunks, CRLF or LF line ends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Piece", "SseSplitter", "sse_event_name"]

# an SSE event ends at a blank line
_BOUNDARY = re.compile(rb"\r\n\r\n|\n\n|\r\r|\r\n\n|\n\r\n")


@dataclass(frozen=True, kw_only=True, slots=True)
class Piece:
    """A slice of a chunk. ``complete``: it ends an event (``name``/``text`` of the whole event)."""

    data: bytes
    complete: bool
    name: str | None = None
    text: str | None = None


def sse_event_name(block: str) -> str:
    """The ``event:`` field of one SSE event block (``"message"`` when absent)."""
    name = "message"
    for line in block.splitlines():
        if line.startswith("event:"):
            name = line[6:].removeprefix(" ")
    return name


class SseSplitter:
    """Incremental SSE event boundary finder."""

    def __init__(self) -> None:
        self._pending = b""  # bytes of the current, unfinished event (already returned as pieces)

    @property
    def pending(self) -> bytes:
        """Bytes of the event still open (seen, not yet ended)."""
        return self._pending

    def feed(self, data: bytes) -> list[Piece]:
        pieces: list[Piece] = []
        buf = self._pending + data
        off = len(self._pending)  # data starts at buf[off]
        pos = 0  # start of the current event in buf
        start = 0  # start of the next piece in data
        search_from = max(0, off - 3)
        while (m := _BOUNDARY.search(buf, search_from)) is not None:
            end = m.end()
            text = buf[pos : m.start()].decode("utf-8", "replace")
            piece_end = end - off
            pieces.append(
                Piece(data=data[start:piece_end], complete=True, name=sse_event_name(text), text=text)
            )
            start = piece_end
            pos = search_from = end
        if start < len(data):
            pieces.append(Piece(data=data[start:], complete=False))
        self._pending = buf[pos:]
        return pieces
