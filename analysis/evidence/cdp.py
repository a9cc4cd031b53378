"""Chrome DevTools Protocol event logs -> ``SourceRecord`` (source ``cdp``).

Envelopes (read by ``analysis/evidence/cdp_envelope.py``, extra keys ignored):

- a JSON array of ``{"method", "params"}`` messages (chrome-har / Lighthouse devtools logs);
- JSON Lines of the same (Puppeteer/Playwright ``CDPSession`` recordings, ``sessionId`` ignored);
- chromedriver's performance log: items ``{"message": "<json>" | {...}}`` whose message is
  ``{"message": {"method", "params"}, "webview": ...}`` (string or object, either level).

Clock: ``Network.*`` ``timestamp`` is Chrome's monotonic clock in seconds; ``wallTime`` (epoch s)
appears on ``requestWillBeSent`` and ``webSocketWillSendHandshakeRequest``. Each request's events use
its own ``wallTime - timestamp``; other events use the median of those offsets (``SourceRecord.offset``).
``Log.entryAdded`` and ``Runtime.*`` timestamps are epoch milliseconds. Events without any time
(``webSocketCreated``, ``Page.frameNavigated``, ``Inspector.targetCrashed``) take the time of the
nearest timed event in the file.

Emits (``stream_key`` = ``requestId``; ``request_start.resource`` = the resource type, e.g. ``Fetch``,
``EventSource``, ``Document``): ``request_start``, ``navigation``, ``response_headers``,
``data_received`` (``dataReceived``: size = dataLength; ``eventSourceMessageReceived``: text starts
with ``sse``), ``request_done``, ``request_failed``, ``request_cancelled`` (``canceled`` or ERR_ABORTED),
``ws_created``, ``ws_handshake_request``, ``ws_open``/``ws_error`` (handshake status),
``ws_frame_sent``/``ws_frame_received`` (size in bytes, text = opcode name), ``ws_error``
(``webSocketFrameError``), ``ws_closed`` (no code: CDP never reports it), ``page_crash``,
``console`` (+ ``ws_error``/``page_crash`` implied by its text).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import statistics
from collections.abc import Callable
from typing import Any

from tearline.analysis.evidence.browser_codes import net_error_number
from tearline.analysis.evidence.cdp_envelope import Message, read_messages
from tearline.analysis.evidence.console import classify, console_fields
from tearline.analysis.evidence.jsonshape import arr, obj, text
from tearline.analysis.evidence.observation import Observation, SourceRecord
from tearline.analysis.evidence.sourcefile import guarded
from tearline.analysis.evidence.sse_data import data_type

from tearline.errors import InputError

__all__ = ["load_cdp", "read_messages"]

_OPCODES = {1: "text", 2: "binary"}
PAYLOAD_KEEP = 2000  # characters of an EventSource message's data kept (to read its type, not to show)


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


class _Builder:
    def __init__(self, path: str, messages: list[Message]) -> None:
        self.path = path
        self.messages = messages
        self.offsets: dict[str, float] = {}
        for _, method, p in messages:
            if method in ("Network.requestWillBeSent", "Network.webSocketWillSendHandshakeRequest"):
                wall, mono, rid = _num(p.get("wallTime")), _num(p.get("timestamp")), p.get("requestId")
                if wall is not None and mono is not None and isinstance(rid, str):
                    self.offsets.setdefault(rid, wall - mono)
        self.median = statistics.median(self.offsets.values()) if self.offsets else None
        self.obs: list[Observation] = []
        self.urls: dict[str, str] = {}
        self.types: dict[str, str] = {}
        self.untimed: list[int] = []  # indexes of observations waiting for a time
        self.main_frame: str | None = None  # id of the top frame, once a frameNavigated named it

    def time_of(self, p: dict[str, Any]) -> tuple[float | None, float | None]:
        """(wall time, raw time) of a Network/Page event's monotonic ``timestamp``."""
        mono = _num(p.get("timestamp"))
        if mono is None:
            return None, None
        rid = p.get("requestId")
        offset = self.offsets.get(rid) if isinstance(rid, str) else None
        if offset is None:
            offset = self.median
        if offset is None:
            return mono, mono
        return mono + offset, mono

    def add(self, kind: str, t: float | None, where: str, raw: float | None = None, **fields: Any) -> None:
        fields = {k: v for k, v in fields.items() if v is not None}
        self.obs.append(
            Observation(
                source="cdp",
                kind=kind,
                t=t if t is not None else float("nan"),
                raw_t=raw,
                where=where,
                **fields,
            )
        )
        if t is None:
            self.untimed.append(len(self.obs) - 1)

    def build(self) -> list[Observation]:
        for where, method, p in self.messages:
            handler = HANDLERS.get(method)
            if handler is not None:
                try:
                    handler(self, where, p)
                except (TypeError, ValueError, AttributeError, KeyError) as e:
                    raise InputError(
                        f"{method} has malformed params ({type(e).__name__}: {e})",
                        path=self.path,
                        place=where,
                        hint="the DevTools log is damaged",
                    ) from None
        self._fill_untimed()
        return sorted((o for o in self.obs if o.t == o.t), key=lambda o: o.t)

    def _fill_untimed(self) -> None:
        """Give each untimed observation the time of the nearest timed one (file order)."""
        if not self.untimed:
            return
        timed = [i for i, o in enumerate(self.obs) if o.t == o.t]
        if not timed:
            return
        import bisect
        import dataclasses

        for i in self.untimed:
            j = bisect.bisect_left(timed, i)
            k = timed[j] if j < len(timed) else timed[-1]
            self.obs[i] = dataclasses.replace(self.obs[i], t=self.obs[k].t)

    # --- helpers for handlers
    def rid(self, p: dict[str, Any]) -> str | None:
        rid = p.get("requestId")
        return rid if isinstance(rid, str) else None

    def add_for_request(self, kind: str, where: str, p: dict[str, Any], **fields: Any) -> None:
        """Add ``kind`` at the event's time, keyed by its ``requestId``, with the URL seen for that id."""
        t, raw = self.time_of(p)
        rid = self.rid(p)
        self.add(kind, t, where, raw, stream_key=rid, url=self.urls.get(rid or ""), **fields)


