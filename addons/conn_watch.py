"""How each connection ended: the one place tearline patches mitmproxy's connection handler.

mitmproxy's ``ConnectionHandler.handle_connection`` reads each socket until
``reader.read`` returns ``b""`` or raises, then *drops* the ``OSError``: the
``client_disconnected`` / ``server_disconnected`` hooks cannot tell a FIN from a
reset. ``install()`` wraps ``handle_connection`` (mitmproxy 12.3.1) so that the
first thing that ended each connection's reading side is kept as an
``EndReason``:

=================================================  ========  =========
what happened                                      how       by
=================================================  ========  =========
``read`` returned ``b""`` (orderly EOF)            fin       peer
``ConnectionResetError`` (ECONNRESET)              rst       peer
TLS ``close_notify`` alert from the peer           fin       peer  (error "TLS close_notify")
``TimeoutError`` / ETIMEDOUT from the kernel       timeout   peer
other ``OSError`` (EPIPE, EHOSTUNREACH, ...)       error     peer
task cancelled with "timeout" (idle watchdog)      timeout   proxy
task cancelled otherwise ("closed by command",     closed    proxy
"client disconnected", tearline closing it)
write failed ("Error sending data: [Errno 32]...")  rst/error peer
=================================================  ========  =========

``subscribe(cb)`` registers ``cb(conn, reason)``, called synchronously (from the
proxy's event loop, inside the reader task) the moment the end is seen and
*before* mitmproxy processes it, so a relay can act on it first. Callbacks
must not block; their exceptions are swallowed (logged).

Also counts bytes read and written per connection (``EndReason.bytes_*``)
and tracks WebSocket close frames per side (``ws_frames(flow_id)``) by wrapping
the WebSocket layer's relay, because mitmproxy sets ``close_code`` on the first
close event only. The patches are the ``wrap_*`` functions below; ``addons.internals``
applies them (with everyone else's) in one order, once.
"""

from __future__ import annotations

import asyncio
import errno as errno_mod
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = [
    "TLS_CLOSE_NOTIFY",
    "EndReason",
    "WsFrameLog",
    "end_reason",
    "install",
    "installed",
    "io_times",
    "note_proxy_close",
    "reason_from_exception",
    "subscribe",
    "unsubscribe",
    "ws_frames",
]

log = logging.getLogger(__name__)

_MAX_KEPT = 20000  # end reasons / frame logs remembered (oldest forgotten first)


@dataclass(frozen=True, slots=True)
class EndReason:
    """How a connection's reading side ended.

    ``how`` in ``fin``/``rst``/``timeout``/``error``/``closed``; ``by`` in
    ``peer``/``proxy``/``unknown``; ``errno`` and ``error`` (exception text) when
    an exception ended it; ``t`` wall-clock epoch seconds when it was seen;
    ``bytes_received``/``bytes_sent`` on the TCP socket (below TLS) up to then.
    """

    how: str
    by: str
    errno: int | None = None
    error: str | None = None
    t: float | None = None
    bytes_received: int = 0
    bytes_sent: int = 0


TLS_CLOSE_NOTIFY = "TLS close_notify"
"""``EndReason.error`` of a peer that ended TLS with a close_notify alert (``how="fin"``)."""

_RST_ERRNOS = {errno_mod.ECONNRESET, errno_mod.EPIPE, errno_mod.ECONNABORTED}


def reason_from_exception(exc: BaseException | None) -> EndReason:
    """Classify what ``reader.read`` returned or raised (pure). ``None`` = EOF."""
    if exc is None:
        return EndReason("fin", "peer")
    if isinstance(exc, asyncio.CancelledError):
        msg = str(exc.args[0]) if exc.args else ""
        if msg == "timeout":
            return EndReason("timeout", "proxy", error="idle timeout (tcp_timeout)")
        if msg.startswith("Error sending data:"):
            low = msg.lower()
            how = "rst" if ("reset" in low or "broken pipe" in low or "errno 104" in low) else "error"
            return EndReason(how, "peer", error=msg)
        return EndReason("closed", "proxy", error=msg or None)
    if isinstance(exc, ConnectionResetError | ConnectionAbortedError | BrokenPipeError):
        return EndReason("rst", "peer", errno=exc.errno, error=str(exc))
    if isinstance(exc, TimeoutError) or getattr(exc, "errno", None) == errno_mod.ETIMEDOUT:
        return EndReason("timeout", "peer", errno=getattr(exc, "errno", None), error=str(exc))
    if isinstance(exc, OSError):
        how = "rst" if exc.errno in _RST_ERRNOS else "error"
        return EndReason(how, "peer", errno=exc.errno, error=str(exc))
    return EndReason("error", "unknown", error=f"{type(exc).__name__}: {exc}")


