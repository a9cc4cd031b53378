"""A tearline capture -> ``SourceRecord`` (source ``capture``): the proxy's view of both legs.

Read with ``tearline.capture.read_capture`` (migrations, torn-line tolerance). Times are the
proxy's wall clock (``ts``). ``stream_key`` = the capture's stream (flow) id; ``leg`` = the leg of
the event's connection (``conn_open`` tells which), ``client`` = browser side, ``server`` = upstream.

Event -> observation table (``HANDLERS``):

==================  =====================================================================
``http_request``    ``request_start`` (url, text = method)
``http_response``   ``response_headers`` (status, text = stream kind), or ``ws_open`` for 101
``ws_start``        ``ws_open`` (status 101) when no 101 response was recorded
``body_chunk``      ``data_received`` (direction server: toward the browser) / ``data_sent``
``sse_event``       ``data_received`` (size = data bytes, event = its name, data_type = the JSON
                    ``type`` of its data when the recorder wrote it, payload when recorded)
``body_end``        ``request_done`` (complete) or ``request_failed`` (how = cut/error, text)
``flow_error``      ``request_failed`` (text = mitmproxy's message)
``ws_message``      ``ws_frame_sent`` (from the browser) / ``ws_frame_received`` (to it);
                    tampered "injected"/"dropped" when tearline did it
``ws_close``        ``ws_close_sent`` (closed_by client) / ``ws_close_received`` (server or
                    proxy; text names the proxy) when a frame was seen, then ``ws_closed``
                    (code, reason, by, frame, how = transport end, text 'clean' when the close was
                    answered, else 'unclean')
``conn_close``      ``socket_closed`` (how, by, errno, error; stream_key = the last stream the
                    connection carried); a ``timeout`` by the ``proxy`` (mitmproxy's idle
                    watchdog, ``tcp_timeout``) also ``proxy_timeout`` (timer names it)
``h2_reset``        ``h2_rst_stream`` (code, direction = who sent it)
``h2_goaway``       ``h2_goaway``
``relay``           ``relay`` (text = observed -> action)
``fault_fired``     ``fault`` (text = action, trigger and what was done to each leg)
``anomaly``         ``console`` (level "anomaly")
==================  =====================================================================

``SourceRecord.meta`` carries the header's ``mode`` (list of mitmproxy mode specs) and ``options``
(the recorder options in force, a copy), so the diagnosis can match an end against any recorded
``*timeout*`` value (``tearline.analysis.diagnose.diagnosis.known_timeouts``: plain numbers are seconds, ``*_ms`` keys
milliseconds).
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable
from operator import attrgetter
from pathlib import Path
from typing import Any

from tearline.analysis.evidence.capture_reader import CaptureReader
from tearline.analysis.evidence.observation import Observation, SourceRecord
from tearline.analysis.evidence.sourcefile import guarded
from tearline.analysis.evidence.sse_data import data_type

from tearline import events as ev
from tearline.capture import read_capture
from tearline.faults.table import FAULTS

__all__ = ["ERROR_CLASSES", "HANDLERS", "PROTOCOL_TEXTS", "error_class", "load_capture"]

# mitmproxy's words for a peer that broke the framing ("illegal chunk header", a reserved opcode)
PROTOCOL_TEXTS: tuple[str, ...] = (
    "illegal chunk",
    "invalid chunk",
    "chunk header",
    "invalid opcode",
    "reserved opcode",
    "unknown opcode",
    "invalid frame",
    "reserved bits",
    "rsv",
    "malformed",
)
# mitmproxy's (and the OS's) words in a capture's error texts -> ``Observation.error_class``; first match wins.
ERROR_CLASSES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("protocol", PROTOCOL_TEXTS),
    ("client_gone", ("client disconnected",)),  # the browser hung up
    ("reset", ("reset", "econnreset", "rst")),  # a TCP reset
    ("cut", ("peer closed connection", "without sending complete", "incomplete", "unexpected eof")),
)


def error_class(*texts: str | None) -> str | None:
    """The class of a capture's error texts (``ERROR_CLASSES``), None when none matches."""
    low = " ".join(t for t in texts if t).lower()
    if not low:
        return None
    for name, words in ERROR_CLASSES:
        if any(w in low for w in words):
            return name
    return None