def _whole(value: Any) -> int | None:
    """A JSON number as an int (truncated), else None."""
    return int(value) if isinstance(value, int | float) else None


def _request_will_be_sent(b: _Builder, where: str, p: dict[str, Any]) -> None:
    t, raw = b.time_of(p)
    rid = b.rid(p)
    req = obj(p.get("request"))
    url = text(req.get("url"))
    rtype = text(p.get("type"))
    if rid and url:
        b.urls[rid] = url
    if rid and rtype:
        b.types[rid] = rtype
    if p.get("redirectResponse"):
        b.add(
            "response_headers",
            t,
            where,
            raw,
            stream_key=rid,
            url=url,
            status=p["redirectResponse"].get("status"),
        )
    b.add("request_start", t, where, raw, stream_key=rid, url=url, text=req.get("method"), resource=rtype)
    frame = p.get("frameId")
    main = b.main_frame is None or frame is None or frame == b.main_frame
    if rtype == "Document" and p.get("loaderId") == rid and main:
        b.add("navigation", t, where, raw, stream_key=rid, url=url, text=req.get("method"))


def _response_received(b: _Builder, where: str, p: dict[str, Any]) -> None:
    t, raw = b.time_of(p)
    rid = b.rid(p)
    resp = obj(p.get("response"))
    status = resp.get("status")
    b.add(
        "response_headers",
        t,
        where,
        raw,
        stream_key=rid,
        url=resp.get("url") or b.urls.get(rid or ""),
        status=_whole(status),
        text=resp.get("mimeType"),
    )


def _data_received(b: _Builder, where: str, p: dict[str, Any]) -> None:
    b.add_for_request("data_received", where, p, size=_whole(p.get("dataLength")), direction="server")


def _event_source_message(b: _Builder, where: str, p: dict[str, Any]) -> None:
    data = text(p.get("data")) or ""
    b.add_for_request(
        "data_received",
        where,
        p,
        size=len(data.encode()),
        direction="server",
        text=f"sse event {p.get('eventName') or 'message'}"
        + (f" id={p['eventId']}" if p.get("eventId") else ""),
        event=text(p.get("eventName")) or "message",
        data_type=data_type(data),
        payload=data[:PAYLOAD_KEEP] or None,
    )


