"""Chrome NetLog -> ``SourceRecord`` of observations on the wall clock.

Reads with ``NetLogStream`` (streamed, truncation-tolerant), decodes every
number through the file's own ``constants`` (event types, source types,
phases and net errors differ between Chrome builds) and turns the events of
URL requests, sockets, HTTP/2 sessions and WebSocket channels into
observations. Clock: ``wall = (time + constants.timeTickOffset) / 1000``
seconds; ``raw_t`` keeps the TimeTicks value in seconds (the same clock as
CDP ``timestamp``).

Emitted kinds (``stream_key`` = the URL_REQUEST source id as a string):

- ``request_start`` (text = method), ``navigation`` (a main-frame request; url = destination),
  ``response_headers`` (status, text = the content type's media type, e.g.
  ``text/event-stream``, as CDP's ``mimeType``), ``data_received`` (size = body bytes of one read),
  ``data_sent`` (request body), ``request_done`` (size = total body bytes),
  ``request_failed`` (error/code: the first real net error), ``request_cancelled`` (ERR_ABORTED).
- A request or WebSocket already open when logging started (a synthetic BEGIN) has
  ``time_note = "already open when logging started"`` on its ``request_start``/``ws_created``:
  its real start time is unknown.
- WebSocket (ws:// or wss:// requests): ``ws_created``, ``ws_handshake_request``, ``ws_open``
  (status 101), ``ws_frame_sent``/``ws_frame_received`` (size, text = opcode name),
  ``ws_close_sent``/``ws_close_received`` (code/reason decoded from raw bytes in Everything mode,
  else None), ``ws_closed`` (code as the page saw it: the received close code, 1005 for an empty
  close, 1006 when none arrived; text 'clean'/'unclean'), ``ws_error`` (upgrade failure, invalid
  frame, close timeout). ``ERR_WS_UPGRADE`` (-173) is the success marker and never a failure.
- ``socket_closed`` (text: 'peer FIN', 'reset', 'closed locally'; error when abnormal; stream_key
  = the last request the socket carried), ``socket_error``, ``h2_rst_stream`` (direction:
  'client' = Chrome sent it), ``h2_goaway``, ``network_changed``.
"""

from __future__ import annotations

import dataclasses
import gc
import os
from collections.abc import Callable
from typing import Any

from tearline.analysis.evidence.jsonshape import obj
from tearline.analysis.evidence.netlog.reader import NetLogStream
from tearline.analysis.evidence.netlog.state import (
    CLOSE_ABNORMAL,
    CLOSE_NO_STATUS,
    RequestState,
    SocketState,
    as_int,
    fallback_name,
    first_close,
    invert,
)
from tearline.analysis.evidence.netlog.transport import H2_EVENTS, SOCKET_EVENTS, on_h2, on_quic, on_socket
from tearline.analysis.evidence.netlog.url_request import (
    CHANNEL_EVENTS,
    REQUEST_EVENTS,
    on_channel,
    on_request,
)
from tearline.analysis.evidence.observation import Observation, SourceRecord
from tearline.analysis.evidence.sourcefile import guarded

from tearline.errors import InputError

__all__ = ["SOURCES", "Interpreter", "load_netlog"]

# source type -> handler(interpreter, source id, event name, phase, params, tick, where); each hands the
# event on by name through its own table (url_request.REQUEST_EVENTS/CHANNEL_EVENTS, transport.SOCKET_EVENTS/
# H2_EVENTS); other source types are ignored, except that NETWORK_CHANGED counts from any source
SourceHandler = Callable[["Interpreter", int, str, str, dict[str, Any], float, str], None]
SOURCES: dict[str, SourceHandler] = {
    "URL_REQUEST": on_request,
    "SOCKET": on_socket,
    "HTTP2_SESSION": on_h2,
    "WEBSOCKET_CHANNEL": on_channel,
    "QUIC_SESSION": on_quic,
}


# every event name a handler reads: the handlers' tables, and the names handled outside them (``on_quic``,
# ``feed``). A handler that reads an event not in its table must add its name here, or the reader skips it.
EVENT_NAMES: frozenset[str] = frozenset(
    {*REQUEST_EVENTS, *CHANNEL_EVENTS, *SOCKET_EVENTS, *H2_EVENTS, "QUIC_SESSION_CLOSED", "NETWORK_CHANGED"}
)


