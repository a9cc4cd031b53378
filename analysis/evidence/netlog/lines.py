"""The fast path of the NetLog reader: Chrome's own layout, read as bytes, one event per line.

Chrome writes a NetLog as ``{"constants": {...},`` on the first line, ``"events": [`` on the
second, then one event per line, each ending in ``,`` (the last one in ``],``), keys in the order
``params``, ``phase``, ``source``, ``time``, ``type``. So every event line ends in
``"time":"<ticks>","type":<number>}``: ``LineScan`` finds those tails with one regular expression
over a block of lines, keeps every event's time (for the first and last tick of the log) and
index, and parses with orjson only the lines whose event type the importer reads (``wanted``).
An event of another type is never decoded: no objects are built for it.

Anything else (a line without that tail, a line that does not start with ``{``, the end of the
events array, the end of the file, a torn last line) stops the scan at the start of that line;
``NetLogStream`` reads on from there with its general parser, which gives the same events and the
same one-line errors as it would have from the start.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from itertools import compress
from operator import itemgetter
from typing import IO, Any, cast

import orjson

__all__ = ["BLOCK", "LineScan", "chrome_head"]

BLOCK = 8 << 20  # bytes read per block (the block is cut at its last newline)
MAX_HEAD = 64 << 20  # a constants line longer than this is not Chrome's layout
# an event line's tail: its time, its type, and whether the events array ends on this line
_TAIL = re.compile(rb'"time":"(\d+)","type":(\d+)\}(\]?),?\n')
_EVENTS = b'"events": ['
_CLOSE = re.compile(rb"\}\],?\n")  # the end of the events array's last line
_TICK, _KIND, _CLOSED = itemgetter(0), itemgetter(1), itemgetter(2)
_OPEN, _COMMA, _BRACKET = ord("{"), ord(","), ord("]")


def chrome_head(fh: IO[bytes]) -> dict[str, Any] | None:
    """The constants of a NetLog in Chrome's layout, with ``fh`` at its first event line; None
    (``fh`` position undefined) when the file starts any other way."""
    first = fh.readline(MAX_HEAD)
    if not first.startswith(b'{"constants":') or not first.rstrip().endswith(b","):
        return None
    if fh.readline(64).strip() != _EVENTS:
        return None
    try:
        constants = orjson.loads(first[len(b'{"constants":') :].rstrip()[:-1])
    except orjson.JSONDecodeError:
        return None
    return constants if isinstance(constants, dict) else None


class LineScan:
    """Scan event lines from ``fh`` (at the first event line, byte ``offset``).

    ``events()`` yields ``(index, event)`` for the wanted ones; afterwards ``offset`` is where the
    scan stopped (the start of the first line it did not take), ``index`` the next event's index,
    ``in_array`` whether that is still inside the events array; ``count``, ``skipped``,
    ``first_tick`` and ``last_tick`` cover every event line it took.
    """

    def __init__(self, fh: IO[bytes], offset: int, wanted: frozenset[int] | None) -> None:
        self.fh = fh
        self.offset = offset
        self.wanted = None if wanted is None else frozenset(str(t).encode() for t in wanted)
        self.index = 0
        self.in_array = True
        self.count = 0
        self.skipped = 0
        self.first_tick: int | None = None
        self.last_tick: int | None = None

    def events(self) -> Iterator[tuple[int, dict[str, Any]]]:
        pending = b""
        while True:
            block = self.fh.read(BLOCK)
            if not block:
                return  # the rest (a torn or unterminated last line) is the general parser's
            data = pending + block
            cut = data.rfind(b"\n") + 1
            if not cut:
                pending = data
                continue
            pending = data[cut:]
            events, stopped = self._block(data, cut)
            yield from events
            if stopped:
                return
            self.offset += cut

    def _block(self, data: bytes, cut: int) -> tuple[list[tuple[int, dict[str, Any]]], bool]:
        """The wanted events of ``data[:cut]``, and True when the scan stopped inside it (``offset``
        moved there)."""
        tails = _TAIL.findall(data, 0, cut)
        if self._regular(data, cut, tails):
            return self._lines(data, cut, tails)
        end = _CLOSE.search(data, 0, cut)  # the array's last line: the lines up to it may be regular
        if end is not None:
            tails = _TAIL.findall(data, 0, end.end())
            if self._regular(data, end.end(), tails):
                return self._lines(data, end.end(), tails)
        return self._careful(data, cut)

    @staticmethod
    def _regular(data: bytes, cut: int, tails: list[tuple[bytes, bytes, bytes]]) -> bool:
        """One tail per line (a tail ends its line), every line an object, the array closed on the
        last line if at all: the common case, done with C loops."""
        lines = data.count(b"\n", 0, cut)
        return (
            len(tails) == lines
            and data.count(b"\n{", 0, cut) + (data[0] == _OPEN) == lines
            and not any(map(_CLOSED, tails[:-1]))
        )

    def _lines(
        self, data: bytes, cut: int, tails: list[tuple[bytes, bytes, bytes]]
    ) -> tuple[list[tuple[int, dict[str, Any]]], bool]:
        base = self.index
        lines = data[:cut].split(b"\n")
        hits: Iterable[int] = range(len(tails))
        if self.wanted is not None:  # the wanted lines' numbers, picked in C loops
            hits = compress(hits, map(self.wanted.__contains__, map(_KIND, tails)))
        out: list[tuple[int, dict[str, Any]]] = []
        loads = orjson.loads
        for i in hits:
            line = lines[i]
            if line[-1] == _COMMA:  # without the ',' (or '],') after it
                line = line[:-2] if line[-2] == _BRACKET else line[:-1]
            try:
                event = loads(line)
            except orjson.JSONDecodeError:
                try:
                    event = self._decode(line)
                except ValueError:  # not JSON: the general parser takes it from this line on
                    self._ticks(tails[:i])
                    self.count += i
                    self.index = base + i
                    self.offset += sum(map(len, lines[:i])) + i
                    return out, True
            if type(event) is dict and type(event.get("source")) is dict:
                out.append((base + i, event))
            else:
                self.skipped += 1
                self.count -= 1
        self._ticks(tails)
        self.count += len(tails)
        self.index = base + len(tails)
        if tails and tails[-1][2]:  # the events array ends on this block's last line
            self.in_array = False
            self.offset += data.rindex(b"]", 0, cut) + 1
            return out, True
        return out, False

    def _careful(self, data: bytes, cut: int) -> tuple[list[tuple[int, dict[str, Any]]], bool]:
        """Line by line, up to the first line that is not one of Chrome's event lines."""
        wanted = self.wanted
        start = 0  # start of the current line
        index = self.index
        ticks: list[tuple[bytes, bytes, bytes]] = []
        out: list[tuple[int, dict[str, Any]]] = []
        stopped = False
        for m in _TAIL.finditer(data, 0, cut):
            at = m.start()
            if data[start] != _OPEN or data.find(b"\n", start, at) >= 0:
                stopped = True  # this line is not one of Chrome's event lines
                break
            tail = cast(tuple[bytes, bytes, bytes], m.groups())
            kind, close = tail[1], tail[2]
            if wanted is None or kind in wanted:
                try:
                    event = self._decode(data[start : m.end(2) + 1])
                except ValueError:
                    stopped = True  # not JSON: the general parser says where and why
                    break
                if event is None:
                    self.skipped += 1
                else:
                    self.count += 1
                    out.append((index, event))
            else:
                self.count += 1
            ticks.append(tail)
            index += 1
            start = m.end()
            if close:
                self.in_array = False
                self.offset += m.end(3)  # just after the ']'
                self._ticks(ticks)
                self.index = index
                return out, True
        if start != cut:
            stopped = True
        self._ticks(ticks)
        self.index = index
        if stopped:
            self.offset += start
        return out, stopped

    def _ticks(self, tails: list[tuple[bytes, bytes, bytes]]) -> None:
        if not tails:
            return
        ticks = list(map(_TICK, tails))
        if min(map(len, ticks)) == max(map(len, ticks)):  # digits alike: compared as bytes, as numbers
            lo, hi = int(min(ticks)), int(max(ticks))
        else:
            values = list(map(int, ticks))
            lo, hi = min(values), max(values)
        self.first_tick = lo if self.first_tick is None else min(self.first_tick, lo)
        self.last_tick = hi if self.last_tick is None else max(self.last_tick, hi)

    @staticmethod
    def _decode(raw: bytes) -> dict[str, Any] | None:
        """One event line's object; None when it is not an event (the general parser's rule);
        ``ValueError`` when it is not JSON."""
        try:
            event = orjson.loads(raw)
        except orjson.JSONDecodeError:  # what the general parser reads: bad bytes replaced, NaN allowed
            event = json.loads(raw.decode("utf-8", errors="replace"))
        if isinstance(event, dict) and isinstance(event.get("source"), dict):
            return event
        return None