# --- state ------------------------------------------------------------------------------

_reasons: OrderedDict[str, EndReason] = OrderedDict()
_counts: dict[str, list[Any]] = {}  # conn id -> [received, sent, last read time, last write time]
_subscribers: list[Callable[[Any, EndReason], None]] = []
_delivered: set[str] = set()  # connections whose ConnectionClosed reached the layers
_pending: set[asyncio.Task[None]] = set()
_installed = False
_now = time.time


@dataclass
class WsFrameLog:
    """Close frames seen on one WebSocket flow, in order: ``[(side, code, reason, t)]``;
    ``ends``: connection ends seen by the WebSocket layer ``[(side, t)]``."""

    closes: list[tuple[str, int | None, str, float]]
    ends: list[tuple[str, float]]
    # close frames the proxy sent on its own (a tearline fault): [(side sent TO, code, reason, t)]
    proxy: list[tuple[str, int | None, str, float]] = field(default_factory=list)


def note_proxy_close(flow_id: str, to_side: str, code: int | None, reason: str, t: float) -> None:
    """Record a close frame the proxy itself sent to ``to_side`` (so the closer is ``proxy``)."""
    frames = _ws.get(flow_id)
    if frames is None:
        frames = WsFrameLog([], [])
        _remember(_ws, flow_id, frames)
    frames.proxy.append((to_side, code, reason, t))


_ws: OrderedDict[str, WsFrameLog] = OrderedDict()


def _remember(store: OrderedDict[str, Any], key: str, value: Any) -> None:
    store[key] = value
    while len(store) > _MAX_KEPT:
        store.popitem(last=False)


def end_reason(conn: Any) -> EndReason | None:
    """The recorded end of ``conn`` (a mitmproxy ``Connection`` or its id), or None."""
    key = conn if isinstance(conn, str) else getattr(conn, "id", None)
    return _reasons.get(key) if key else None


def ws_frames(flow_id: str) -> WsFrameLog | None:
    return _ws.get(flow_id)


def io_times(conn_id: str | None) -> tuple[float, float] | None:
    """Wall-clock times of ``conn_id``'s last socket read that returned data and of its last
    write (0.0 when none yet), or None for a connection not watched (or ended)."""
    counts = _counts.get(conn_id) if conn_id else None
    return (counts[2], counts[3]) if counts is not None else None


def subscribe(callback: Callable[[Any, EndReason], None]) -> None:
    """Call ``callback(conn, reason)`` whenever a connection's end is seen (idempotent)."""
    if callback not in _subscribers:
        _subscribers.append(callback)


def unsubscribe(callback: Callable[[Any, EndReason], None]) -> None:
    if callback in _subscribers:
        _subscribers.remove(callback)


def installed() -> bool:
    return _installed


def _set_reason(conn: Any, reason: EndReason) -> None:
    import time

    cid = getattr(conn, "id", None)
    if cid is None or cid in _reasons:
        return
    counts = _counts.pop(cid, [0, 0, 0.0, 0.0])
    reason = replace(reason, t=time.time(), bytes_received=counts[0], bytes_sent=counts[1])
    _remember(_reasons, cid, reason)
    for cb in list(_subscribers):
        try:
            cb(conn, reason)
        except Exception:
            log.exception("conn_watch subscriber failed")


def _wrap_io(conn: Any, io: Any) -> None:
    reader, writer = getattr(io, "reader", None), getattr(io, "writer", None)
    if not isinstance(reader, asyncio.StreamReader) or reader.__dict__.get("_tearline_read_layers"):
        return
    cid = conn.id
    counts = _counts.setdefault(cid, [0, 0, 0.0, 0.0])

    def count(orig_read: Any) -> Any:

        async def read(n: int = -1) -> bytes:
            try:
                data: bytes = await orig_read(n)
            except asyncio.CancelledError as e:
                # a failed write cancels the reader ("Error sending data: Connection lost"); the
                # transport has usually stored the real cause (ECONNRESET) or seen the EOF already
                stored = reader.exception()
                if isinstance(stored, OSError) and str(e.args[0] if e.args else "").startswith(
                    "Error sending"
                ):
                    _set_reason(conn, reason_from_exception(stored))
                elif reader.at_eof() and str(e.args[0] if e.args else "").startswith("Error sending"):
                    _set_reason(conn, reason_from_exception(None))
                else:
                    _set_reason(conn, reason_from_exception(e))
                raise
            except OSError as e:
                _set_reason(conn, reason_from_exception(e))
                raise
            if data:
                counts[0] += len(data)
                counts[2] = _now()
            else:
                _set_reason(conn, reason_from_exception(None))
            return data

        return read

    from tearline.addons import internals

    internals.wrap_read(reader, "count", count)
    if isinstance(writer, asyncio.StreamWriter):
        orig_write = writer.write

        def write(data: Any) -> None:
            counts[1] += len(data)
            orig_write(data)
            counts[3] = _now()

        writer.write = write  # type: ignore[method-assign]