def wanted_types(constants: dict[str, Any]) -> frozenset[int]:
    """The file's event type ids of ``EVENT_NAMES``: events of any other type are never interpreted."""
    types = obj(constants.get("logEventTypes"))
    return frozenset(v for k, v in types.items() if k in EVENT_NAMES and type(v) is int)


class Interpreter:
    def __init__(self, path: str, constants: dict[str, Any]) -> None:
        self.path = path
        self.c = constants
        self.ev = invert(constants.get("logEventTypes"))
        self.src = invert(constants.get("logSourceType"))
        self.phase = invert(constants.get("logEventPhase")) or {
            0: "PHASE_NONE",
            1: "PHASE_BEGIN",
            2: "PHASE_END",
        }
        errors = obj(constants.get("netError"))
        self.err_num: dict[str, int] = {str(k): v for k, v in errors.items() if isinstance(v, int)}
        self.err_name = {v: k for k, v in self.err_num.items()}
        raw_offset = constants.get("timeTickOffset")
        offset = as_int(raw_offset)
        if offset is None:
            try:
                offset = int(float(str(raw_offset)))
            except ValueError:
                raise InputError(
                    f"constants.timeTickOffset is {raw_offset!r}, not a number",
                    path=path,
                    hint="the NetLog is damaged; export it again",
                ) from None
        self.offset_ms = offset
        self.obs: list[Observation] = []
        self.requests: dict[int, RequestState] = {}
        self.sockets: dict[int, SocketState] = {}
        self.job_to_request: dict[int, str] = {}
        self.job_to_socket: dict[int, int] = {}
        self.h2_streams: dict[tuple[int, int], str] = {}  # (session, stream id) -> url
        self.h2_hosts: dict[int, str] = {}  # session -> host:port
        self.h2_last: dict[int, float] = {}  # session -> tick of its last stream activity (headers, data)
        self.ws_channels: dict[int, str] = {}  # channel source id -> request key

    # --- helpers ---------------------------------------------------------------------------------
    def net_error(self, value: Any) -> int | None:
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            if value in self.err_num:
                return self.err_num[value]
            return as_int(value)
        return None

    def name(self, code: int | None) -> str | None:
        if code is None:
            return None
        if code == 0:
            return "OK"
        return self.err_name.get(code) or fallback_name(code)

    def add(self, kind: str, tick: float, where: str, **fields: Any) -> int:
        self.obs.append(
            Observation(
                source="netlog",
                kind=kind,
                t=(tick + self.offset_ms) / 1000.0,
                raw_t=tick / 1000.0,
                where=where,
                **fields,
            )
        )
        return len(self.obs) - 1

    def request(self, sid: int) -> RequestState:
        r = self.requests.get(sid)
        if r is None:
            r = self.requests[sid] = RequestState(key=str(sid))
        return r

    def socket(self, sid: int) -> SocketState:
        s = self.sockets.get(sid)
        if s is None:
            s = self.sockets[sid] = SocketState(sid)
        return s

    def link(self, s: SocketState, r: RequestState) -> None:
        s.request = r.key
        r.socket = s.sid

    # --- the event loop -------------------------------------------------------------------------
    def feed(self, index: int, e: dict[str, Any]) -> None:
        try:  # Chrome's own shapes: ints, and the time as a string of digits
            tick, src, type_id, phase_id = int(e["time"]), e["source"], e["type"], e["phase"]
            sid, stype_id = src["id"], src["type"]
        except (KeyError, TypeError, ValueError):
            return self._feed_any(index, e)
        if type(type_id) is not int or type(phase_id) is not int or type(sid) is not int:
            return self._feed_any(index, e)
        if type(e["time"]) is not str or type(stype_id) is not int:
            return self._feed_any(index, e)
        self._dispatch(
            index,
            sid,
            tick,
            self.ev.get(type_id, ""),
            self.src.get(stype_id, ""),
            self.phase.get(phase_id, "PHASE_NONE"),
            e.get("params"),
        )

    def _feed_any(self, index: int, e: dict[str, Any]) -> None:
        """Any other shape, decoded value by value (``as_int``) as the file allows."""
        tick = as_int(e.get("time"))
        src = e.get("source") or {}
        sid = as_int(src.get("id"))
        if tick is None or sid is None:
            return
        type_id, stype_id, phase_id = as_int(e.get("type")), as_int(src.get("type")), as_int(e.get("phase"))
        name = self.ev.get(type_id, "") if type_id is not None else ""
        stype = self.src.get(stype_id, "") if stype_id is not None else ""
        phase = self.phase.get(phase_id, "PHASE_NONE") if phase_id is not None else "PHASE_NONE"
        self._dispatch(index, sid, tick, name, stype, phase, e.get("params"))

    def _dispatch(
        self, index: int, sid: int, tick: int, name: str, stype: str, phase: str, params: Any
    ) -> None:
        if type(params) is not dict:
            params = obj(params)
        where = f"event {index}"
        handler = SOURCES.get(stype)
        if handler is not None:
            handler(self, sid, name, phase, params, tick, where)
        if name == "NETWORK_CHANGED":
            self.add("network_changed", tick, where, text=str(params.get("new_connection_type", "")))

    def ws_closed(self, r: RequestState, tick: float, where: str) -> None:
        r.ws_closed = True
        r.closed_obs = self.add("ws_closed", tick, where, stream_key=r.key, url=r.url)  # code: finish()

    # --- the end ------------------------------------------------------------------------------------
    def finish(self) -> None:
        """Fill close codes decoded from raw bytes into the close and ws_closed observations."""
        for r in self.requests.values():
            if not r.is_ws:
                continue
            s = self.sockets.get(r.socket) if r.socket is not None else None
            recv = first_close(s.recv) if s else None
            sent = first_close(s.sent) if s else None
            if recv is not None and "server" in r.close_obs:
                i = r.close_obs["server"]
                self.obs[i] = dataclasses.replace(
                    self.obs[i], code=recv[0] or CLOSE_NO_STATUS, reason=recv[1]
                )
            if sent is not None and "client" in r.close_obs:
                i = r.close_obs["client"]
                self.obs[i] = dataclasses.replace(
                    self.obs[i], code=sent[0] or CLOSE_NO_STATUS, reason=sent[1]
                )
            if r.closed_obs is not None:
                if r.recv_close_frame:
                    code = (recv[0] or CLOSE_NO_STATUS) if recv else None
                    reason = recv[1] if recv else "close frame received (payload not in this capture mode)"
                    clean = "clean" if (s is None or (s.fin and not s.error)) else "unclean"
                else:
                    code, reason, clean = CLOSE_ABNORMAL, "", "unclean"
                i = r.closed_obs
                self.obs[i] = dataclasses.replace(self.obs[i], code=code, reason=reason, text=clean)


