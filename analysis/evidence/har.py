"""HAR 1.2 -> ``SourceRecord`` (source ``har``).

Understands the extensions of the producers a user is likely to hand us:

- Chrome DevTools: ``_resourceType``, ``response._error`` (``"net::ERR_ABORTED"``...),
  ``_webSocketMessages`` with ``time`` in epoch **seconds**;
- Playwright (``record_har_path``): ``response._failureText``, ``_webSocketMessages`` with ``time``
  in epoch **milliseconds** (told apart by magnitude: > 1e11 is ms; -1 = omitted);
- mitmproxy (``hardump``): ``_webSocketMessages`` in seconds;
- Firefox/Charles/others: plain HAR 1.2 (``status`` 0 = no response).

Clock: ``startedDateTime`` (ISO 8601 with zone) plus the entry's ``timings``; WebSocket messages
carry their own wall times. ``stream_key`` = the entry index as a string.

Emits ``request_start`` (text = method, resource = ``_resourceType``), ``response_headers`` (at
start + blocked + dns + connect + ssl + send + wait), ``request_done`` (at start + ``time``, size =
``content.size``), ``request_failed``/``request_cancelled`` (from ``_error``/``_failureText``; when
``timings.receive`` is -1, as Playwright writes for a body that failed mid-way, the real end time is
unknown and ``time_note`` says so),
and for WebSockets ``ws_created``, ``ws_open`` (status 101) or ``ws_error``, ``ws_frame_sent``/
``ws_frame_received`` (size in bytes, text = opcode name) and ``ws_error`` for error messages.
"""

from __future__ import annotations

import base64
import binascii
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from tearline.analysis.evidence.browser_codes import net_error_number
from tearline.analysis.evidence.jsonshape import arr, obj, text
from tearline.analysis.evidence.observation import Observation, SourceRecord
from tearline.analysis.evidence.sourcefile import guarded, open_text, parse_json

from tearline.errors import InputError

__all__ = ["load_har"]

_OPCODES = {1: "text", 2: "binary", 8: "close", 9: "ping", 10: "pong"}
_END_UNKNOWN = "end time unknown (the HAR has no receive timing): t is when the response headers arrived"
_BEFORE_RECEIVE = ("blocked", "dns", "connect", "send", "wait")  # ssl is inside connect in HAR 1.2


