"""Streaming reader for Chrome NetLog JSON files (chrome://net-export, ``--log-net-log``).

A NetLog is one JSON object ``{"constants": {...}, "events": [ ... ], "polledData": {...}}``
written incrementally by Chrome: one event per line, the closing ``]`` and ``}``
only when logging stops cleanly. Files can be hundreds of megabytes. A file in
Chrome's own layout is scanned by lines as bytes (``lines.py``): only the events
of the types the caller wants (``events(wanted)``) are decoded. Anything else, and
whatever the scan does not take (an unusual line, the keys after the events array,
a torn tail), is parsed element by element with ``json.JSONDecoder.raw_decode``
over 1 MiB chunks; memory holds one chunk, the constants and the caller's state.
A bounded-mode log (``--net-log-max-size-mb``) is stitched by ``bounded.py``.

A file that ends early (Chrome killed, crashed or still logging) yields every
complete event and sets ``NetLogStream.truncated`` with a warning; a file that
is not a NetLog at all raises ``InputError`` naming the file and the byte offset.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from tearline.analysis.evidence.netlog.bounded import PLACEHOLDER, open_netlog
from tearline.analysis.evidence.netlog.lines import LineScan, chrome_head
from tearline.analysis.evidence.netlog.state import as_int
from tearline.analysis.evidence.sourcefile import open_text, read_head

from tearline.errors import InputError

__all__ = ["NetLogStream"]

CHUNK = 1 << 20  # characters read per refill
MAX_VALUE = 64 << 20  # a single JSON value larger than this is garbage
_WS = " \t\r\n"
# given a NetLog's constants, the event type ids a reader wants (NetLogStream.events)
Wanted = Callable[[dict[str, Any]], frozenset[int]]


class _Buffer:
    """A growing window over a text stream with an absolute position for messages."""

    def __init__(self, fh: IO[str]) -> None:
        self.fh = fh
        self.text = ""
        self.pos = 0  # index into text
        self.base = 0  # absolute offset of text[0]
        self.eof = False

    @property
    def offset(self) -> int:
        return self.base + self.pos

    def more(self) -> bool:
        """Read another chunk; False at end of file."""
        if self.eof:
            return False
        chunk = self.fh.read(CHUNK)
        if not chunk:
            self.eof = True
            return False
        if self.pos > CHUNK:
            self.base += self.pos
            self.text = self.text[self.pos :]
            self.pos = 0
        self.text += chunk
        return True

    def skip_ws(self) -> bool:
        """Skip whitespace; False when the file ends first."""
        while True:
            while self.pos < len(self.text) and self.text[self.pos] in _WS:
                self.pos += 1
            if self.pos < len(self.text):
                return True
            if not self.more():
                return False

    def peek(self) -> str | None:
        return self.text[self.pos] if self.skip_ws() else None

    def expect(self, ch: str) -> bool:
        if self.peek() == ch:
            self.pos += 1
            return True
        return False

    def value(self, decoder: json.JSONDecoder) -> tuple[bool, Any]:
        """Decode one JSON value at the position: (True, value), or (False, None) if the file ends inside it."""
        if not self.skip_ws():
            return False, None
        while True:
            try:
                value, end = decoder.raw_decode(self.text, self.pos)
            except json.JSONDecodeError:
                # not enough text yet, or garbage: read more (up to MAX_VALUE) and retry
                if len(self.text) - self.pos < MAX_VALUE and self.more():
                    continue
                rest = self.text[self.pos :].strip()
                if self.eof and "\n" not in rest:
                    return False, None  # a torn last line: the writer stopped mid-value
                raise
            # a number at the end of a chunk may continue in the next one
            if end == len(self.text) and not self.eof and self.more():
                continue
            self.pos = end
            return True, value


class NetLogStream:
    """Iterate a NetLog's events; ``constants`` is available once ``events()`` has started.

    Usage::

        log = NetLogStream(path)
        for index, event in log.events():
            ...
        log.constants, log.truncated, log.warnings, log.polled
    """

    def __init__(self, path: str | os.PathLike[str], *, flag: str | None = "--netlog") -> None:
        self.path = path
        self.flag = flag
        self.constants: dict[str, Any] = {}
        self.truncated = False
        self.warnings: list[str] = []
        self.count = 0
        self.skipped = 0
        self.has_polled = False
        self.first_tick: int | None = None  # of every well-formed event with a source id, wanted or not
        self.last_tick: int | None = None
        self.wanted: frozenset[int] | None = None
        self._wanted_of: Wanted | None = None
        self._raw: IO[bytes] | None = None

    def _open(self) -> IO[str]:
        """The NetLog as one text stream, stitching a bounded-mode ``.inprogress`` directory if needed."""
        return open_netlog(self.path, self.flag, self.warnings)

    def _bad(self, buf: _Buffer, what: str) -> InputError:
        return InputError(
            f"not a Chrome NetLog: {what} at byte {buf.offset}",
            path=self.path,
            hint="pass a file from chrome://net-export or --log-net-log to --netlog",
        )

    def events(self, wanted: Wanted | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
        """Yield (index in the events array, event object) for every well-formed event.

        ``wanted``: given the constants, the event type ids the caller reads; an event whose type is
        another number is counted (``count``, ``first_tick``, ``last_tick``) but not yielded, and in
        Chrome's own layout not even decoded (``analysis/evidence/netlog/lines.py``).
        """
        decoder = json.JSONDecoder()
        self._wanted_of = wanted
        scan = self._scan()
        if scan is not None:
            try:
                yield from scan.events()
            finally:
                self._close_raw()
            self.count += scan.count
            self.skipped += scan.skipped
            self._tick(scan.first_tick)
            self._tick(scan.last_tick)
            with self._text_from(scan.offset) as fh:
                buf = _Buffer(fh)
                buf.base = scan.offset
                if scan.in_array:
                    yield from self._items(buf, decoder, scan.index)
                if self.truncated:
                    self._end(seen_events=True)
                else:
                    yield from self._top(buf, decoder, seen_events=True)
            return
        with self._open() as fh:
            buf = _Buffer(fh)
            if buf.peek() is None:
                raise InputError(
                    "empty file", path=self.path, hint="pass a Chrome NetLog JSON file to --netlog"
                )
            if not buf.expect("{"):
                raise self._bad(buf, "does not start with '{'")
            yield from self._top(buf, decoder, seen_events=False)

    def _scan(self) -> LineScan | None:
        """A scan of Chrome's own layout (constants read), or None for any other file."""
        p = Path(self.path)
        if not p.is_file():
            return None
        head = read_head(p, len(PLACEHOLDER), flag=self.flag)
        if not head.startswith(b'{"constants":'):
            return None
        with open(p, "rb") as fh:
            constants = chrome_head(fh)
            if constants is None or "logEventTypes" not in constants:
                return None
            offset = fh.tell()
        self._set_constants(constants)
        return LineScan(self._bytes_from(p, offset), offset, self.wanted)

    def _bytes_from(self, p: Path, offset: int) -> IO[bytes]:
        fh = open(p, "rb")  # noqa: SIM115 - closed by the scan's owner (_close)
        fh.seek(offset)
        self._raw = fh
        return fh

    def _close_raw(self) -> None:
        if self._raw is not None:
            self._raw.close()
            self._raw = None

    def _text_from(self, offset: int) -> IO[str]:
        """The file as text from byte ``offset`` (a line start) on, for the general parser."""
        fh = open_text(self.path, flag=self.flag)
        fh.seek(offset)  # UTF-8 has no decoder state between lines: a byte offset is a valid cookie
        return fh

    def _set_constants(self, value: dict[str, Any]) -> None:
        self.constants = value
        self.wanted = self._wanted_of(value) if self._wanted_of is not None else None

    def _tick(self, tick: int | None) -> None:
        if tick is None:
            return
        self.first_tick = tick if self.first_tick is None else min(self.first_tick, tick)
        self.last_tick = tick if self.last_tick is None else max(self.last_tick, tick)

    def _top(
        self, buf: _Buffer, decoder: json.JSONDecoder, *, seen_events: bool
    ) -> Iterator[tuple[int, dict[str, Any]]]:
        """The top-level object's keys, from just after its '{' (or after the events array)."""
        early: list[tuple[int, dict[str, Any]]] = []  # events seen before constants (unusual writers)
        while True:
            ch = buf.peek()
            if ch is None:
                if not seen_events or not self.constants:
                    break
                self._truncated("after the events array (no closing '}')")
                break
            if ch == "}":
                buf.pos += 1
                break
            if ch == ",":
                buf.pos += 1
                continue
            try:
                ok, key = buf.value(decoder)
            except json.JSONDecodeError:
                raise self._bad(buf, "a malformed key") from None
            if not ok:
                self._truncated("inside a top-level key")
                break
            if not isinstance(key, str) or not buf.expect(":"):
                raise self._bad(buf, 'expected a "key": value pair')
            if key == "events":
                seen_events = True
                if not buf.expect("["):
                    raise self._bad(buf, "'events' is not an array")
                for item in self._items(buf, decoder, 0):
                    if self.constants:
                        yield item
                    else:
                        early.append(item)
                if self.truncated:
                    break
                continue
            try:
                ok, value = buf.value(decoder)
            except json.JSONDecodeError:
                raise self._bad(buf, f"malformed JSON in {key!r}") from None
            if not ok:
                if key == "constants":
                    raise InputError(
                        "the file ends inside its constants block, before any event",
                        path=self.path,
                        hint="the NetLog was cut too early to be read; record it again",
                    )
                self._truncated(f"inside {key!r}")
                break
            if key == "constants":
                if not isinstance(value, dict) or "logEventTypes" not in value:
                    raise self._bad(buf, "'constants' lacks logEventTypes")
                self._set_constants(value)
                yield from (item for item in early if self._wants(item[1]))
                early.clear()
            elif key == "polledData":
                self.has_polled = True
        self._end(seen_events=seen_events)

    def _end(self, *, seen_events: bool) -> None:
        if not self.constants:
            raise InputError(
                "no 'constants' block: this JSON is not a Chrome NetLog",
                path=self.path,
                hint="pass a file from chrome://net-export or --log-net-log to --netlog",
            )
        if not seen_events:
            raise InputError("no 'events' array", path=self.path, hint="pass a complete Chrome NetLog")
        if self.skipped:
            self.warnings.append(f"{self.path}: {self.skipped} malformed event(s) skipped")

    def _truncated(self, where: str) -> None:
        if not self.truncated:
            self.truncated = True
            self.warnings.append(
                f"{self.path}: the NetLog ends {where} after {self.count} events "
                "(Chrome did not finish writing it: killed, crashed or still logging); events kept"
            )

    def _wants(self, event: dict[str, Any]) -> bool:
        """Whether the caller reads this event (an event type that is not a number always goes)."""
        kind = event.get("type")
        return self.wanted is None or type(kind) is not int or kind in self.wanted

    def _items(
        self, buf: _Buffer, decoder: json.JSONDecoder, index: int
    ) -> Iterator[tuple[int, dict[str, Any]]]:
        """The events array's items from the position (just after '[' or a whole item) on."""
        while True:
            ch = buf.peek()
            if ch is None:
                self._truncated("inside the events array")
                return
            if ch == "]":
                buf.pos += 1
                return
            if ch == ",":
                buf.pos += 1
                continue
            try:
                ok, value = buf.value(decoder)
            except json.JSONDecodeError:
                raise self._bad(buf, f"malformed event {index}") from None
            if not ok:
                self._truncated("mid-event")
                return
            if (
                isinstance(value, dict)
                and "type" in value
                and "time" in value
                and isinstance(value.get("source"), dict)
            ):
                self.count += 1
                if as_int(value["source"].get("id")) is not None:
                    self._tick(as_int(value.get("time")))
                if self._wants(value):
                    yield index, value
            else:
                self.skipped += 1
            index += 1
