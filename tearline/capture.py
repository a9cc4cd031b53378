"""The capture file: JSON Lines with a versioned header, written incrementally.

Layout::

    {"format": "tearline-capture", "version": 2, "tearline": "0.1.0", ...}   header
    {"type": "conn_open", "ts": ..., "mono": ..., ...}                          events
    ...
    {"type": "capture_end", ...}                                              footer (clean stop only)

``FORMAT_VERSION`` is independent of the package version. Older versions are
migrated on read by the functions in ``MIGRATIONS``; a newer version is refused
with a sentence that says what to do. A torn last line (the proxy was killed
mid-write) is dropped with a warning; any other malformed line is an
``InputError`` naming the file and line.

Version 2 lines are compact (short ids, relative times, defaults left out:
``tearline/capture_compact.py``); a file named ``*.gz`` or ``*.zst`` is compressed
(``tearline/compression.py``). Lines are parsed with orjson; ``read_capture(...,
totals=True)`` adds the data events up per stream (``tearline/capture_totals.py``).

The writer flushes to the OS at least every ``flush_interval`` seconds and on
``flush()`` (the recorder calls it at every stream end), so ``kill -9`` loses at
most the last interval and never leaves an unreadable file.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

import orjson

from tearline import __version__
from tearline.capture_compact import CompactDecoder, CompactEncoder, build_event
from tearline.capture_totals import TOTAL_TYPES, CompactTotals, StreamTotals, add_to_totals
from tearline.compression import TRUNCATED_ERRORS, open_read, open_write
from tearline.errors import InputError, UnsupportedVersion
from tearline.events import CaptureEnd, Event, event_to_dict

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MIGRATIONS",
    "Capture",
    "CaptureSink",
    "CaptureWriter",
    "make_header",
    "read_capture",
]

FORMAT_NAME = "tearline-capture"
FORMAT_VERSION = 2


# MIGRATIONS[n] turns a version-n line (header or event dict) into version n+1.
# Each takes and returns a dict; ``kind`` is "header" or "event".
def _v1_to_v2(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    """Version 2 only changed how lines are encoded (short ids, relative times, defaults left
    out: ``tearline/capture_compact.py``); a version-1 object is already what a decoded
    version-2 line is. The header says which version it now is."""
    if kind == "header":
        obj = {**obj, "version": 2}
    return obj


MIGRATIONS: dict[int, Callable[[dict[str, Any], str], dict[str, Any]]] = {1: _v1_to_v2}


def make_header(
    *,
    mode: list[str] | None = None,
    options: dict[str, Any] | None = None,
    started: float | None = None,
    mono_started: float | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The header line for a new capture."""
    header: dict[str, Any] = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "tearline": __version__,
        "started": time.time() if started is None else started,
        "mono_started": time.monotonic() if mono_started is None else mono_started,
        "mode": list(mode or []),
        "options": dict(options or {}),
    }
    header.update(extra)
    return header


