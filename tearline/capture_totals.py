"""Per-stream totals of a capture's data events, added up while reading instead of kept.

A long capture is mostly ``ws_message``, ``body_chunk`` and ``sse_event`` lines. A reader
that needs only how many there were, how many bytes each way and when the first and last
arrived (``tearline summary``) asks ``read_capture(path, totals=True)``: those lines are then
added to a ``StreamTotals`` per stream and never become event objects, which makes reading a
million-message capture several times faster. Every other event is read as usual.

``TOTAL_TYPES`` names the event types folded; ``StreamTotals`` the sums. Times (``first_data``,
``last_data``) are those of the first and last message or chunk in file order, as
``tearline.analysis.summary.frames.df_streams`` takes them from the events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["TOTAL_TYPES", "CompactTotals", "StreamTotals", "add_to_totals"]

TOTAL_TYPES = frozenset({"ws_message", "body_chunk", "sse_event"})


@dataclass(slots=True)
class StreamTotals:
    """What a stream's data events add up to."""

    client_messages: int = 0
    server_messages: int = 0
    client_bytes: int = 0
    server_bytes: int = 0
    chunks: int = 0
    sse_events: int = 0
    partial_events: int = 0
    first_data: float | None = None
    last_data: float | None = None
    first_line: int = 0  # file lines of first_data and last_data, to merge sums in file order
    last_line: int = 0

    def merge(self, other: StreamTotals) -> None:
        for k in ("client_messages", "server_messages", "client_bytes", "server_bytes", "chunks"):
            setattr(self, k, getattr(self, k) + getattr(other, k))
        self.sse_events += other.sse_events
        self.partial_events += other.partial_events
        if other.first_data is not None and (self.first_data is None or other.first_line < self.first_line):
            self.first_data, self.first_line = other.first_data, other.first_line
        if other.last_data is not None and (self.last_data is None or other.last_line > self.last_line):
            self.last_data, self.last_line = other.last_data, other.last_line


class CompactTotals:
    """The fast path for version-2 lines: a data event of a stream already named (its
    ``stream`` a number) and on the stream's own connection (no ``conn`` key) is folded
    straight from the line object, before any decoding; times stay relative until ``finish``.

    ``add`` returns False for anything else (the caller decodes the line and uses
    ``add_to_totals``), including anything malformed, so errors are raised there.
    """

    def __init__(self) -> None:
        # stream number -> [client msgs, server msgs, client bytes, server bytes, chunks,
        #                   sse events, partial events, first ts, first line, last ts, last line]
        self.sums: dict[int, list[Any]] = {}

    def add(self, obj: dict[str, Any], line: int) -> bool:
        stream = obj.get("stream")
        if type(stream) is not int or "conn" in obj:
            return False
        kind = obj.get("type")
        acc = self.sums.get(stream)
        if acc is None:
            acc = self.sums[stream] = [0, 0, 0, 0, 0, 0, 0, None, 0, None, 0]
        if kind == "sse_event":
            partial = obj.get("partial", False)
            if partial is True:
                acc[6] += 1
            elif partial is False:
                acc[5] += 1
            else:
                return False
            return True
        size = obj.get("size")
        ts = obj.get("ts")
        if type(size) is not int or type(ts) is not float:
            return False
        direction = obj.get("direction", "server" if kind == "body_chunk" else None)
        if direction == "server":
            acc[3] += size
            if kind == "ws_message":
                acc[1] += 1
        elif direction == "client":
            acc[2] += size
            if kind == "ws_message":
                acc[0] += 1
        else:
            return False
        if kind == "body_chunk":
            acc[4] += 1
        if acc[7] is None:
            acc[7] = ts
            acc[8] = line
        acc[9] = ts
        acc[10] = line
        return True

    def finish(self, stream_ids: list[str], started: float, totals: dict[str, StreamTotals]) -> None:
        """Merge into ``totals`` (keyed by full stream id, absolute times)."""
        for n, a in self.sums.items():
            t = StreamTotals(
                client_messages=a[0],
                server_messages=a[1],
                client_bytes=a[2],
                server_bytes=a[3],
                chunks=a[4],
                sse_events=a[5],
                partial_events=a[6],
                first_data=None if a[7] is None else started + a[7],
                first_line=a[8],
                last_data=None if a[9] is None else started + a[9],
                last_line=a[10],
            )
            if not 0 <= n < len(stream_ids):
                raise ValueError(f"stream {n} refers to no id seen before")
            sid = stream_ids[n]
            if sid in totals:
                totals[sid].merge(t)
            else:
                totals[sid] = t


def add_to_totals(totals: dict[str, StreamTotals], obj: dict[str, Any], line: int = 0) -> None:
    """Fold one data event (its version-1 object, already decoded) into ``totals``.

    Checks what the event classes would (a known direction, a numeric size) so a damaged
    line is still an error: ``ValueError``.
    """
    stream = obj.get("stream")
    if not isinstance(stream, str):
        return  # a data event outside any stream is counted nowhere, as df_streams does
    t = totals.get(stream)
    if t is None:
        t = totals[stream] = StreamTotals()
    kind = obj["type"]
    if kind == "sse_event":
        if obj.get("partial", False):
            t.partial_events += 1
        else:
            t.sse_events += 1
        return
    size = obj.get("size")
    if type(size) is not int:
        raise ValueError(f"{kind} event has a non-integer size: {size!r}")
    direction = obj.get("direction", "server" if kind == "body_chunk" else None)
    if direction == "server":
        t.server_bytes += size
        if kind == "ws_message":
            t.server_messages += 1
    elif direction == "client":
        t.client_bytes += size
        if kind == "ws_message":
            t.client_messages += 1
    else:
        raise ValueError(f"direction must be one of 'client', 'server', not {direction!r}")
    if kind == "body_chunk":
        t.chunks += 1
    ts = obj.get("ts")
    if not isinstance(ts, float | int) or isinstance(ts, bool):
        raise ValueError(f"{kind} event has a non-numeric ts: {ts!r}")
    if t.first_data is None:
        t.first_data = float(ts)
        t.first_line = line
    t.last_data = float(ts)
    t.last_line = line
