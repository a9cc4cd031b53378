"""URL_REQUEST and WEBSOCKET_CHANNEL NetLog events -> observations, one handler per event name.

For the interpreter in ``analysis/evidence/netlog/interpreter.py``. ``REQUEST_EVENTS`` maps the event
name of a URL_REQUEST source to its handler (``handler(it, r, name, phase, params, tick, where)``, ``r``
the request's ``RequestState``); ``CHANNEL_EVENTS`` does the same for a WebSocket channel, whose events
concern the URL_REQUEST with the next source id. Events without a handler are ignored.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tearline.analysis.evidence.netlog.state import (
    ALREADY_OPEN,
    ERR_ABORTED,
    ERR_WS_UPGRADE,
    NOT_FAILURES,
    OPCODE_CLOSE,
    OPCODES,
    STATUS_RE,
    SWITCHING_PROTOCOLS,
    RequestState,
    as_int,
    as_str,
    content_type,
)

if TYPE_CHECKING:
    from tearline.analysis.evidence.netlog.interpreter import Interpreter

__all__ = ["CHANNEL_EVENTS", "REQUEST_EVENTS", "on_channel", "on_request"]

RequestHandler = Callable[["Interpreter", RequestState, str, str, dict[str, Any], float, str], None]
ChannelHandler = Callable[["Interpreter", int, str, dict[str, Any], float, str], None]


def on_request(
    it: Interpreter, sid: int, name: str, phase: str, p: dict[str, Any], tick: float, where: str
) -> None:
    r = it.request(sid)
    handler = REQUEST_EVENTS.get(name)
    if handler is not None:
        handler(it, r, name, phase, p, tick, where)


def on_channel(
    it: Interpreter, sid: int, name: str, phase: str, p: dict[str, Any], tick: float, where: str
) -> None:
    handler = CHANNEL_EVENTS.get(name)
    if handler is not None:
        handler(it, sid, phase, p, tick, where)


# --- URL_REQUEST -------------------------------------------------------------------------------------
def _alive(
    it: Interpreter, r: RequestState, name: str, phase: str, p: dict[str, Any], tick: float, where: str
) -> None:
    if phase == "PHASE_BEGIN":
        r.url = r.url or as_str(p.get("url"))
        if r.url and r.url.startswith(("ws://", "wss://")):
            r.is_ws = True
        if not r.started:
            r.started = True
            kind = "ws_created" if r.is_ws else "request_start"
            # a synthetic BEGIN (logging started while the request was open) carries its state
            pending = ALREADY_OPEN if ("is_pending" in p or "load_state" in p) else None
            r.start_obs = it.add(
                kind,
                tick,
                where,
                stream_key=r.key,
                url=r.url,
                text=as_str(p.get("method")),
                time_note=pending,
            )
    elif phase == "PHASE_END":
        code = it.net_error(p.get("net_error"))
        if code is not None and code not in NOT_FAILURES and r.error is None:
            fail(it, r, code, tick, where)
        elif code == ERR_ABORTED and not r.cancelled:  # an explicit ERR_ABORTED without a CANCELLED event
            cancel(it, r, tick, where)
        if not r.ended:
            r.ended = True
            if r.error is None and not r.cancelled and not r.is_ws and code != ERR_WS_UPGRADE:
                it.add("request_done", tick, where, stream_key=r.key, url=r.url, size=r.bytes_read)


def _start_job(
    it: Interpreter, r: RequestState, name: str, phase: str, p: dict[str, Any], tick: float, where: str
) -> None:
    if phase != "PHASE_BEGIN":
        return
    first_job = r.method is None
    r.method = r.method or as_str(p.get("method"))
    r.url = r.url or as_str(p.get("url"))
    if r.start_obs is not None and first_job:
        it.obs[r.start_obs] = dataclasses.replace(it.obs[r.start_obs], text=r.method, url=r.url)
    if p.get("request_type") == "main frame":
        it.add("navigation", tick, where, stream_key=r.key, url=as_str(p.get("url")), text=r.method)


def _redirected(
    it: Interpreter, r: RequestState, name: str, phase: str, p: dict[str, Any], tick: float, where: str
) -> None:
    r.url = as_str(p.get("location")) or r.url


def _bound_to_job(
    it: Interpreter, r: RequestState, name: str, phase: str, p: dict[str, Any], tick: float, where: str
) -> None:
    dep = p.get("source_dependency") or {}
    job = as_int(dep.get("id")) if isinstance(dep, dict) else None
    if job is not None:
        it.job_to_request[job] = r.key
        waiting = it.job_to_socket.get(job)
        if waiting is not None:
            it.link(it.socket(waiting), r)


def _send_headers(
    it: Interpreter, r: RequestState, name: str, phase: str, p: dict[str, Any], tick: float, where: str
) -> None:
    if name.startswith("HTTP_TRANSACTION_HTTP2"):
        r.h2_headers_t = tick
    if r.is_ws:
        it.add("ws_handshake_request", tick, where, stream_key=r.key, url=r.url)


def _send_body(
    it: Interpreter, r: RequestState, name: str, phase: str, p: dict[str, Any], tick: float, where: str
) -> None:
    it.add("data_sent", tick, where, stream_key=r.key, url=r.url, size=as_int(p.get("length")))


def _response_headers(
    it: Interpreter, r: RequestState, name: str, phase: str, p: dict[str, Any], tick: float, where: str
) -> None:
    headers = p.get("headers")
    first = headers[0] if isinstance(headers, list) and headers else ""
    m = STATUS_RE.match(first if isinstance(first, str) else "")
    r.status = int(m.group(1)) if m else None
    kind = "ws_open" if r.is_ws and r.status == SWITCHING_PROTOCOLS else "response_headers"
    text = None if kind == "ws_open" else content_type(headers)
    it.add(kind, tick, where, stream_key=r.key, url=r.url, status=r.status, text=text)


def _bytes_read(
    it: Interpreter, r: RequestState, name: str, phase: str, p: dict[str, Any], tick: float, where: str
) -> None:
    size = as_int(p.get("byte_count")) or 0
    r.bytes_read += size
    it.add("data_received", tick, where, stream_key=r.key, url=r.url, size=size, direction="server")


def _frame(
    it: Interpreter, r: RequestState, name: str, phase: str, p: dict[str, Any], tick: float, where: str
) -> None:
    r.is_ws = True  # frames prove it, even when the request began before logging did
    if r.status is None:
        r.status = SWITCHING_PROTOCOLS
    sent = name == "WEBSOCKET_SENT_FRAME_HEADER"
    opcode = as_int(p.get("opcode"))
    size = as_int(p.get("payload_length"))
    direction = "client" if sent else "server"
    if opcode == OPCODE_CLOSE:
        kind = "ws_close_sent" if sent else "ws_close_received"
        if sent:
            r.sent_close_frame = True
        else:
            r.recv_close_frame = True
        r.close_obs[direction] = it.add(
            kind, tick, where, stream_key=r.key, url=r.url, size=size, direction=direction
        )
        return
    kind = "ws_frame_sent" if sent else "ws_frame_received"
    text = OPCODES.get(opcode or 0, str(opcode))
    it.add(kind, tick, where, stream_key=r.key, url=r.url, size=size, direction=direction, text=text)


def _ws_error(
    it: Interpreter, r: RequestState, name: str, phase: str, p: dict[str, Any], tick: float, where: str
) -> None:
    code = it.net_error(p.get("net_error"))
    text = as_str(p.get("message")) or as_str(p.get("reason")) or name.lower().replace("_", " ")
    it.add(
        "ws_error",
        tick,
        where,
        stream_key=r.key,
        url=r.url,
        text=text,
        code=code,
        error=it.name(code),
    )


def _cancelled(
    it: Interpreter, r: RequestState, name: str, phase: str, p: dict[str, Any], tick: float, where: str
) -> None:
    code = it.net_error(p.get("net_error"))
    if code is None or code == ERR_ABORTED:
        cancel(it, r, tick, where)
    elif code not in NOT_FAILURES:
        fail(it, r, code, tick, where)


def _failed(
    it: Interpreter, r: RequestState, name: str, phase: str, p: dict[str, Any], tick: float, where: str
) -> None:
    code = it.net_error(p.get("net_error"))
    if code is not None and code not in NOT_FAILURES:
        fail(it, r, code, tick, where)


def _h2_stream_error(
    it: Interpreter, r: RequestState, name: str, phase: str, p: dict[str, Any], tick: float, where: str
) -> None:
    sid2 = as_int(p.get("stream_id"))
    text = f"HTTP/2 stream {sid2}: {p.get('description', '')}".strip()
    socket_error(it, r, it.net_error(p.get("net_error")), text, tick, where)


def _restart_after_error(
    it: Interpreter, r: RequestState, name: str, phase: str, p: dict[str, Any], tick: float, where: str
) -> None:
    text = "retried on a fresh connection (the reused keep-alive connection was closed)"
    socket_error(it, r, it.net_error(p.get("net_error")), text, tick, where)


REQUEST_EVENTS: dict[str, RequestHandler] = {
    "REQUEST_ALIVE": _alive,
    "URL_REQUEST_START_JOB": _start_job,
    "URL_REQUEST_REDIRECTED": _redirected,
    "HTTP_STREAM_REQUEST_BOUND_TO_JOB": _bound_to_job,
    "HTTP_STREAM_JOB_CONTROLLER_BOUND": _bound_to_job,
    "HTTP_TRANSACTION_SEND_REQUEST_HEADERS": _send_headers,
    "HTTP_TRANSACTION_HTTP2_SEND_REQUEST_HEADERS": _send_headers,
    "HTTP_TRANSACTION_SEND_REQUEST_BODY": _send_body,
    "HTTP_TRANSACTION_READ_RESPONSE_HEADERS": _response_headers,
    "URL_REQUEST_JOB_FILTERED_BYTES_READ": _bytes_read,
    "WEBSOCKET_SENT_FRAME_HEADER": _frame,
    "WEBSOCKET_RECV_FRAME_HEADER": _frame,
    "WEBSOCKET_UPGRADE_FAILURE": _ws_error,
    "WEBSOCKET_INVALID_FRAME": _ws_error,
    "WEBSOCKET_CLOSE_TIMEOUT": _ws_error,
    "CANCELLED": _cancelled,
    "FAILED": _failed,
    "HTTP2_STREAM_ERROR": _h2_stream_error,
    "HTTP_TRANSACTION_RESTART_AFTER_ERROR": _restart_after_error,
}


def fail(it: Interpreter, r: RequestState, code: int, tick: float, where: str) -> None:
    """The request's first real net error: ``request_failed`` (``ws_error`` for a WebSocket not yet open)."""
    if r.error is not None:
        return
    r.error = code
    kind = "ws_error" if r.is_ws and r.status != SWITCHING_PROTOCOLS else "request_failed"
    it.add(kind, tick, where, stream_key=r.key, url=r.url, error=it.name(code), code=code)


