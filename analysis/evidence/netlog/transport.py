"""Transport-level NetLog events: sockets (FIN, RST, read/write errors, raw WebSocket bytes) and
HTTP/2 sessions (RST_STREAM, GOAWAY, session close), for the interpreter in ``analysis/evidence/netlog/interpreter.py``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tearline.analysis.evidence.jsonshape import arr
from tearline.analysis.evidence.netlog.state import as_int, as_str, b64, h2_code

if TYPE_CHECKING:
    from tearline.analysis.evidence.netlog.interpreter import Interpreter

__all__ = ["on_h2", "on_socket", "request_for_url"]


def on_socket(
    it: Interpreter, sid: int, name: str, phase: str, p: dict[str, Any], tick: float, where: str
) -> None:
    s = it.socket(sid)
    if name == "TCP_CONNECT" and phase == "PHASE_END":
        s.remote = as_str(p.get("remote_address")) or s.remote
    elif name == "SOCKET_IN_USE" and phase == "PHASE_BEGIN":
        dep = p.get("source_dependency") or {}
        job = as_int(dep.get("id")) if isinstance(dep, dict) else None
        if job is not None:
            it.job_to_socket[job] = sid
            key = it.job_to_request.get(job)
            if key is not None:
                it.link(s, it.requests[int(key)])
    elif name in (
        "SOCKET_BYTES_RECEIVED",
        "SSL_SOCKET_BYTES_RECEIVED",
        "SOCKET_BYTES_SENT",
        "SSL_SOCKET_BYTES_SENT",
    ):
        count = as_int(p.get("byte_count"))
        received = "RECEIVED" in name
        if received and count == 0 and name == "SOCKET_BYTES_RECEIVED":
            s.fin = True
        req = it.requests.get(int(s.request)) if s.request else None
        if req is not None and req.is_ws and count:
            data = b64(p.get("bytes"))
            scanners = s.recv if received else s.sent
            scanners["ssl" if name.startswith("SSL") else "plain"].feed(data)
    elif name in ("SOCKET_READ_ERROR", "SOCKET_WRITE_ERROR", "SSL_READ_ERROR", "SSL_WRITE_ERROR"):
        code = it.net_error(p.get("net_error"))
        s.error = s.error or code
        it.add(
            "socket_error",
            tick,
            where,
            stream_key=s.request,
            code=code,
            error=it.name(code),
            text=f"{name.lower().replace('_', ' ')} on {s.remote or 'socket ' + str(sid)}",
        )
    elif name == "SOCKET_ALIVE" and phase == "PHASE_END":
        req = it.requests.get(int(s.request)) if s.request else None
        how = (
            "reset" if s.error == -101 else "peer FIN" if s.fin else "error" if s.error else "closed locally"
        )
        it.add(
            "socket_closed",
            tick,
            where,
            stream_key=s.request,
            url=req.url if req else None,
            text=f"{how} ({s.remote or 'socket ' + str(sid)})",
            error=it.name(s.error) if s.error else None,
            code=s.error,
        )
        if req is not None and req.is_ws and not req.ws_closed and req.status == 101:
            it.ws_closed(req, tick, where)


def on_h2(it: Interpreter, sid: int, name: str, p: dict[str, Any], tick: float, where: str) -> None:
    if name == "HTTP2_SESSION_SEND_HEADERS":
        stream = as_int(p.get("stream_id"))
        headers = arr(p.get("headers"))
        fields = {
            h.split(": ", 1)[0]: h.split(": ", 1)[1] for h in headers if isinstance(h, str) and ": " in h
        }
        if stream is not None and ":path" in fields:
            url = f"{fields.get(':scheme', 'https')}://{fields.get(':authority', '')}{fields[':path']}"
            it.h2_streams[(sid, stream)] = url
    elif name in ("HTTP2_SESSION_SEND_RST_STREAM", "HTTP2_SESSION_RECV_RST_STREAM"):
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
    elif name == "HTTP2_SESSION_RECV_GOAWAY":
        it.add(
            "h2_goaway",
            tick,
            where,
            code=h2_code(p.get("error_code")),
            direction="server",
            text=f"last stream {p.get('last_accepted_stream_id')} {p.get('debug_data', '')}".strip(),
        )
    elif name == "HTTP2_SESSION_CLOSE":
        code = it.net_error(p.get("net_error"))
        it.add(
            "socket_closed",
            tick,
            where,
            code=code,
            error=it.name(code) if code else None,
            text=f"HTTP/2 session closed: {p.get('description', '')}".strip(),
        )


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