def install() -> None:
    """Patch mitmproxy once (idempotent), through ``addons.internals``. Call from an addon's ``load``."""
    global _installed
    from tearline.addons import internals

    internals.apply()
    _installed = True


# --- the patches (applied by addons.internals.apply, in its PATCHES order) --------------------

_orig_server_event: Any = None


def wrap_handle_connection(orig_handle: Any) -> Any:
    """``ConnectionHandler.handle_connection``: wrap the connection's reads, keep how it ended."""

    async def handle_connection(self: Any, connection: Any) -> None:
        io = self.transports.get(connection)
        if io is not None:
            _wrap_io(connection, io)
        try:
            await orig_handle(self, connection)
        except asyncio.CancelledError as e:
            _set_reason(connection, reason_from_exception(e))
            _redeliver_close(self, connection)
            _close_abandoned(self, connection)
            raise
        finally:
            # ended without our reader seeing it (e.g. cancelled while draining)
            _set_reason(connection, EndReason("closed", "proxy"))
            _delivered.discard(connection.id)

    return handle_connection


def _close_abandoned(handler: Any, connection: Any) -> None:
    """Close a connection whose task was cancelled before mitmproxy could close it.

    mitmproxy 12.3.1 race: ``handle_connection`` awaits ``server_event``, which first waits
    for the handler's event lock. When another task holds the lock and its event makes the
    layers close this connection (``CloseConnection``: its task is cancelled), the
    cancellation lands in that wait, outside the loop's ``except``: the task ends without
    ``writer.close()``, so the peer never sees the TCP close (the close frame already went
    out; Autobahn 4.1.5/4.2.5 then failed "FAILED BY CLIENT" in about 1 run in 10). Do what
    mitmproxy's own path does: close the writer (queued data is flushed first) and forget it.
    """
    from mitmproxy.connection import ConnectionState

    io = handler.transports.get(connection)
    if io is None or connection.state is not ConnectionState.CLOSED:
        return
    writer = io.writer
    if isinstance(writer, asyncio.StreamWriter) and not writer.is_closing():
        writer.close()
    handler.transports.pop(connection, None)


def wrap_server_event(orig_server_event: Any) -> Any:
    """``ConnectionHandler.server_event``: track which ``ConnectionClosed`` reached the layers.

    mitmproxy 12.3.1 race: when a peer resets right after sending data, another task's
    drain_writers() can cancel this connection's task ("Error sending data") while it waits
    to deliver ConnectionClosed; the layers then never learn the peer is gone and the other
    side is never closed (a WebSocket client waits forever). Track deliveries, and deliver
    a lost ConnectionClosed from a fresh task (``_redeliver_close``).
    """
    from mitmproxy.proxy import events as mevents

    global _orig_server_event
    _orig_server_event = orig_server_event

    async def server_event(self: Any, event: Any) -> None:
        await orig_server_event(self, event)
        if isinstance(event, mevents.ConnectionClosed):
            _delivered.add(event.connection.id)

    return server_event


def _redeliver_close(handler: Any, connection: Any) -> None:
    from mitmproxy.proxy import events as mevents

    reason = _reasons.get(connection.id)
    if reason is None or reason.by != "peer" or connection.id in _delivered or _orig_server_event is None:
        return
    _delivered.add(connection.id)

    async def deliver() -> None:
        try:
            await _orig_server_event(handler, mevents.ConnectionClosed(connection))
        except Exception:
            log.exception("conn_watch: delivering a lost ConnectionClosed failed")
        finally:
            _delivered.discard(connection.id)

    _pending.add(task := asyncio.get_running_loop().create_task(deliver()))
    task.add_done_callback(_pending.discard)


