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
import os
from typing import Any

from tearline.analysis.evidence.jsonshape import obj
from tearline.analysis.evidence.netlog.reader import NetLogStream
from tearline.analysis.evidence.netlog.state import (
    ALREADY_OPEN,
    NOT_FAILURES,
    OPCODES,
    STATUS_RE,
    RequestState,
    SocketState,
    as_int,
    as_str,
    content_type,
    fallback_name,
    first_close,
    invert,
)
from tearline.analysis.evidence.netlog.transport import on_h2, on_socket
from tearline.analysis.evidence.observation import Observation, SourceRecord
from tearline.analysis.evidence.sourcefile import guarded

from tearline.errors import InputError

__all__ = ["Interpreter", "load_netlog"]


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
        self.ws_channels: dict[int, str] = {}  # channel source id -> request key
        self.first_tick: float | None = None
        self.last_tick: float | None = None

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
        tick = as_int(e.get("time"))
        src = e.get("source") or {}
        sid = as_int(src.get("id"))
        if tick is None or sid is None:
            return
        self.first_tick = tick if self.first_tick is None else min(self.first_tick, tick)
        self.last_tick = tick if self.last_tick is None else max(self.last_tick, tick)
        type_id, stype_id, phase_id = as_int(e.get("type")), as_int(src.get("type")), as_int(e.get("phase"))
        name = self.ev.get(type_id, "") if type_id is not None else ""
        stype = self.src.get(stype_id, "") if stype_id is not None else ""
        phase = self.phase.get(phase_id, "PHASE_NONE") if phase_id is not None else "PHASE_NONE"
        params = obj(e.get("params"))
        where = f"event {index}"
        if stype == "URL_REQUEST":
            self.on_request(sid, name, phase, params, tick, where)
        elif stype == "SOCKET":
            on_socket(self, sid, name, phase, params, tick, where)
        elif stype == "HTTP2_SESSION":
            on_h2(self, sid, name, params, tick, where)
        elif stype == "WEBSOCKET_CHANNEL":
            self.on_channel(sid, name, phase, params, tick, where)
        elif stype == "QUIC_SESSION" and name == "QUIC_SESSION_CLOSED":
            self.add(
                "socket_closed",
                tick,
                where,
                text=f"QUIC session closed: {params.get('details') or params.get('quic_error')}",
                by="peer" if params.get("from_peer") else "local",
            )
        if name == "NETWORK_CHANGED":
            self.add("network_changed", tick, where, text=str(params.get("new_connection_type", "")))

    def on_request(self, sid: int, name: str, phase: str, p: dict[str, Any], tick: float, where: str) -> None:
        r = self.request(sid)
        if name == "REQUEST_ALIVE" and phase == "PHASE_BEGIN":
            r.url = r.url or as_str(p.get("url"))
            if r.url and r.url.startswith(("ws://", "wss://")):
                r.is_ws = True
            if not r.started:
                r.started = True
                kind = "ws_created" if r.is_ws else "request_start"
                # a synthetic BEGIN (logging started while the request was open) carries its state
                pending = ALREADY_OPEN if ("is_pending" in p or "load_state" in p) else None
                r.start_obs = self.add(
                    kind,
                    tick,
                    where,
                    stream_key=r.key,
                    url=r.url,
                    text=as_str(p.get("method")),
                    time_note=pending,
                )
            return
        if name == "URL_REQUEST_START_JOB" and phase == "PHASE_BEGIN":
            first_job = r.method is None
            r.method = r.method or as_str(p.get("method"))
            r.url = r.url or as_str(p.get("url"))
            if r.start_obs is not None and first_job:
                self.obs[r.start_obs] = dataclasses.replace(self.obs[r.start_obs], text=r.method, url=r.url)
            if p.get("request_type") == "main frame":
                self.add("navigation", tick, where, stream_key=r.key, url=as_str(p.get("url")), text=r.method)
        elif name == "URL_REQUEST_REDIRECTED":
            r.url = as_str(p.get("location")) or r.url
        elif name in ("HTTP_STREAM_REQUEST_BOUND_TO_JOB", "HTTP_STREAM_JOB_CONTROLLER_BOUND"):
            dep = p.get("source_dependency") or {}
            job = as_int(dep.get("id")) if isinstance(dep, dict) else None
            if job is not None:
                self.job_to_request[job] = r.key
                waiting = self.job_to_socket.get(job)
                if waiting is not None:
                    self.link(self.socket(waiting), r)
        elif name in ("HTTP_TRANSACTION_SEND_REQUEST_HEADERS", "HTTP_TRANSACTION_HTTP2_SEND_REQUEST_HEADERS"):
            if name.startswith("HTTP_TRANSACTION_HTTP2"):
                r.h2_headers_t = tick
            if r.is_ws:
                self.add("ws_handshake_request", tick, where, stream_key=r.key, url=r.url)
        elif name == "HTTP_TRANSACTION_SEND_REQUEST_BODY":
            self.add("data_sent", tick, where, stream_key=r.key, url=r.url, size=as_int(p.get("length")))
        elif name == "HTTP_TRANSACTION_READ_RESPONSE_HEADERS":
            headers = p.get("headers")
            first = headers[0] if isinstance(headers, list) and headers else ""
            m = STATUS_RE.match(first if isinstance(first, str) else "")
            r.status = int(m.group(1)) if m else None
            kind = "ws_open" if r.is_ws and r.status == 101 else "response_headers"
            text = None if kind == "ws_open" else content_type(headers)
            self.add(kind, tick, where, stream_key=r.key, url=r.url, status=r.status, text=text)
        elif name == "URL_REQUEST_JOB_FILTERED_BYTES_READ":
            size = as_int(p.get("byte_count")) or 0
            r.bytes_read += size
            self.add("data_received", tick, where, stream_key=r.key, url=r.url, size=size, direction="server")
        elif name in ("WEBSOCKET_SENT_FRAME_HEADER", "WEBSOCKET_RECV_FRAME_HEADER"):
            self.on_frame(r, name, p, tick, where)
        elif name in ("WEBSOCKET_UPGRADE_FAILURE", "WEBSOCKET_INVALID_FRAME", "WEBSOCKET_CLOSE_TIMEOUT"):
            code = self.net_error(p.get("net_error"))
            text = as_str(p.get("message")) or as_str(p.get("reason")) or name.lower().replace("_", " ")
            self.add(
                "ws_error",
                tick,
                where,
                stream_key=r.key,
                url=r.url,
                text=text,
                code=code,
                error=self.name(code),
            )
        elif name == "CANCELLED":
            code = self.net_error(p.get("net_error"))
            if code is None or code == -3:
                self.cancel(r, tick, where)
            elif code not in NOT_FAILURES:
                self.fail(r, code, tick, where)
        elif name == "FAILED":
            code = self.net_error(p.get("net_error"))
            if code is not None and code not in NOT_FAILURES:
                self.fail(r, code, tick, where)
        elif name == "HTTP2_STREAM_ERROR":
            sid2 = as_int(p.get("stream_id"))
            text = f"HTTP/2 stream {sid2}: {p.get('description', '')}".strip()
            self.socket_error(r, self.net_error(p.get("net_error")), text, tick, where)
        elif name == "HTTP_TRANSACTION_RESTART_AFTER_ERROR":
            text = "retried on a fresh connection (the reused keep-alive connection was closed)"
            self.socket_error(r, self.net_error(p.get("net_error")), text, tick, where)
        if name == "REQUEST_ALIVE" and phase == "PHASE_END":
            code = self.net_error(p.get("net_error"))
            if code is not None and code not in NOT_FAILURES and r.error is None:
                self.fail(r, code, tick, where)
            elif code == -3 and not r.cancelled:  # an explicit ERR_ABORTED without a CANCELLED event
                self.cancel(r, tick, where)
            if not r.ended:
                r.ended = True
                if r.error is None and not r.cancelled and not r.is_ws and code not in (-173,):
                    self.add("request_done", tick, where, stream_key=r.key, url=r.url, size=r.bytes_read)

    def fail(self, r: RequestState, code: int, tick: float, where: str) -> None:
        if r.error is not None:
            return
        r.error = code
        kind = "ws_error" if r.is_ws and r.status != 101 else "request_failed"
        self.add(kind, tick, where, stream_key=r.key, url=r.url, error=self.name(code), code=code)

    def cancel(self, r: RequestState, tick: float, where: str) -> None:
        """The request was cancelled (ERR_ABORTED, -3): mark it and add ``request_cancelled``."""
        r.cancelled = True
        self.add("request_cancelled", tick, where, stream_key=r.key, url=r.url, error="ERR_ABORTED", code=-3)

    def socket_error(self, r: RequestState, code: int | None, text: str, tick: float, where: str) -> None:
        """A ``socket_error`` on the request's connection, with the net error (if any) and a note."""
        self.add(
            "socket_error",
            tick,
            where,
            stream_key=r.key,
            url=r.url,
            code=code,
            error=self.name(code),
            text=text,
        )

    def on_frame(self, r: RequestState, name: str, p: dict[str, Any], tick: float, where: str) -> None:
        r.is_ws = True  # frames prove it, even when the request began before logging did
        if r.status is None:
            r.status = 101
        sent = name == "WEBSOCKET_SENT_FRAME_HEADER"
        opcode = as_int(p.get("opcode"))
        size = as_int(p.get("payload_length"))
        direction = "client" if sent else "server"
        if opcode == 8:
            kind = "ws_close_sent" if sent else "ws_close_received"
            if sent:
                r.sent_close_frame = True
            else:
                r.recv_close_frame = True
            r.close_obs[direction] = self.add(
                kind, tick, where, stream_key=r.key, url=r.url, size=size, direction=direction
            )
            return
        kind = "ws_frame_sent" if sent else "ws_frame_received"
        text = OPCODES.get(opcode or 0, str(opcode))
        self.add(kind, tick, where, stream_key=r.key, url=r.url, size=size, direction=direction, text=text)

    def on_channel(self, sid: int, name: str, phase: str, p: dict[str, Any], tick: float, where: str) -> None:
        if name == "WEBSOCKET_ALIVE" and phase == "PHASE_BEGIN":
            # Chrome >= ~147: the channel's URL_REQUEST has the next source id (verified on 148 and 156)
            self.ws_channels[sid] = str(sid + 1)
            url = as_str(p.get("url"))
            if url:  # a channel already open when logging started names its URL here
                r = self.request(sid + 1)
                r.url = r.url or url
                r.is_ws = True
                if p.get("state") == "CONNECTED":
                    r.status = r.status or 101
                if not r.started:
                    r.started = True
                    reason = ALREADY_OPEN if p.get("state") == "CONNECTED" else None
                    r.start_obs = self.add(
                        "ws_created", tick, where, stream_key=r.key, url=r.url, time_note=reason
                    )
        elif (name == "WEBSOCKET_STATE_CHANGED" and p.get("new_state") == "CLOSED") or (
            name == "WEBSOCKET_ALIVE" and phase == "PHASE_END"
        ):
            key = self.ws_channels.get(sid)
            req = self.requests.get(int(key)) if key else None
            if req is not None and req.is_ws and not req.ws_closed:
                self.ws_closed(req, tick, where)

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
                self.obs[i] = dataclasses.replace(self.obs[i], code=recv[0] or 1005, reason=recv[1])
            if sent is not None and "client" in r.close_obs:
                i = r.close_obs["client"]
                self.obs[i] = dataclasses.replace(self.obs[i], code=sent[0] or 1005, reason=sent[1])
            if r.closed_obs is not None:
                if r.recv_close_frame:
                    code = (recv[0] or 1005) if recv else None
                    reason = recv[1] if recv else "close frame received (payload not in this capture mode)"
                    clean = "clean" if (s is None or (s.fin and not s.error)) else "unclean"
                else:
                    code, reason, clean = 1006, "", "unclean"
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
    for index, event in stream.events():
        if interp is None:
            interp = Interpreter(str(path), stream.constants)
        interp.feed(index, event)
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
            "first_t": None if interp.first_tick is None else (interp.first_tick + interp.offset_ms) / 1000.0,
            "last_t": None if interp.last_tick is None else (interp.last_tick + interp.offset_ms) / 1000.0,
        },
    )
