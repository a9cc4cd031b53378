"""Transport-level NetLog events -> observations, one handler per event name: sockets (FIN, RST,
read/write errors, raw WebSocket bytes), HTTP/2 sessions (RST_STREAM, GOAWAY, session close) and QUIC
sessions, for the interpreter in ``analysis/evidence/netlog/interpreter.py``.

``SOCKET_EVENTS`` maps a SOCKET source's event name to ``handler(it, s, name, phase, params, tick,
where)`` (``s`` the socket's ``SocketState``); ``H2_EVENTS`` maps an HTTP2_SESSION's event name to
``handler(it, sid, name, params, tick, where)``. Events without a handler are ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tearline.analysis.evidence.jsonshape import arr
from tearline.analysis.evidence.netlog.state import (
    ERR_CONNECTION_RESET,
    SWITCHING_PROTOCOLS,
    SocketState,
    as_int,
    as_str,
    b64,
    h2_code,
)

if TYPE_CHECKING:
    from tearline.analysis.evidence.netlog.interpreter import Interpreter

__all__ = ["H2_EVENTS", "SOCKET_EVENTS", "on_h2", "on_quic", "on_socket", "request_for_url"]

SocketHandler = Callable[["Interpreter", SocketState, str, str, dict[str, Any], float, str], None]
H2Handler = Callable[["Interpreter", int, str, dict[str, Any], float, str], None]


def on_socket(
    it: Interpreter, sid: int, name: str, phase: str, p: dict[str, Any], tick: float, where: str
) -> None:
    s = it.socket(sid)
    handler = SOCKET_EVENTS.get(name)
    if handler is not None:
        handler(it, s, name, phase, p, tick, where)


def on_h2(
    it: Interpreter, sid: int, name: str, phase: str, p: dict[str, Any], tick: float, where: str
) -> None:
    handler = H2_EVENTS.get(name)
    if handler is not None:
        handler(it, sid, name, p, tick, where)


def on_quic(
    it: Interpreter, sid: int, name: str, phase: str, p: dict[str, Any], tick: float, where: str
) -> None:
    if name == "QUIC_SESSION_CLOSED":
        it.add(
            "socket_closed",
            tick,
            where,
            text=f"QUIC session closed: {p.get('details') or p.get('quic_error')}",
            by="peer" if p.get("from_peer") else "local",
        )


# --- SOCKET ------------------------------------------------------------------------------------------
def _tcp_connect(
    it: Interpreter, s: SocketState, name: str, phase: str, p: dict[str, Any], tick: float, where: str
) -> None:
    if phase == "PHASE_END":
        s.remote = as_str(p.get("remote_address")) or s.remote
        if s.remote and not s.used:
            s.idle_since = tick  # a preconnected socket waits in the pool from here


def _in_use(
    it: Interpreter, s: SocketState, name: str, phase: str, p: dict[str, Any], tick: float, where: str
) -> None:
    if phase == "PHASE_END":
        s.idle_since = tick  # the request let go of it: back in the pool, idle
        return
    if phase != "PHASE_BEGIN":
        return
    s.used, s.idle_since = True, None
    dep = p.get("source_dependency") or {}
    job = as_int(dep.get("id")) if isinstance(dep, dict) else None
    if job is not None:
        it.job_to_socket[job] = s.sid
        key = it.job_to_request.get(job)
        if key is not None:
            it.link(s, it.requests[int(key)])


def _bytes(
    it: Interpreter, s: SocketState, name: str, phase: str, p: dict[str, Any], tick: float, where: str
) -> None:
    count = as_int(p.get("byte_count"))
    received = "RECEIVED" in name
    if received and count == 0 and name == "SOCKET_BYTES_RECEIVED":
        s.fin = True
    req = it.requests.get(int(s.request)) if s.request else None
    if req is not None and req.is_ws and count:
        data = b64(p.get("bytes"))
        scanners = s.recv if received else s.sent
        scanners["ssl" if name.startswith("SSL") else "plain"].feed(data)


def _io_error(
    it: Interpreter, s: SocketState, name: str, phase: str, p: dict[str, Any], tick: float, where: str
) -> None:
    code = it.net_error(p.get("net_error"))
    s.error = s.error or code
    it.add(
        "socket_error",
        tick,
        where,
        stream_key=s.request,
        code=code,
        error=it.name(code),
        text=f"{name.lower().replace('_', ' ')} on {s.remote or 'socket ' + str(s.sid)}",
    )


def _pool_closing(
    it: Interpreter, s: SocketState, name: str, phase: str, p: dict[str, Any], tick: float, where: str
) -> None:
    """SOCKET_POOL_CLOSING_SOCKET: Chrome's pool throws an idle socket away, saying why."""
    s.pool_reason = as_str(p.get("reason")) or "closed by the socket pool"
    if s.idle_since is not None:
        s.pool_idle = max(0.0, (tick - s.idle_since) / 1000.0)