class CaptureWriter:
    """Appends events to a capture file; safe against the process being killed.

    Use ``write()`` per event, ``flush()`` at stream ends and ``close()`` on a
    clean stop (writes the ``capture_end`` footer). Write errors (disk full) are
    counted, not raised: a recorder must not take the proxy down. Events are written
    in the compact encoding of the header's version (``tearline/capture_compact.py``);
    a path ending in ``.gz`` or ``.zst`` is compressed (``tearline/compression.py``).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        header: dict[str, Any],
        *,
        flush_interval: float = 0.1,
    ) -> None:
        self.path = Path(path)
        # readable by its owner only (it may hold payloads); the folder must exist (no mkdir -p)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        os.close(fd)
        self._fh: IO[bytes] | None = open_write(self.path)  # compressed by the file name
        self.flush_interval = flush_interval
        self.events = 0
        self.dropped = 0
        self._last_flush = time.monotonic()
        self._encoder: CompactEncoder | None = None
        if header.get("version", FORMAT_VERSION) >= 2:
            self._encoder = CompactEncoder(float(header["started"]), float(header["mono_started"]))
        self._write_line(header)
        self.flush()

    @property
    def closed(self) -> bool:
        return self._fh is None

    def _write_line(self, obj: dict[str, Any]) -> bool:
        if self._fh is None:
            return False
        try:
            try:
                line = orjson.dumps(obj) + b"\n"
            except TypeError:  # what orjson refuses (ints beyond 64 bits): the standard library
                line = (json.dumps(obj, separators=(",", ":"), ensure_ascii=False) + "\n").encode()
            self._fh.write(line)
        except (OSError, ValueError, TypeError):
            return False
        return True

    def write(self, event: Event) -> None:
        obj = self._encoder.encode(event) if self._encoder is not None else event_to_dict(event)
        if self._write_line(obj):
            self.events += 1
        else:
            self.dropped += 1
        if time.monotonic() - self._last_flush >= self.flush_interval:
            self.flush()

    def flush(self) -> None:
        self._last_flush = time.monotonic()
        if self._fh is None:
            return
        with contextlib.suppress(OSError, ValueError):
            self._fh.flush()

    def close(
        self,
        *,
        ts: float | None = None,
        mono: float | None = None,
        proxy_cost: dict[str, Any] | None = None,
    ) -> None:
        """Write the footer (with the recorder's ``proxy_cost`` figures, when given) and close."""
        if self._fh is None:
            return
        footer = CaptureEnd(
            ts=time.time() if ts is None else ts,
            mono=time.monotonic() if mono is None else mono,
            events=self.events,
            dropped_events=self.dropped,
            proxy_cost=proxy_cost,
        )
        self._write_line(self._encoder.encode(footer) if self._encoder is not None else event_to_dict(footer))
        with contextlib.suppress(OSError, ValueError):
            self._fh.close()
        self._fh = None


@dataclass
class Capture:
    """A capture read back: the (migrated) header, the events, and what the reader noticed."""

    path: Path
    header: dict[str, Any]
    events: list[Event] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    complete: bool = False  # the footer was present (clean stop)
    source_version: int = FORMAT_VERSION  # version the file was written in
    # read with totals=True: the data events (TOTAL_TYPES) added up per stream, not in ``events``
    totals: dict[str, StreamTotals] | None = None


class CaptureSink(Protocol):
    """Takes a capture's events in file order instead of ``Capture.events`` (``read_capture(sink=...)``),
    so a reader builds what it needs without a list of every event first."""

    def line(self, obj: dict[str, Any], decoder: CompactDecoder) -> bool:
        """A version-2 line object before decoding (``decoder`` knows the ids so far): True when the
        sink took it as its event, False (leaving ``obj`` unchanged) to have it decoded and built.
        ``ValueError`` for a damaged line."""
        ...

    def event(self, event: Event) -> None:
        """The next event, in file order."""
        ...


def _migrate(obj: dict[str, Any], version: int, kind: str) -> dict[str, Any]:
    while version < FORMAT_VERSION:
        obj = MIGRATIONS[version](obj, kind)
        version += 1
    return obj


def _check_header(path: Path, obj: Any) -> int:
    if not isinstance(obj, dict) or obj.get("format") != FORMAT_NAME:
        raise InputError(
            'not a tearline capture: the first line has no "format": "tearline-capture" header',
            path=path,
            line=1,
            hint="pass a file written by addons/ws_trace.py",
        )
    version = obj.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise InputError(
            f"the header's version is {version!r}, not a positive integer",
            path=path,
            line=1,
            hint="the file is damaged; re-record it",
        )
    if version > FORMAT_VERSION:
        raise UnsupportedVersion(
            f"capture format version {version} is newer than this tearline reads "
            f"(up to {FORMAT_VERSION}; written by tearline {obj.get('tearline', '?')})",
            path=path,
            line=1,
            hint="upgrade tearline (pip install -U tearline) to read it",
        )
    return version


def _loads(raw: bytes) -> Any:
    """One line's JSON (orjson; the standard library for what orjson refuses, e.g. NaN)."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw.decode("utf-8"))


_READ_ERRORS: tuple[type[BaseException], ...] = (OSError, *TRUNCATED_ERRORS)


def _open(p: Path) -> IO[bytes]:
    try:
        return open_read(p)
    except FileNotFoundError:
        raise InputError("no such file", path=p, hint="check the path") from None
    except IsADirectoryError:
        raise InputError("is a directory, not a capture file", path=p) from None
    except OSError as e:
        raise InputError(f"cannot open: {e.strerror}", path=p) from None


def _utf8_error(p: Path, n: int, raw: bytes) -> InputError | None:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return InputError(
            f"not UTF-8 text (byte {e.start})", path=p, line=n, hint="pass a tearline capture (.jsonl)"
        )
    return None


def read_capture(
    path: str | os.PathLike[str],
    *,
    strict_tail: bool = False,
    totals: bool = False,
    sink: CaptureSink | None = None,
) -> Capture:
    """Read a capture file (plain, ``.gz`` or ``.zst``), migrating older versions.

    ``sink``: hand every event to ``sink`` in file order instead of keeping it in
    ``Capture.events`` (which stays empty); version-2 lines are offered to ``sink.line`` first.

    ``totals``: add the data events (``ws_message``, ``body_chunk``, ``sse_event``) up per
    stream into ``Capture.totals`` instead of keeping them (``tearline/capture_totals.py``).

    A torn last line (no trailing newline and not valid JSON) is dropped with
    a warning unless ``strict_tail``. Raises ``InputError`` for anything else
    that is malformed, naming the file and line.
    """
    p = Path(path)
    warnings: list[str] = []
    with _open(p) as fh:
        lines = iter(fh)
        try:
            first = next(lines, None)
        except _READ_ERRORS as e:
            raise InputError(f"cannot read: {e}", path=p, hint="pass a tearline capture (.jsonl)") from None
        if first is None or not first.strip():
            raise InputError("empty file, no capture header", path=p, line=1, hint="re-record it")
        try:
            header_obj = _loads(first.rstrip(b"\n"))
        except UnicodeDecodeError as e:
            raise InputError(
                f"not UTF-8 text (byte {e.start})", path=p, hint="pass a tearline capture (.jsonl)"
            ) from None
        except (json.JSONDecodeError, ValueError):
            raise InputError(
                "the first line is not JSON", path=p, line=1, hint="pass a tearline capture (.jsonl)"
            ) from None
        version = _check_header(p, header_obj)
        cap = Capture(path=p, header=_migrate(header_obj, version, "header"), source_version=version)
        decoder = CompactDecoder(header_obj) if version >= 2 else None
        migrate = version < FORMAT_VERSION
        events = cap.events
        sums: dict[str, StreamTotals] | None = {} if totals else None
        cap.totals = sums
        fast = CompactTotals() if sums is not None and decoder is not None else None
        sink_line = sink.line if sink is not None and decoder is not None else None
        n = 1
        try:
            for n, raw in enumerate(lines, start=2):
                try:
                    obj = orjson.loads(raw)  # the trailing newline is whitespace to it
                except orjson.JSONDecodeError:
                    newline = raw.endswith(b"\n")
                    raw = raw.rstrip(b"\n")
                    if not raw.strip():
                        continue
                    bad = _utf8_error(p, n, raw)
                    if bad is not None:
                        raise bad from None
                    try:
                        obj = json.loads(raw.decode("utf-8"))
                    except json.JSONDecodeError as e:
                        if not newline and not strict_tail:  # only the last line can lack its newline
                            cap.warnings.append(
                                f"{p}:{n}: torn last line dropped (the proxy stopped mid-write)"
                            )
                            break
                        raise InputError(
                            f"not valid JSON ({e.msg} at column {e.colno})", path=p, line=n
                        ) from None
                if type(obj) is not dict:
                    raise InputError("an event must be a JSON object", path=p, line=n)
                if fast is not None and obj.get("type") in TOTAL_TYPES and fast.add(obj, n):
                    continue
                try:
                    if sink_line is not None and decoder is not None and sink_line(obj, decoder):
                        continue
                    if decoder is not None:
                        obj = decoder.decode(obj)
                    if migrate:
                        obj = _migrate(obj, version, "event")
                    if sums is not None and obj.get("type") in TOTAL_TYPES:
                        add_to_totals(sums, obj, n)
                        continue
                    event = build_event(obj)
                except (ValueError, TypeError, KeyError) as e:
                    raise InputError(
                        str(e), path=p, line=n, hint="the file is damaged or not a capture"
                    ) from None
                if type(event) is CaptureEnd:
                    cap.complete = True
                if sink is not None:
                    sink.event(event)
                else:
                    events.append(event)
        except TRUNCATED_ERRORS as e:
            warnings.append(f"{p}:{n + 1}: compressed data ends early ({e}); events up to there kept")
        if fast is not None and sums is not None and decoder is not None:
            try:
                fast.finish(decoder.stream_ids, decoder.started, sums)
            except ValueError as e:
                raise InputError(str(e), path=p, hint="the file is damaged or not a capture") from None
    cap.warnings.extend(warnings)
    if not cap.complete:
        cap.warnings.append(
            f"{p}: no capture_end footer: the proxy may still be recording, or it did not stop "
            "cleanly; the events written so far are kept"
        )
    return cap
