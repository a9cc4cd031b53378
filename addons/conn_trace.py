"""Recording connections on both legs: opened, TLS, and how each ended (part of ``WsTrace``).

``ConnRecording`` is a mixin for ``addons.ws_trace.WsTrace``: mitmproxy calls its
connection hooks on the addon; it writes ``conn_open`` / ``conn_tls`` / ``conn_close``
through ``self.emit``. How a connection ended comes from ``addons.conn_watch``.
"""

from __future__ import annotations

import time
from typing import Any

from tearline.addons import conn_watch

from tearline.events import ConnClose, ConnOpen, ConnTls, Event
from tearline.flow_errors import errno_of
from tearline.proxy_cost import CostBook

__all__ = ["ConnRecording", "addr", "alpn", "mono_at"]


def addr(a: Any) -> str | None:
    if not a:
        return None
    try:
        host, port = a[0], a[1]
    except (TypeError, IndexError):
        return str(a)
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


def alpn(conn: Any) -> str | None:
    a = getattr(conn, "alpn", None)
    return a.decode("ascii", "replace") if isinstance(a, bytes) else a


def mono_at(ts: float) -> float:
    """The monotonic time that corresponds to wall-clock ``ts``."""
    return time.monotonic() - (time.time() - ts)


class ConnRecording:
    """Connection hooks. Needs ``emit(event)``, ``flush()`` and ``cost`` from the addon."""

    cost: CostBook

    def emit(self, event: Event) -> None:  # pragma: no cover - provided by WsTrace
        raise NotImplementedError

    def flush(self) -> None:  # pragma: no cover - provided by WsTrace
        raise NotImplementedError

    def _conn_open(self, conn: Any, leg: str, ts: float | None, client_conn: str | None = None) -> None:
        """``ConnOpen`` for a mitmproxy Client/Server at ``ts`` (wall clock, s; now when unknown)."""
        ts = ts or time.time()
        self.emit(
            ConnOpen(
                ts=ts,
                mono=mono_at(ts),
                conn=conn.id,
                leg=leg,  # type: ignore[arg-type]
                peer=addr(conn.peername),
                local=addr(conn.sockname),
                client_conn=client_conn,
            )
        )

    def client_connected(self, client: Any) -> None:
        self._conn_open(client, "client", client.timestamp_start)

    def server_connected(self, data: Any) -> None:
        self._conn_open(data.server, "server", data.server.timestamp_tcp_setup, client_conn=data.client.id)

    def _tls(self, conn: Any, leg: str) -> None:
        ts = conn.timestamp_tls_setup or time.time()
        self.emit(
            ConnTls(
                ts=ts,
                mono=mono_at(ts),
                conn=conn.id,
                leg=leg,  # type: ignore[arg-type]
                tls_version=conn.tls_version,
                alpn=alpn(conn),
                sni=conn.sni,
                cipher=getattr(conn, "cipher", None),
            )
        )

    def tls_established_client(self, data: Any) -> None:
        self._tls(data.conn, "client")

    def tls_established_server(self, data: Any) -> None:
        self._tls(data.conn, "server")

    def _conn_close(self, conn: Any, leg: str, error: str | None = None) -> None:
        reason = conn_watch.end_reason(conn)
        ts = conn.timestamp_end or time.time()
        kw: dict[str, Any] = {}
        if reason is not None:
            kw = {
                "by": reason.by,
                "how": reason.how,
                "errno": reason.errno,
                "error": reason.error,
                "bytes_received": reason.bytes_received,
                "bytes_sent": reason.bytes_sent,
            }
            if reason.t is not None:
                ts = reason.t
        elif error:
            kw = {"by": "peer", "how": "error", "error": error, "errno": errno_of(error)}
        if leg == "client":
            kw["proxy_cost"] = self.cost.pop(conn.id)
        self.emit(ConnClose(ts=ts, mono=mono_at(ts), conn=conn.id, leg=leg, **kw))  # type: ignore[arg-type]
        self.flush()

    def client_disconnected(self, client: Any) -> None:
        self._conn_close(client, "client")

    def server_disconnected(self, data: Any) -> None:
        self._conn_close(data.server, "server")

    def server_connect_error(self, data: Any) -> None:
        self._conn_close(data.server, "server", error=data.server.error or "connect failed")