def _loading_finished(b: _Builder, where: str, p: dict[str, Any]) -> None:
    b.add_for_request("request_done", where, p, size=_whole(p.get("encodedDataLength")))


def _loading_failed(b: _Builder, where: str, p: dict[str, Any]) -> None:
    t, raw = b.time_of(p)
    rid = b.rid(p)
    error_text = text(p.get("errorText")) or ""
    name = error_text.removeprefix("net::")
    url = b.urls.get(rid or "")
    if p.get("canceled") or name in ("", "ERR_ABORTED"):
        b.add(
            "request_cancelled",
            t,
            where,
            raw,
            stream_key=rid,
            url=url,
            error="ERR_ABORTED",
            code=-3,
            text=error_text or None,
        )
        return
    kind = "ws_error" if b.types.get(rid or "") == "WebSocket" else "request_failed"
    blocked = p.get("blockedReason")
    b.add(
        kind,
        t,
        where,
        raw,
        stream_key=rid,
        url=url,
        error=name,
        code=net_error_number(name),
        text=f"blocked: {blocked}" if blocked else None,
    )


def _ws_created(b: _Builder, where: str, p: dict[str, Any]) -> None:
    rid = b.rid(p)
    url = text(p.get("url"))
    if rid and url:
        b.urls[rid] = url
        b.types[rid] = "WebSocket"
    b.add("ws_created", None, where, stream_key=rid, url=url)


def _ws_handshake_request(b: _Builder, where: str, p: dict[str, Any]) -> None:
    b.add_for_request("ws_handshake_request", where, p)


def _ws_handshake_response(b: _Builder, where: str, p: dict[str, Any]) -> None:
    resp = obj(p.get("response"))
    status = _whole(resp.get("status"))
    kind = "ws_open" if status == 101 else "ws_error"
    text = None if status == 101 else f"handshake answered {status} {resp.get('statusText', '')}".strip()
    b.add_for_request(kind, where, p, status=status, text=text)


def _ws_frame(sent: bool) -> Callable[[_Builder, str, dict[str, Any]], None]:
    def handler(b: _Builder, where: str, p: dict[str, Any]) -> None:
        resp = obj(p.get("response"))
        opcode = resp.get("opcode")
        payload = text(resp.get("payloadData")) or ""
        if opcode == 1:
            size = len(payload.encode())
        else:
            try:
                size = len(base64.b64decode(payload, validate=False))
            except (binascii.Error, ValueError):
                size = len(payload)
        b.add_for_request(
            "ws_frame_sent" if sent else "ws_frame_received",
            where,
            p,
            size=size,
            direction="client" if sent else "server",
            text=_OPCODES.get(opcode, str(opcode)) if isinstance(opcode, int) else None,
        )

    return handler


def _ws_frame_error(b: _Builder, where: str, p: dict[str, Any]) -> None:
    b.add_for_request("ws_error", where, p, text=p.get("errorMessage"))


def _ws_closed(b: _Builder, where: str, p: dict[str, Any]) -> None:
    b.add_for_request("ws_closed", where, p)


def _frame_navigated(b: _Builder, where: str, p: dict[str, Any]) -> None:
    frame = obj(p.get("frame"))
    if frame.get("parentId"):
        return  # an iframe
    if isinstance(frame.get("id"), str):
        b.main_frame = frame["id"]
    url = text(frame.get("url"))
    unreachable = frame.get("unreachableUrl")
    label = f"error page for {unreachable}" if unreachable else "frame navigated"
    b.add("navigation", None, where, url=url, text=label)


def _frame_requested_navigation(b: _Builder, where: str, p: dict[str, Any]) -> None:
    b.add("navigation", None, where, url=p.get("url"), text=f"navigation requested ({p.get('reason', '')})")


def _navigated_within_document(b: _Builder, where: str, p: dict[str, Any]) -> None:
    b.add("navigation", None, where, url=p.get("url"), text="same-document navigation")


def _crashed(b: _Builder, where: str, p: dict[str, Any]) -> None:
    status, code = p.get("status"), p.get("errorCode")
    text = "renderer crashed" + (f" ({status}, error code {code})" if status or code is not None else "")
    b.add("page_crash", None, where, text=text, code=code if isinstance(code, int) else None)