@guarded("Chrome NetLog")
def load_netlog(path: str | os.PathLike[str], *, flag: str | None = "--netlog") -> SourceRecord:
    """Read a Chrome NetLog (complete or truncated) into a ``SourceRecord``.

    Raises ``InputError`` (one line, naming the file and byte offset) for a file
    that is not a NetLog.
    """
    stream = NetLogStream(path, flag=flag)
    interp: Interpreter | None = None
    collecting = gc.isenabled()
    gc.disable()  # the cyclic collector's passes over the growing state cost more than the reading
    try:
        for index, event in stream.events(wanted_types):
            if interp is None:
                interp = Interpreter(str(path), stream.constants)
            interp.feed(index, event)
    finally:
        if collecting:
            gc.enable()
    if interp is None:
        interp = Interpreter(str(path), stream.constants)
    interp.finish()
    interp.obs.sort(key=lambda o: o.t)
    c = stream.constants
    info = obj(c.get("clientInfo"))
    return SourceRecord(
        name="netlog",
        path=str(path),
        observations=interp.obs,
        clock="netlog timeTickOffset",
        offset=interp.offset_ms / 1000.0,
        warnings=list(stream.warnings),
        meta={
            "browser": " ".join(str(info.get(k, "")) for k in ("name", "version")).strip() or None,
            "os": info.get("os_type"),
            "capture_mode": c.get("logCaptureMode"),
            "events": stream.count,
            "truncated": stream.truncated,
            "first_t": None if stream.first_tick is None else (stream.first_tick + interp.offset_ms) / 1000.0,
            "last_t": None if stream.last_tick is None else (stream.last_tick + interp.offset_ms) / 1000.0,
        },
    )