def wrap_handle_hook(orig_hook: Any) -> Any:
    """``ProxyConnectionHandler.handle_hook``: wrap a new upstream's writer as soon as it is announced.

    The request is written to a new upstream connection before ``handle_connection`` starts,
    so ``bytes_sent`` counts it only this way.
    """
    from mitmproxy.proxy import server_hooks

    async def handle_hook(self: Any, hook: Any) -> None:
        if isinstance(hook, server_hooks.ServerConnectedHook):
            io = self.transports.get(hook.data.server)
            if io is not None:
                _wrap_io(hook.data.server, io)
        await orig_hook(self, hook)

    return handle_hook


def _side(layer: Any, event: Any) -> str:
    return "client" if getattr(event, "connection", None) == layer.context.client else "server"


def _frames(layer: Any) -> WsFrameLog:
    frames = _ws.get(layer.flow.id)
    if frames is None:
        frames = WsFrameLog([], [])
        _remember(_ws, layer.flow.id, frames)
    return frames


def wrap_relay_messages(orig_relay: Any) -> Any:
    """``WebsocketLayer.relay_messages``: log close frames per side (mitmproxy keeps the first only)."""
    from mitmproxy.proxy import events as mevents

    def relay_messages(self: Any, event: Any) -> Any:
        import time

        ws = self.flow.websocket
        before = ws.close_code if ws is not None else None
        frames = _frames(self)
        if isinstance(event, mevents.ConnectionClosed):
            frames.ends.append((_side(self, event), time.time()))
        result = yield from orig_relay(self, event)
        if (
            isinstance(event, mevents.DataReceived)
            and ws is not None
            and before is None
            and ws.close_code is not None
        ):
            frames.closes.append((_side(self, event), ws.close_code, ws.close_reason or "", time.time()))
        return result

    return relay_messages


def wrap_done(orig_done: Any) -> Any:
    """``WebsocketLayer.done``: log close frames and ends arriving after the layer finished."""
    from mitmproxy.proxy import events as mevents

    def done(self: Any, event: Any) -> Any:
        import time

        frames = _ws.get(self.flow.id)
        if frames is not None:
            if isinstance(event, mevents.DataReceived) and event.data and (event.data[0] & 0x0F) == 0x8:
                code = None
                data = bytes(event.data)
                if len(data) >= 4:  # 2 header bytes (+4 mask bytes from a client) + code
                    masked = bool(data[1] & 0x80)
                    if not masked:
                        code = int.from_bytes(data[2:4], "big")
                    elif len(data) >= 8:
                        mask = data[2:6]
                        code = ((data[6] ^ mask[0]) << 8) | (data[7] ^ mask[1])
                frames.closes.append((_side(self, event), code, "", time.time()))
            elif isinstance(event, mevents.ConnectionClosed):
                frames.ends.append((_side(self, event), time.time()))
        return (yield from orig_done(self, event))

    return done


def wrap_tls_event_to_child(orig_to_child: Any) -> Any:
    """``TLSLayer.event_to_child``: record a TLS ``close_notify`` from the peer as its end (``fin`` by ``peer``).

    mitmproxy's ``TLSLayer.receive_data`` turns a received close_notify into
    ``ConnectionClosed`` for the layers above at once, while the TCP FIN that
    usually follows is read later (and then ignored: ``receive_close`` sees the
    shutdown was already dispatched). Without this the layers, and the relay, would
    see a connection end with no recorded reason: a peer that closes TLS properly
    (Go's ``tls.Conn.Close``, i.e. Caddy) looked like the proxy closing it, and an
    upstream WebSocket drop reached the browser as mitmproxy's clean 1000.
    """
    from mitmproxy.proxy import events as mevents
    from OpenSSL import SSL

    def event_to_child(self: Any, event: Any) -> Any:
        if isinstance(event, mevents.ConnectionClosed) and _received_close_notify(
            self, SSL.RECEIVED_SHUTDOWN
        ):
            _set_reason(event.connection, EndReason("fin", "peer", error=TLS_CLOSE_NOTIFY))
        return (yield from orig_to_child(self, event))

    return event_to_child


def _received_close_notify(layer: Any, flag: int) -> bool:
    tls = getattr(layer, "tls", None)
    try:
        return tls is not None and bool(tls.get_shutdown() & flag)
    except Exception:  # a TLS object in an unexpected state: no claim
        return False
