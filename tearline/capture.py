"""The capture file: JSON Lines with a versioned header, written incrementally.

Layout::

    {"format": "tearline-capture", "version": 1, "tearline": "0.1.0", ...}   header
    {"type": "conn_open", "ts": ..., "mono": ..., ...}                          events
    ...
    {"type": "capture_end", ...}                                              footer (clean stop only)

``FORMAT_VERSION`` is independent of the package version. Older versions are
migrated on read by the functions in ``MIGRATIONS``; a newer version is refused
with a sentence that says what to do. A torn last line (the proxy was killed
mid-write) is dropped with a warning; any other malformed line is an
``InputError`` naming the file and line.

The writer flushes to the OS at least every ``flush_interval`` seconds and on
``flush()`` (the recorder calls it at every stream end), so ``kill -9`` loses at
most the last interval and never leaves an unreadable file.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from tearline import __version__
from tearline.errors import InputError, UnsupportedVersion
from tearline.events import CaptureEnd, Event, event_from_dict, event_to_dict

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MIGRATIONS",
    "Capture",
    "CaptureWriter",
    "make_header",
    "read_capture",
]

FORMAT_NAME = "tearline-capture"
FORMAT_VERSION = 1

# MIGRATIONS[n] turns a version-n line (header or event dict) into version n+1.
# Each takes and returns a dict; ``kind`` is "header" or "event".
MIGRATIONS: dict[int, Callable[[dict[str, Any], str], dict[str, Any]]] = {}


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
    counted, not raised: a recorder must not take the proxy down.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        header: dict[str, Any],
        *,
        flush_interval: float = 0.1,
    ) -> None:
        self.path = Path(path)
        # readable by its owner only (it may hold payloads); the folder must exist
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        self._fh: IO[str] | None = open(fd, "w", encoding="utf-8", newline="\n")  # noqa: SIM115
        self.flush_interval = flush_interval
        self.events = 0
        self.dropped = 0
        self._last_flush = time.monotonic()
        self._write_line(header)
        self.flush()

    @property
    def closed(self) -> bool:
        return self._fh is None

    def _write_line(self, obj: dict[str, Any]) -> bool:
        if self._fh is None:
            return False
        try:
            self._fh.write(json.dumps(obj, separators=(",", ":"), ensure_ascii=False) + "\n")
        except (OSError, ValueError, TypeError):
            return False
        return True

    def write(self, event: Event) -> None:
        if self._write_line(event_to_dict(event)):
            self.events += 1
        else:
            self.dropped += 1
        if time.monotonic() - self._last_flush >= self.flush_interval:
            self.flush()

    def flush(self) -> None:
        self._last_flush = time.monotonic()
        if self._fh is None:
            return
        with contextlib.suppress(OSError):
            self._fh.flush()

    def close(self, *, ts: float | None = None, mono: float | None = None) -> None:
        if self._fh is None:
            return
        footer = CaptureEnd(
            ts=time.time() if ts is None else ts,
            mono=time.monotonic() if mono is None else mono,
            events=self.events,
            dropped_events=self.dropped,
        )
        self._write_line(event_to_dict(footer))
        with contextlib.suppress(OSError):
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


def _lines(fh: IO[str]) -> Iterator[tuple[int, str, bool]]:
    """(line number, text, ended with a newline)."""
    for n, raw in enumerate(fh, start=1):
        yield n, raw.rstrip("\n"), raw.endswith("\n")


def read_capture(path: str | os.PathLike[str], *, strict_tail: bool = False) -> Capture:
    """Read a capture file, migrating older versions.

    A torn last line (no trailing newline and not valid JSON) is dropped with
    a warning unless ``strict_tail``. Raises ``InputError`` for anything else
    that is malformed, naming the file and line.
    """
    p = Path(path)
    try:
        fh = open(p, encoding="utf-8")  # noqa: SIM115
    except FileNotFoundError:
        raise InputError("no such file", path=p, hint="check the path") from None
    except IsADirectoryError:
        raise InputError("is a directory, not a capture file", path=p) from None
    except OSError as e:
        raise InputError(f"cannot open: {e.strerror}", path=p) from None
    with fh:
        try:
            lines = list(_lines(fh))
        except UnicodeDecodeError as e:
            raise InputError(
                f"not UTF-8 text (byte {e.start})", path=p, hint="pass a tearline capture (.jsonl)"
            ) from None
    if not lines or not lines[0][1].strip():
        raise InputError("empty file, no capture header", path=p, line=1, hint="re-record it")
    try:
        header_obj = json.loads(lines[0][1])
    except json.JSONDecodeError:
        raise InputError(
            "the first line is not JSON", path=p, line=1, hint="pass a tearline capture (.jsonl)"
        ) from None
    version = _check_header(p, header_obj)
    cap = Capture(path=p, header=_migrate(header_obj, version, "header"), source_version=version)
    last = len(lines)
    for n, text, newline in lines[1:]:
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as e:
            if n == last and not newline and not strict_tail:
                cap.warnings.append(f"{p}:{n}: torn last line dropped (the proxy stopped mid-write)")
                break
            raise InputError(f"not valid JSON ({e.msg} at column {e.colno})", path=p, line=n) from None
        if not isinstance(obj, dict):
            raise InputError("an event must be a JSON object", path=p, line=n)
        try:
            event = event_from_dict(_migrate(obj, version, "event"))
        except (ValueError, TypeError, KeyError) as e:
            raise InputError(str(e), path=p, line=n, hint="the file is damaged or not a capture") from None
        if isinstance(event, CaptureEnd):
            cap.complete = True
        cap.events.append(event)
    if not cap.complete:
        cap.warnings.append(
            f"{p}: no capture_end footer: the proxy may still be recording, or it did not stop "
            "cleanly; the events written so far are kept"
        )
    return cap