# Chrome's words for an idle socket it closes itself (net/socket/client_socket_pool.cc): its idle timers
CHROME_IDLE_EXPIRED = "idle time limit expired"
# ... and for one the server closed while it sat idle in the pool (Chrome notices when it next looks)
REMOTE_CLOSED_IDLE = "remote side closed connection"
CHROME_USED_IDLE_TIMER = "Chrome used idle socket timeout (5 min)"
CHROME_UNUSED_IDLE_TIMER = "Chrome unused idle socket timeout (60 s)"


def _pool_close_fields(s: SocketState) -> dict[str, Any]:
    """Typed fields of an idle socket the pool closed: who ended it, how, Chrome's timer, the idle time."""
    reason = (s.pool_reason or "").lower()
    fields: dict[str, Any] = {"duration": round(s.pool_idle, 3) if s.pool_idle is not None else None}
    if CHROME_IDLE_EXPIRED in reason:
        timer = CHROME_USED_IDLE_TIMER if s.used else CHROME_UNUSED_IDLE_TIMER
        return fields | {"how": "timeout", "by": "local", "timer": timer}
    if REMOTE_CLOSED_IDLE in reason:
        return fields | {"how": "fin", "by": "peer"}
    return fields | {"how": "closed", "by": "local"}


def _alive(
    it: Interpreter, s: SocketState, name: str, phase: str, p: dict[str, Any], tick: float, where: str
) -> None:
    if phase != "PHASE_END":
        return
    req = it.requests.get(int(s.request)) if s.request else None
    how = (
        "reset"
        if s.error == ERR_CONNECTION_RESET
        else "peer FIN"
        if s.fin
        else "error"
        if s.error
        else "closed locally"
    )
    pooled: dict[str, Any] = {}
    if s.pool_reason is not None:
        pooled = _pool_close_fields(s)
        idle = f" after {s.pool_idle:.2f} s idle" if s.pool_idle is not None else ""
        how = f"idle in Chrome's pool{idle}: {s.pool_reason}"
    it.add(
        "socket_closed",
        tick,
        where,
        stream_key=s.request,
        url=req.url if req else None,
        text=f"{how} ({s.remote or 'socket ' + str(s.sid)})",
        error=it.name(s.error) if s.error else None,
        code=s.error,
        **pooled,
    )
    if req is not None and req.is_ws and not req.ws_closed and req.status == SWITCHING_PROTOCOLS:
        it.ws_closed(req, tick, where)


SOCKET_EVENTS: dict[str, SocketHandler] = {
    "TCP_CONNECT": _tcp_connect,
    "SOCKET_IN_USE": _in_use,
    "SOCKET_BYTES_RECEIVED": _bytes,
    "SSL_SOCKET_BYTES_RECEIVED": _bytes,
    "SOCKET_BYTES_SENT": _bytes,
    "SSL_SOCKET_BYTES_SENT": _bytes,
    "SOCKET_READ_ERROR": _io_error,
    "SOCKET_WRITE_ERROR": _io_error,
    "SSL_READ_ERROR": _io_error,
    "SSL_WRITE_ERROR": _io_error,
    "SOCKET_POOL_CLOSING_SOCKET": _pool_closing,
    "SOCKET_ALIVE": _alive,
}