def cancel(it: Interpreter, r: RequestState, tick: float, where: str) -> None:
    """The request was cancelled (ERR_ABORTED): mark it and add ``request_cancelled``."""
    r.cancelled = True
    it.add(
        "request_cancelled", tick, where, stream_key=r.key, url=r.url, error="ERR_ABORTED", code=ERR_ABORTED
    )


def socket_error(
    it: Interpreter, r: RequestState, code: int | None, text: str, tick: float, where: str
) -> None:
    """A ``socket_error`` on the request's connection, with the net error (if any) and a note."""
    it.add(
        "socket_error",
        tick,
        where,
        stream_key=r.key,
        url=r.url,
        code=code,
        error=it.name(code),
        text=text,
    )


# --- WEBSOCKET_CHANNEL ---------------------------------------------------------------------------------
def _channel_alive(it: Interpreter, sid: int, phase: str, p: dict[str, Any], tick: float, where: str) -> None:
    if phase == "PHASE_END":
        _channel_closed(it, sid, tick, where)
        return
    if phase != "PHASE_BEGIN":
        return
    # Chrome >= ~147: the channel's URL_REQUEST has the next source id (verified on 148 and 156)
    it.ws_channels[sid] = str(sid + 1)
    url = as_str(p.get("url"))
    if url:  # a channel already open when logging started names its URL here
        r = it.request(sid + 1)
        r.url = r.url or url
        r.is_ws = True
        if p.get("state") == "CONNECTED":
            r.status = r.status or SWITCHING_PROTOCOLS
        if not r.started:
            r.started = True
            reason = ALREADY_OPEN if p.get("state") == "CONNECTED" else None
            r.start_obs = it.add("ws_created", tick, where, stream_key=r.key, url=r.url, time_note=reason)


def _channel_state(it: Interpreter, sid: int, phase: str, p: dict[str, Any], tick: float, where: str) -> None:
    if p.get("new_state") == "CLOSED":
        _channel_closed(it, sid, tick, where)


def _channel_closed(it: Interpreter, sid: int, tick: float, where: str) -> None:
    key = it.ws_channels.get(sid)
    req = it.requests.get(int(key)) if key else None
    if req is not None and req.is_ws and not req.ws_closed:
        it.ws_closed(req, tick, where)


CHANNEL_EVENTS: dict[str, ChannelHandler] = {
    "WEBSOCKET_ALIVE": _channel_alive,
    "WEBSOCKET_STATE_CHANGED": _channel_state,
}
