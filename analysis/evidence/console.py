"""Console logs as text lines -> ``SourceRecord`` (source ``console``).

Each line starts with a timestamp in one of these formats (the first that fits wins,
per line, so mixed files work):

``ISO-8601``        ``2026-11-26T01:17:46.036Z [error] text`` (also a space for ``T``, ``,`` for ``.``,
                    any ``+hh:mm`` offset; without a zone the time is read as UTC, with a warning)
``epoch``           ``1795655866.036 text`` (seconds) or ``1795655866036 text`` (milliseconds),
                    optionally in brackets
``Chrome logging``  ``[pid:tid:MMDD/HHMMSS.micro:LEVEL:CONSOLE(12)] "text", source: url (12)``
                    from ``--enable-logging=stderr`` (no year, no zone: read as this machine's local
                    time in the file's year, with a warning); Chrome's own non-console lines are skipped
                    unless they report a renderer crash
``time only``       ``01:17:46.036 text`` (DevTools "Save as..." with timestamps; date from the file)

A line without a timestamp continues the previous message (stack traces).
Emits ``console`` (text, level, url/error when the text names them) for every message,
plus ``ws_error`` for "WebSocket connection to '...' failed" lines and ``page_crash`` for
crashed-renderer lines. ``classify`` is shared with the DevTools importer.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tearline.analysis.evidence.browser_codes import net_error_number
from tearline.analysis.evidence.observation import Observation, SourceRecord
from tearline.analysis.evidence.sourcefile import guarded, open_text

from tearline.errors import InputError

__all__ = ["classify", "load_console", "parse_line"]

_ISO = re.compile(
    r"^\[?(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:[.,](\d{1,9}))?\s*(Z|[+-]\d{2}:?\d{2})?\]?\s*(.*)$"
)
_EPOCH = re.compile(r"^\[?(\d{10}(?:\.\d+)?|\d{13}(?:\.\d+)?)\]?\s+(.*)$")
_CHROME = re.compile(
    r"^\[(?:\d+:)*(\d{4})/(\d{6})(?:\.(\d{1,6}))?:([A-Z]+):([^\]]*)\]\s?(.*)$"
)  # [pid:tid:MMDD/HHMMSS.micro:LEVEL:file(line)] text
_TIME_ONLY = re.compile(r"^(\d{2}:\d{2}:\d{2})(?:[.,](\d{1,6}))?\s+(.*)$")
_LEVEL = re.compile(
    r"^(?:\[([a-z]+)\]|(log|debug|info|warning|warn|error|verbose|assert|trace):)(?:\s+(.*))?$", re.I | re.S
)
_CHROME_CONSOLE = re.compile(r'^"(.*)", source: (\S*) \((\d+)\)$', re.S)
_WS_FAILED = re.compile(r"WebSocket connection to '([^']+)' failed(?::\s*(.*))?")
_NET_ERR = re.compile(r"net::(ERR_[A-Z0-9_]+)")
_URL = re.compile(r"\b((?:https?|wss?)://[^\s'\"<>)]+)")
_CRASH = re.compile(
    r"renderer (?:process )?(?:crashed|was killed)|Aw, Snap|target crashed|sad tab|^page crashed$", re.I
)


@dataclass(frozen=True, slots=True)
class Line:
    """A parsed console line: time (epoch s), level, text, and how the time was read."""

    t: float
    level: str | None
    text: str
    fmt: str
    url: str | None = None


def parse_line(line: str, *, year: int, local_offset: float) -> Line | None:
    """Parse one line's timestamp; None when the line has none. ``local_offset``: seconds east of UTC."""
    s = line.rstrip("\r\n")
    if m := _ISO.match(s):
        date, clock, frac, zone, rest = m.groups()
        dt = datetime.fromisoformat(f"{date}T{clock}")
        t = dt.replace(tzinfo=UTC).timestamp() + (float("0." + frac) if frac else 0.0)
        fmt = "iso"
        if zone and zone != "Z":
            sign = 1 if zone[0] == "+" else -1
            hh, mm = int(zone[1:3]), int(zone[-2:])
            t -= sign * (hh * 3600 + mm * 60)
        elif not zone:
            fmt = "iso-naive"
        level, text = _level(rest)
        return Line(t, level, text, fmt)
    if m := _CHROME.match(s):
        mmdd, hhmmss, micro, level, where, rest = m.groups()
        try:
            dt = datetime(
                year, int(mmdd[:2]), int(mmdd[2:]), int(hhmmss[:2]), int(hhmmss[2:4]), int(hhmmss[4:])
            )
        except ValueError:
            return None
        t = dt.replace(tzinfo=UTC).timestamp() - local_offset + (float("0." + micro) if micro else 0.0)
        if not where.startswith("CONSOLE"):
            return Line(t, level.lower(), rest, "chrome-internal")
        url = None
        if cm := _CHROME_CONSOLE.match(rest):
            rest, url = cm.group(1), cm.group(2) or None
        return Line(t, level.lower(), rest, "chrome", url)
    if m := _EPOCH.match(s):
        value = float(m.group(1))
        t = value / 1000.0 if value > 1e11 else value
        level, text = _level(m.group(2))
        return Line(t, level, text, "epoch")
    return None


