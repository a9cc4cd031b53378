"""A real HTTP/2 client (h2 over TLS) holding several concurrent streams on one connection.

``h2_streams(port, paths)`` opens one TLS connection (ALPN ``h2``, certificate not
checked: Caddy's internal CA or mitmproxy's), sends every request at once and reads
until each stream ended: completed, reset (RST_STREAM code) or lost with the
connection (GOAWAY or EOF).
"""

from __future__ import annotations

import socket
import ssl
import time
from dataclasses import dataclass, field

import h2.config
import h2.connection
import h2.events
from hyperframe.frame import GoAwayFrame

__all__ = ["StreamEnd", "h2_streams"]


@dataclass
class StreamEnd:
    """How one stream ended for the client. ``end``: ``complete``, ``reset``, ``goaway``, ``eof``, ``timeout``."""

    path: str
    status: int | None = None
    body: bytes = b""
    end: str = "timeout"
    error_code: int | None = None  # RST_STREAM or GOAWAY code
    goaway: tuple[int, int] | None = None  # (error code, last stream id) of a GOAWAY seen meanwhile
    frames: list[str] = field(default_factory=list)


def _read_on_after_graceful_goaway(conn: h2.connection.H2Connection) -> None:
    """h2 closes its state machine on any GOAWAY; a browser reads on the streams up to
    ``last_stream_id`` after a graceful one (NO_ERROR), and so does this client (also when
    DATA follows the GOAWAY in the same read)."""
    table = conn._frame_dispatch_table  # type: ignore[attr-defined]
    receive = table[GoAwayFrame]

    def goaway(frame: GoAwayFrame) -> object:
        result = receive(frame)
        if frame.error_code == 0:
            conn.state_machine.state = h2.connection.ConnectionState.CLIENT_OPEN
        return result

    table[GoAwayFrame] = goaway


def h2_streams(
    port: int, paths: list[str], *, host: str = "relay.localhost", timeout: float = 30.0
) -> list[StreamEnd]:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["h2"])
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock = ctx.wrap_socket(raw, server_hostname=host)
    try:
        assert sock.selected_alpn_protocol() == "h2", sock.selected_alpn_protocol()
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        _read_on_after_graceful_goaway(conn)
        conn.initiate_connection()
        ends: dict[int, StreamEnd] = {}
        for path in paths:
            sid = conn.get_next_available_stream_id()
            headers = [
                (":method", "GET"),
                (":path", path),
                (":scheme", "https"),
                (":authority", f"{host}:{port}"),
            ]
            conn.send_headers(sid, headers, end_stream=True)
            ends[sid] = StreamEnd(path)
        sock.sendall(conn.data_to_send())
        deadline = time.monotonic() + timeout
        open_ = set(ends)
        while open_ and time.monotonic() < deadline:
            sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                data = sock.recv(65536)
            except TimeoutError:
                break
            except (ConnectionResetError, ssl.SSLError):
                data = b""
            if not data:
                for sid in open_:
                    ends[sid].end = "eof"
                break
            for ev in conn.receive_data(data):
                sid = getattr(ev, "stream_id", None)
                end = ends.get(sid) if sid is not None else None
                if isinstance(ev, h2.events.ResponseReceived) and end is not None:
                    end.status = int(dict(ev.headers)[b":status"])
                elif isinstance(ev, h2.events.DataReceived) and end is not None:
                    end.body += ev.data
                    conn.acknowledge_received_data(ev.flow_controlled_length, sid)
                elif isinstance(ev, h2.events.StreamEnded) and end is not None:
                    end.end = "complete"
                    open_.discard(sid)
                elif isinstance(ev, h2.events.StreamReset) and end is not None:
                    end.end, end.error_code = "reset", ev.error_code
                    open_.discard(sid)
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    for e in ends.values():
                        e.goaway = (ev.error_code, ev.last_stream_id)
                    for s in list(open_):
                        if s > ev.last_stream_id or ev.error_code:
                            ends[s].end, ends[s].error_code = "goaway", ev.error_code
                            open_.discard(s)
            out = conn.data_to_send()
            if out:
                sock.sendall(out)
        return [ends[s] for s in sorted(ends)]
    finally:
        sock.close()