# --- HTTP2_SESSION -----------------------------------------------------------------------------------
def _h2_headers(it: Interpreter, sid: int, name: str, p: dict[str, Any], tick: float, where: str) -> None:
    stream = as_int(p.get("stream_id"))
    headers = arr(p.get("headers"))
    fields = {h.split(": ", 1)[0]: h.split(": ", 1)[1] for h in headers if isinstance(h, str) and ": " in h}
    if stream is not None and ":path" in fields:
        url = f"{fields.get(':scheme', 'https')}://{fields.get(':authority', '')}{fields[':path']}"
        it.h2_streams[(sid, stream)] = url


def _h2_rst_stream(it: Interpreter, sid: int, name: str, p: dict[str, Any], tick: float, where: str) -> None:
    stream = as_int(p.get("stream_id")) or 0
    code = h2_code(p.get("error_code"))
    rst_url = it.h2_streams.get((sid, stream))
    it.add(
        "h2_rst_stream",
        tick,
        where,
        url=rst_url,
        stream_key=request_for_url(it, rst_url, tick),
        code=code,
        direction="client" if "SEND" in name else "server",
        text=f"stream {stream} {p.get('error_code', '')} {p.get('description', '')}".strip(),
    )


def _h2_session(it: Interpreter, sid: int, name: str, p: dict[str, Any], tick: float, where: str) -> None:
    host = as_str(p.get("host"))
    if host:
        it.h2_hosts[sid] = host
    it.h2_last[sid] = tick


def _h2_activity(it: Interpreter, sid: int, name: str, p: dict[str, Any], tick: float, where: str) -> None:
    it.h2_last[sid] = tick


def _h2_goaway(it: Interpreter, sid: int, name: str, p: dict[str, Any], tick: float, where: str) -> None:
    code = h2_code(p.get("error_code"))
    idle: dict[str, Any] = {}
    last = it.h2_last.get(sid)
    if code == 0 and as_int(p.get("active_streams")) == 0 and last is not None:
        # a graceful GOAWAY on a session with no stream open: the server's keep-alive idle timer, and the
        # session's idle time is exact (the server sent it, Chrome did not have to look)
        host = it.h2_hosts.get(sid)
        idle = {
            "how": "fin",
            "by": "peer",
            "duration": round(max(0.0, (tick - last) / 1000.0), 3),
            "url": f"https://{host}/" if host else None,
        }
    it.add(
        "h2_goaway",
        tick,
        where,
        code=code,
        direction="server",
        text=f"last stream {p.get('last_accepted_stream_id')} {p.get('debug_data', '')}".strip(),
        **idle,
    )


def _h2_close(it: Interpreter, sid: int, name: str, p: dict[str, Any], tick: float, where: str) -> None:
    code = it.net_error(p.get("net_error"))
    it.add(
        "socket_closed",
        tick,
        where,
        code=code,
        error=it.name(code) if code else None,
        text=f"HTTP/2 session closed: {p.get('description', '')}".strip(),
    )


def _h2_send_headers(
    it: Interpreter, sid: int, name: str, p: dict[str, Any], tick: float, where: str
) -> None:
    _h2_activity(it, sid, name, p, tick, where)
    _h2_headers(it, sid, name, p, tick, where)


H2_EVENTS: dict[str, H2Handler] = {
    "HTTP2_SESSION": _h2_session,
    "HTTP2_SESSION_SEND_HEADERS": _h2_send_headers,
    "HTTP2_SESSION_RECV_HEADERS": _h2_activity,
    "HTTP2_SESSION_RECV_DATA": _h2_activity,
    "HTTP2_SESSION_SEND_DATA": _h2_activity,
    "HTTP2_SESSION_SEND_RST_STREAM": _h2_rst_stream,
    "HTTP2_SESSION_RECV_RST_STREAM": _h2_rst_stream,
    "HTTP2_SESSION_RECV_GOAWAY": _h2_goaway,
    "HTTP2_SESSION_CLOSE": _h2_close,
}


def request_for_url(it: Interpreter, url: str | None, tick: float) -> str | None:
    if url is None:
        return None
    best: tuple[float, str] | None = None
    for r in it.requests.values():
        if r.url == url and r.h2_headers_t is not None and r.h2_headers_t <= tick:
            gap = tick - r.h2_headers_t
            if best is None or gap < best[0]:
                best = (gap, r.key)
    return best[1] if best else None