def _time_only(s: str, day: datetime) -> Line | None:
    m = _TIME_ONLY.match(s)
    if not m:
        return None
    clock, frac, rest = m.groups()
    hh, mm, ss = (int(x) for x in clock.split(":"))
    if hh > 23 or mm > 59 or ss > 60:
        return None
    t = (day + timedelta(hours=hh, minutes=mm, seconds=ss)).timestamp() + (
        float("0." + frac) if frac else 0.0
    )
    level, text = _level(rest)
    return Line(t, level, text, "time-only")


def _level(rest: str) -> tuple[str | None, str]:
    m = _LEVEL.match(rest)
    if m:
        level = (m.group(1) or m.group(2)).lower()
        return ("warning" if level == "warn" else level), m.group(3) or ""
    return None, rest


def classify(text: str, *, url: str | None = None) -> list[tuple[str, dict[str, Any]]]:
    """Observations (kind, fields) a console message implies beyond the ``console`` line itself."""
    out: list[tuple[str, dict[str, Any]]] = []
    if m := _WS_FAILED.search(text):
        reason = (m.group(2) or "").strip()
        err = _NET_ERR.search(reason)
        fields: dict[str, Any] = {"url": m.group(1), "text": reason or "failed"}
        if err:
            fields["error"] = err.group(1)
            fields["code"] = net_error_number(err.group(1))
        elif code := re.search(r"Unexpected response code: (\d{3})", reason):
            fields["status"] = int(code.group(1))
        out.append(("ws_error", fields))
    if _CRASH.search(text):
        out.append(("page_crash", {"text": text[:300]}))
    return out


def console_fields(text: str, url: str | None = None) -> dict[str, Any]:
    """url and error a console text names (for the ``console`` observation)."""
    fields: dict[str, Any] = {}
    if err := _NET_ERR.search(text):
        fields["error"] = err.group(1)
        fields["code"] = net_error_number(err.group(1))
    if url:
        fields["url"] = url
    elif u := _URL.search(text):
        fields["url"] = u.group(1)
    return fields


@guarded("console log")
def load_console(path: str | os.PathLike[str], *, flag: str | None = "--console") -> SourceRecord:
    """Read a text console log. Raises ``InputError`` when no line carries a timestamp."""
    p = Path(path)
    try:
        stat = p.stat()
    except OSError:
        stat = None
    mtime = datetime.fromtimestamp(stat.st_mtime, UTC) if stat else datetime.now(UTC)
    local_offset = _local_offset()
    day = datetime(mtime.year, mtime.month, mtime.day, tzinfo=UTC)
    rec = SourceRecord(name="console", path=str(p), clock="console line timestamps")
    lines: list[tuple[int, Line]] = []
    unplaced = 0
    formats: set[str] = set()
    with open_text(p, flag=flag) as fh:
        for n, raw in enumerate(fh, start=1):
            if "\x00" in raw:
                raise InputError(
                    "binary data, not a text console log", path=p, line=n, hint="pass a text log to --console"
                )
            if not raw.strip():
                continue
            parsed = parse_line(raw, year=mtime.year, local_offset=local_offset) or _time_only(
                raw.rstrip(), day
            )
            if parsed is None:
                if lines and lines[-1][1].fmt != "chrome-internal":
                    prev_n, prev = lines[-1]
                    lines[-1] = (
                        prev_n,
                        Line(prev.t, prev.level, prev.text + "\n" + raw.rstrip(), prev.fmt, prev.url),
                    )
                else:
                    unplaced += 1
                continue
            formats.add(parsed.fmt)
            lines.append((n, parsed))
    if not lines:
        raise InputError(
            "no line starts with a timestamp (ISO-8601, epoch seconds/ms, or Chrome's [pid:tid:MMDD/HHMMSS...])",
            path=p,
            hint="pass a console log with timestamps to --console",
        )
    for n, ln in lines:
        where = f"line {n}"
        if ln.fmt == "chrome-internal":
            if _CRASH.search(ln.text):
                rec.observations.append(
                    Observation(source="console", kind="page_crash", t=ln.t, text=ln.text[:300], where=where)
                )
            continue
        fields = console_fields(ln.text, ln.url)
        rec.observations.append(
            Observation(
                source="console", kind="console", t=ln.t, text=ln.text, level=ln.level, where=where, **fields
            )
        )
        for kind, extra in classify(ln.text, url=ln.url):
            rec.observations.append(Observation(source="console", kind=kind, t=ln.t, where=where, **extra))
    if unplaced:
        rec.warnings.append(
            f"{p}: {unplaced} line(s) without a timestamp before the first timestamped line skipped"
        )
    if "iso-naive" in formats:
        rec.warnings.append(f"{p}: ISO times without a time zone were read as UTC")
    if "chrome" in formats or "chrome-internal" in formats:
        rec.warnings.append(
            f"{p}: Chrome log lines carry no year or time zone; read as this machine's local time in {mtime.year}"
        )
        rec.clock = "chrome log local time"
    if "time-only" in formats:
        rec.warnings.append(f"{p}: times without a date were placed on {day.date()} (the file's date, UTC)")
    rec.meta = {"formats": sorted(formats), "lines": len(lines)}
    rec.observations.sort(key=lambda o: o.t)
    return rec


def _local_offset() -> float:
    """Seconds east of UTC of this machine's local time now."""
    offset = datetime.now().astimezone().utcoffset()
    return offset.total_seconds() if offset else 0.0