class _State:
    def __init__(self, rec: SourceRecord) -> None:
        self.rec = rec
        self.legs: dict[str, str] = {}  # conn id -> leg
        self.urls: dict[str, str] = {}  # stream id -> url
        self.ws_open: set[str] = set()
        self.conn_stream: dict[str, str] = {}  # conn id -> the last stream it carried
        self.proxy_cost: dict[str, dict[str, Any]] = {}  # client conn id -> its conn_close's proxy_cost

    def add(self, kind: str, e: ev.Event, where: str, **fields: Any) -> None:
        fields = {k: v for k, v in fields.items() if v is not None}
        fields.setdefault("leg", self.legs.get(e.conn or ""))
        if e.stream is not None:
            fields.setdefault("url", self.urls.get(e.stream))
            if e.conn is not None:
                self.conn_stream[e.conn] = e.stream
        fields.setdefault("stream_key", e.stream)
        self.rec.observations.append(
            Observation(source="capture", kind=kind, t=e.ts, raw_t=e.mono, where=where, **fields)
        )


def _conn_open(s: _State, e: Any, where: str) -> None:
    if e.conn is not None:
        s.legs[e.conn] = e.leg


def _conn_close(s: _State, e: Any, where: str) -> None:
    stream = s.conn_stream.get(e.conn or "")
    if e.proxy_cost and e.conn:
        s.proxy_cost[e.conn] = e.proxy_cost
    s.add(
        "socket_closed",
        e,
        where,
        leg=e.leg,
        text=f"{e.how} by {e.by}",
        how=e.how,
        by=e.by,
        error=e.error,
        errno=e.errno,
        code=e.errno,
        error_class="reset" if e.how == "rst" else error_class(e.error),
        stream_key=stream,
        url=s.urls.get(stream or ""),
    )
    if e.how == "timeout" and e.by == "proxy":  # the proxy's own idle timer, not a kernel ETIMEDOUT
        text = f"mitmproxy {e.error}" if e.error else "mitmproxy idle timeout (tcp_timeout)"
        s.add(
            "proxy_timeout",
            e,
            where,
            leg=e.leg,
            text=text,
            timer="mitmproxy tcp_timeout",
            how=e.how,
            by=e.by,
            stream_key=stream,
            url=s.urls.get(stream or ""),
        )


def _http_request(s: _State, e: Any, where: str) -> None:
    if e.stream is not None:
        s.urls[e.stream] = e.url
        if e.server_conn is not None:
            s.conn_stream[e.server_conn] = e.stream
    s.add("request_start", e, where, url=e.url, text=e.method, leg="client")


def _http_response(s: _State, e: Any, where: str) -> None:
    if e.status == 101:
        if e.stream is not None:
            s.ws_open.add(e.stream)
        s.add("ws_open", e, where, status=101, leg="server")
    else:
        s.add("response_headers", e, where, status=e.status, text=e.kind, leg="server")


def _ws_start(s: _State, e: Any, where: str) -> None:
    if e.stream not in s.ws_open:
        s.add("ws_open", e, where, status=101)


def _body_chunk(s: _State, e: Any, where: str) -> None:
    kind = "data_received" if e.direction == "server" else "data_sent"
    s.add(kind, e, where, size=e.size, direction=e.direction)


def _sse_event(s: _State, e: Any, where: str) -> None:
    text = f"sse event {e.event}" + (" (partial)" if e.partial else "")
    s.add(
        "data_received",
        e,
        where,
        size=e.data_len,
        direction="server",
        text=text,
        event=e.event,
        # recorders since #9 write data_type; for older captures, read it from the payload when kept
        data_type=getattr(e, "data_type", None) or data_type(_text_payload(e)),
        payload=_text_payload(e),
    )


def _text_payload(e: Any) -> str | None:
    return e.payload if e.payload_encoding == "utf-8" else None


def _body_end(s: _State, e: Any, where: str) -> None:
    if e.complete:
        s.add("request_done", e, where, size=e.total_bytes, direction=e.direction, text=e.how, how=e.how)
    else:
        text = f"body {e.how} after {e.total_bytes} bytes" + (f": {e.error}" if e.error else "")
        s.add(
            "request_failed",
            e,
            where,
            size=e.total_bytes,
            direction=e.direction,
            text=text,
            how=e.how,
            error_class=error_class(e.error),
        )


def _flow_error(s: _State, e: Any, where: str) -> None:
    s.add("request_failed", e, where, text=e.message, error_class=error_class(e.message))


def _ws_message(s: _State, e: Any, where: str) -> None:
    kind = "ws_frame_sent" if e.direction == "client" else "ws_frame_received"
    tampered = "injected" if e.injected else "dropped" if e.dropped else None
    payload = _text_payload(e)
    s.add(
        kind, e, where, size=e.size, direction=e.direction, text=e.opcode, tampered=tampered, payload=payload
    )