def _iso(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        return None
    return dt.timestamp()


def _ms(value: Any) -> float:
    return (
        float(value) / 1000.0
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0
        else 0.0
    )


def _message_time(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    return value / 1000.0 if value > 1e11 else float(value)


def _size(data: Any, opcode: Any) -> int:
    if not isinstance(data, str):
        return 0
    if opcode == 2:
        try:
            return len(base64.b64decode(data, validate=False))
        except (binascii.Error, ValueError):
            return len(data)
    return len(data.encode())


@guarded("HAR file")
def load_har(path: str | os.PathLike[str], *, flag: str | None = "--har") -> SourceRecord:
    """Read a HAR file into a ``SourceRecord``. Raises ``InputError`` when it is not HAR."""
    p = Path(path)
    with open_text(p, flag=flag) as fh:
        text = fh.read().lstrip("\ufeff")
    if not text.strip():
        raise InputError("empty file", path=p, hint="pass a HAR file to --har")
    doc = parse_json(text, p, 'a HAR file is one JSON object {"log": {"entries": [...]}}; re-export it')
    log = doc.get("log") if isinstance(doc, dict) else None
    entries = log.get("entries") if isinstance(log, dict) else None
    if not isinstance(entries, list):
        raise InputError(
            'not a HAR file: no "log.entries" array', path=p, hint="pass a HAR 1.2 export to --har"
        )
    assert isinstance(log, dict)
    rec = SourceRecord(name="har", path=str(p), clock="har startedDateTime")
    creator = obj(log.get("creator"))
    browser = obj(log.get("browser"))
    rec.meta = {
        "creator": f"{creator.get('name', '')} {creator.get('version', '')}".strip() or None,
        "browser": f"{browser.get('name', '')} {browser.get('version', '')}".strip() or None,
        "entries": len(entries),
        "version": log.get("version"),
    }
    skipped: list[int] = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not _entry(rec, i, entry):
            skipped.append(i)
    if skipped:
        rec.warnings.append(
            f"{p}: {len(skipped)} entr{'y' if len(skipped) == 1 else 'ies'} without a request URL or a "
            f"startedDateTime with a time zone skipped (first: entries[{skipped[0]}])"
        )
    rec.observations.sort(key=lambda o: o.t)
    return rec


def _entry(rec: SourceRecord, i: int, e: dict[str, Any]) -> bool:
    req = obj(e.get("request"))
    resp = obj(e.get("response"))
    url = text(req.get("url"))
    start = _iso(e.get("startedDateTime"))
    if url is None or start is None:
        return False
    where = f"entries[{i}]"
    key = str(i)
    rtype = text(e.get("_resourceType"))
    is_ws = (rtype or "").lower() == "websocket" or url.startswith(("ws://", "wss://"))
    timings = obj(e.get("timings"))
    headers_at = start + sum(_ms(timings.get(k)) for k in _BEFORE_RECEIVE)
    end = start + _ms(e.get("time"))
    status = resp.get("status")
    status = (
        int(status)
        if isinstance(status, int | float) and not isinstance(status, bool) and status > 0
        else None
    )
    # Playwright writes receive = -1 for a request that failed mid-body: its end time is unknown
    end_unknown = timings.get("receive") == -1 and status is not None
    error = resp.get("_error") or resp.get("_failureText") or e.get("_error")
    error = error if isinstance(error, str) and error else None

    def add(kind: str, t: float, **fields: Any) -> None:
        fields = {k: v for k, v in fields.items() if v is not None}
        rec.observations.append(
            Observation(source="har", kind=kind, t=t, stream_key=key, url=url, where=where, **fields)
        )

    if is_ws:
        add("ws_created", start, text=req.get("method"))
        if status == 101:
            add("ws_open", headers_at, status=101)
        elif status is not None or error:
            add("ws_error", headers_at, status=status, text=error or f"handshake answered {status}")
        messages = arr(e.get("_webSocketMessages"))
        for j, m in enumerate(messages):
            if not isinstance(m, dict):
                continue
            t = _message_time(m.get("time"))
            mtype, opcode = m.get("type"), m.get("opcode")
            mwhere = f"{where}._webSocketMessages[{j}]"
            if t is None:
                continue
            if mtype == "error":
                rec.observations.append(
                    Observation(
                        source="har", kind="ws_error", t=t, stream_key=key, url=url, where=mwhere,
                        text=str(m.get("data", "")),
                    )
                )  # fmt: skip
            elif mtype in ("send", "receive"):
                rec.observations.append(
                    Observation(
                        source="har",
                        kind="ws_frame_sent" if mtype == "send" else "ws_frame_received",
                        t=t,
                        stream_key=key,
                        url=url,
                        where=mwhere,
                        size=_size(m.get("data"), opcode),
                        direction="client" if mtype == "send" else "server",
                        text=_OPCODES.get(opcode, str(opcode)) if isinstance(opcode, int) else None,
                    )
                )
        if error and status == 101:
            add("ws_error", end, text=error, error=error.removeprefix("net::"))
        return True
    add("request_start", start, text=req.get("method"), resource=rtype)
    if status is not None:
        add("response_headers", headers_at, status=status, text=_mime(resp))
    if error:
        name = error.removeprefix("net::").split()[0] if error.strip() else ""
        when = _END_UNKNOWN if end_unknown else None
        if name == "ERR_ABORTED" or ("aborted" in error.lower() and not name.startswith("ERR_")):
            add("request_cancelled", end, error="ERR_ABORTED", code=-3, text=error, time_note=when)
        else:
            add(
                "request_failed",
                end,
                error=name or None,
                code=net_error_number(name),
                text=error,
                time_note=when,
            )
    elif status is not None:
        content = obj(resp.get("content"))
        size = content.get("size")
        add("request_done", end, size=int(size) if isinstance(size, int | float) and size >= 0 else None)
    return True


def _mime(resp: dict[str, Any]) -> str | None:
    content = obj(resp.get("content"))
    mime = content.get("mimeType")
    return mime if isinstance(mime, str) and mime else None