def _console_api(b: _Builder, where: str, p: dict[str, Any]) -> None:
    ts = _num(p.get("timestamp"))
    args = arr(p.get("args"))
    parts = []
    for a in args:
        if isinstance(a, dict):
            v = a.get("value", a.get("description", a.get("unserializableValue", "")))
            parts.append(v if isinstance(v, str) else json.dumps(v))
    _console(b, where, ts, " ".join(parts), str(p.get("type") or "log"), None)


def _exception(b: _Builder, where: str, p: dict[str, Any]) -> None:
    d = obj(p.get("exceptionDetails"))
    exc = obj(d.get("exception"))
    text = exc.get("description") or d.get("text") or "exception"
    _console(b, where, _num(p.get("timestamp")), str(text), "exception", d.get("url"))


def _log_entry(b: _Builder, where: str, p: dict[str, Any]) -> None:
    e = obj(p.get("entry"))
    _console(
        b,
        where,
        _num(e.get("timestamp")),
        str(e.get("text", "")),
        str(e.get("level") or "info"),
        e.get("url"),
    )


def _console(b: _Builder, where: str, ts_ms: float | None, text: str, level: str, url: Any) -> None:
    t = ts_ms / 1000.0 if ts_ms is not None and ts_ms > 1e11 else ts_ms
    url = url if isinstance(url, str) and url else None
    b.add("console", t, where, ts_ms, text=text, level=level, **console_fields(text, url))
    for kind, fields in classify(text, url=url):
        b.add(kind, t, where, ts_ms, **fields)


HANDLERS: dict[str, Callable[[_Builder, str, dict[str, Any]], None]] = {
    "Network.requestWillBeSent": _request_will_be_sent,
    "Network.responseReceived": _response_received,
    "Network.dataReceived": _data_received,
    "Network.eventSourceMessageReceived": _event_source_message,
    "Network.loadingFinished": _loading_finished,
    "Network.loadingFailed": _loading_failed,
    "Network.webSocketCreated": _ws_created,
    "Network.webSocketWillSendHandshakeRequest": _ws_handshake_request,
    "Network.webSocketHandshakeResponseReceived": _ws_handshake_response,
    "Network.webSocketFrameSent": _ws_frame(sent=True),
    "Network.webSocketFrameReceived": _ws_frame(sent=False),
    "Network.webSocketFrameError": _ws_frame_error,
    "Network.webSocketClosed": _ws_closed,
    "Page.frameNavigated": _frame_navigated,
    "Page.frameRequestedNavigation": _frame_requested_navigation,
    "Page.navigatedWithinDocument": _navigated_within_document,
    "Inspector.targetCrashed": _crashed,
    "Target.targetCrashed": _crashed,
    "Runtime.consoleAPICalled": _console_api,
    "Runtime.exceptionThrown": _exception,
    "Log.entryAdded": _log_entry,
}


@guarded("DevTools Protocol log")
def load_cdp(path: str | os.PathLike[str], *, flag: str | None = "--cdp") -> SourceRecord:
    """Read a DevTools Protocol event log into a ``SourceRecord``. Raises ``InputError``."""
    messages, warnings = read_messages(path, flag=flag)
    b = _Builder(str(path), messages)
    observations = b.build()
    if b.median is None:
        clock = "cdp monotonic (no wallTime: Network times are not on the wall clock)"
        if any(m in ("Network.dataReceived", "Network.loadingFailed") for _, m, _ in messages):
            warnings.append(
                f"{path}: no requestWillBeSent/webSocketWillSendHandshakeRequest with wallTime; "
                "Network event times stay on Chrome's monotonic clock"
            )
    else:
        clock = "cdp wallTime - timestamp"
    methods: dict[str, int] = {}
    for _, m, _ in messages:
        methods[m] = methods.get(m, 0) + 1
    return SourceRecord(
        name="cdp",
        path=str(path),
        observations=observations,
        clock=clock,
        offset=b.median or 0.0,
        warnings=warnings,
        meta={"messages": len(messages), "methods": methods, "requests_with_wall_time": len(b.offsets)},
    )