def _ws_close(s: _State, e: Any, where: str) -> None:
    # the end belongs to the leg of the peer that ended it (the event itself carries the client conn)
    leg = e.closed_by if e.closed_by in ("client", "server") else None
    if e.frame:
        kind = "ws_close_sent" if e.closed_by == "client" else "ws_close_received"
        direction = "client" if e.closed_by == "client" else "server"
        text = "by proxy" if e.closed_by == "proxy" else None
        s.add(
            kind,
            e,
            where,
            code=e.code,
            reason=e.reason,
            direction=direction,
            text=text,
            leg=leg,
            by=e.closed_by,
            frame=True,
        )
    clean = "clean" if e.frame and e.answered else "unclean"
    s.add(
        "ws_closed",
        e,
        where,
        code=e.code,
        reason=e.reason,
        text=clean,
        direction=_direction(e.closed_by),
        leg=leg,
        by=e.closed_by,
        frame=e.frame,
        how=e.transport_end,
    )


def _direction(side: str | None) -> str | None:
    return {"client": "client", "server": "server", "proxy": "proxy"}.get(side or "")


def _h2_reset(s: _State, e: Any, where: str) -> None:
    s.add("h2_rst_stream", e, where, code=e.error_code, direction=_direction(e.by))


def _h2_goaway(s: _State, e: Any, where: str) -> None:
    s.add("h2_goaway", e, where, code=e.error_code, direction=_direction(e.by))


def _relay(s: _State, e: Any, where: str) -> None:
    extra = f" {e.code}" if e.code is not None else ""
    s.add(
        "relay", e, where, leg=e.leg, text=f"{e.observed} -> {e.action}{extra}", code=e.code, reason=e.reason
    )


def _fault_fired(s: _State, e: Any, where: str) -> None:
    done = ", ".join(
        f"{leg}: {what}" for leg, what in (("client", e.client_action), ("server", e.server_action)) if what
    )
    text = (
        f"{e.action} ({e.fault_id})"
        + (f" on {e.trigger}" if e.trigger else "")
        + (f"; {done}" if done else "")
    )
    spec = FAULTS.get(e.action)
    # how: "ends" for a fault that ends the stream itself, "shapes" for one that only delays or holds it
    how = None if spec is None else ("ends" if spec.ends else "shapes")
    s.add("fault", e, where, text=text, how=how)


def _anomaly(s: _State, e: Any, where: str) -> None:
    s.add("console", e, where, text=e.text, level="anomaly", error_class=error_class(e.text))


HANDLERS: dict[type[ev.Event], Callable[[_State, Any, str], None]] = {
    ev.ConnOpen: _conn_open,
    ev.ConnClose: _conn_close,
    ev.HttpRequest: _http_request,
    ev.HttpResponse: _http_response,
    ev.WsStart: _ws_start,
    ev.BodyChunk: _body_chunk,
    ev.SseEvent: _sse_event,
    ev.BodyEnd: _body_end,
    ev.FlowError: _flow_error,
    ev.WsMessage: _ws_message,
    ev.WsClose: _ws_close,
    ev.H2Reset: _h2_reset,
    ev.H2GoAway: _h2_goaway,
    ev.Relay: _relay,
    ev.FaultFired: _fault_fired,
    ev.Anomaly: _anomaly,
}


@guarded("tearline capture")
def load_capture(path: str | os.PathLike[str], *, fold: bool = False) -> SourceRecord:
    """Read a tearline capture into a ``SourceRecord``. Raises ``InputError`` (from ``read_capture``).

    ``fold``: plain WebSocket messages of a version-2 capture become ``SourceRecord.runs`` (columns per
    stream and direction, ``analysis/evidence/runs.py``) instead of one observation each: what the
    diagnosis reads (the same diagnosis, a fraction of the time and memory on a long capture)."""
    rec = SourceRecord(name="capture", path=str(Path(path)), clock="proxy wall clock")
    state = _State(rec)
    reader = CaptureReader(state, HANDLERS, fold=fold)
    # A long capture makes millions of observations and no reference cycles: the cyclic collector's passes
    # over them while they are made cost a third of the reading (docs/performance.md), so it waits.
    collecting = gc.isenabled()
    gc.disable()
    try:
        cap = read_capture(path, sink=reader)
    finally:
        if collecting:
            gc.enable()
    rec.warnings = list(cap.warnings)
    options = cap.header.get("options")
    rec.meta = {
        "mode": cap.header.get("mode"),
        "options": dict(options) if isinstance(options, dict) else {},
        "started": cap.header.get("started"),
        "complete": cap.complete,
        "events": reader.count,
        "version": cap.source_version,
        "proxy_cost": state.proxy_cost,  # the recorder's measured delay per client connection
    }
    rec.observations.sort(key=attrgetter("t"))
    for run in rec.runs:
        run.freeze()
    return rec
