"""Acting on live connections below mitmproxy's public API: sockets, the WebSocket layer, reads.

mitmproxy has no public API to reset a connection, to close one side of a WebSocket
with a chosen code, to stop reading a socket, or to learn whether a peer ended with
FIN or RST. The internals used here are listed (with the release they were verified
with) in ``addons.internals``, which ``tests/test_internals.py`` checks:

- ``Proxyserver.connections[client.id]`` -> the ``ConnectionHandler`` of a client
  connection (``proxy/mode_servers.py:218``, ``addons/proxyserver.py:137``);
- ``ConnectionHandler.transports[conn]`` -> ``ConnectionIO(handler, reader, writer)``
  (``proxy/server.py:91``); ``writer.transport`` is the asyncio transport and
  ``writer.get_extra_info("socket")`` the socket (raw TCP, *below* TLS);
- ``ConnectionHandler.close_connection`` and ``.server_event`` (``proxy/server.py``);
- the layer tree from ``handler.layer`` (``NextLayer.layer``, ``child_layer``,
  ``HttpLayer.streams``/``connections``) down to the flow's ``WebsocketLayer``
  (``client_ws``/``server_ws`` wsproto connections, ``relay_messages``, ``done``).

Nothing here imports tearline's event vocabulary or records anything: callers
(``addons.relay``, the fault addon) decide and record. Functions that find nothing
to act on (flow no longer live, connection already gone) return False and do nothing.

How a connection ended (FIN or RST from the peer) is ``addons.conn_watch``'s job;
a connection closed here is reported there as ``closed`` by ``proxy``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Generator, Iterator
from typing import Any, Literal

import wsproto
import wsproto.events
from mitmproxy import ctx, http
from mitmproxy import flow as mflow
from mitmproxy.connection import Connection, ConnectionState
from mitmproxy.proxy import commands as pcommands
from mitmproxy.proxy import events as pevents
from mitmproxy.proxy import layer as player
from mitmproxy.proxy.layers.http import DropStream, HttpLayer, HttpStream, SendHttp
from mitmproxy.proxy.layers.http._events import ErrorCode, RequestProtocolError
from mitmproxy.proxy.layers.http._hooks import HttpErrorHook
from mitmproxy.proxy.layers.http._http2 import Http2Server
from mitmproxy.proxy.layers.websocket import WebsocketEndHook, WebsocketLayer, WebSocketMessageInjected
from mitmproxy.proxy.server import ConnectionHandler, ConnectionIO
from mitmproxy.websocket import WebSocketMessage
from tearline.addons import conn_watch, internals
from wsproto.connection import ConnectionState as WsState
from wsproto.frame_protocol import Opcode

from tearline.tcp_end import reset_writer

__all__ = [
    "MITMPROXY_VERSION",
    "WS_ACTIONS",
    "close_conn",
    "close_transport",
    "cut_body",
    "h2_goaway",
    "h2_reset_stream",
    "handler_for",
    "handler_for_client",
    "io_for",
    "pause_reading",
    "resume_reading",
    "walk_layers",
    "ws_layer_for",
    "ws_open",
    "ws_terminate",
]

MITMPROXY_VERSION = internals.MITMPROXY
"""The mitmproxy release this module was verified with (``addons.internals.MITMPROXY``)."""

How = Literal["fin", "rst"]
WsAction = Literal["close", "fin", "rst", "keep"]
WS_ACTIONS: tuple[str, ...] = ("close", "fin", "rst", "keep")


# --- finding things -------------------------------------------------------------------


def handler_for_client(client_id: str) -> ConnectionHandler | None:
    """The ``ConnectionHandler`` of the client connection with this id, or None when it is gone."""
    ps = ctx.master.addons.get("proxyserver")  # type: ignore[no-untyped-call]
    return ps.connections.get(client_id) if ps is not None else None


def handler_for(flow: Any) -> ConnectionHandler | None:
    """The ``ConnectionHandler`` serving ``flow``'s client connection, or None when it is gone."""
    return handler_for_client(flow.client_conn.id)


def io_for(flow: Any, conn: Connection) -> ConnectionIO | None:
    """``conn``'s transport entry (reader, writer, task) on ``flow``'s handler, or None."""
    h = handler_for(flow)
    return h.transports.get(conn) if h is not None else None


def _children(lay: Any) -> Iterator[Any]:
    for attr in ("layer", "child_layer"):
        child = getattr(lay, attr, None)
        if isinstance(child, player.Layer):
            yield child
    for attr in ("streams", "connections"):
        table = getattr(lay, attr, None)
        if isinstance(table, dict):
            yield from (v for v in table.values() if isinstance(v, player.Layer) or hasattr(v, "child_layer"))


def _walk(root: Any) -> Iterator[Any]:
    seen: set[int] = set()
    todo = [root]
    while todo:
        lay = todo.pop()
        if lay is None or id(lay) in seen:
            continue
        seen.add(id(lay))
        yield lay
        todo.extend(_children(lay))


def walk_layers(root: Any) -> Iterator[Any]:
    """Every layer below ``root`` (a handler's ``layer``), each once."""
    return _walk(root)


def ws_layer_for(flow: Any) -> WebsocketLayer | None:
    """The live ``WebsocketLayer`` relaying ``flow``, or None (not a WebSocket, or gone)."""
    h = handler_for(flow)
    if h is None:
        return None
    for lay in _walk(h.layer):
        if isinstance(lay, WebsocketLayer) and lay.flow is flow:
            return lay
    return None


def ws_open(lay: WebsocketLayer, side: Literal["client", "server"]) -> bool:
    """True while no close frame has been received from ``side`` and the layer still relays."""
    if lay._handle_event == lay.done:
        return False
    ws = getattr(lay, "client_ws" if side == "client" else "server_ws", None)
    return ws is not None and ws.state is WsState.OPEN


# --- acting on connections ----------------------------------------------------------------------


def close_transport(handler: ConnectionHandler, conn: Connection, how: How = "fin") -> bool:
    """Like ``close_conn``, given the connection handler instead of a flow."""
    io = handler.transports.get(conn)
    if io is None or not isinstance(io.writer, asyncio.StreamWriter):
        return False
    writer = io.writer
    if how == "rst":
        reset_writer(writer)  # close() with linger 0 -> RST; unsent buffered data is dropped
    else:
        writer.close()  # flush what mitmproxy already wrote, then FIN
    # mark CLOSED and cancel its reader task (closing the writer ourselves makes the close deterministic)
    conn.state = ConnectionState.CLOSED
    if io.handler is not None:
        io.handler.cancel("closed by tearline")
    return True


def close_conn(flow: Any, conn: Connection, how: How = "fin") -> bool:
    """End ``conn`` (``flow.client_conn`` or ``flow.server_conn``) at TCP level, now.

    ``how="fin"``: flush what mitmproxy already queued, then an orderly close (FIN).
    ``how="rst"``: SO_LINGER 0 and abort, so the peer gets a TCP RST (ECONNRESET);
    queued unsent data is discarded, as with a real reset. Below TLS: no close_notify.
    mitmproxy's layers still hear of the close: on a live WebSocket the other side
    then gets a 1000 close frame, so use ``ws_terminate`` to choose both sides there.
    Returns False when the connection is already gone.
    """
    if how not in ("fin", "rst"):
        raise ValueError(f"how must be 'fin' or 'rst', not {how!r}")
    h = handler_for(flow)
    return h is not None and close_transport(h, conn, how)


def pause_reading(flow: Any, conn: Connection) -> bool:
    """Stop reading ``conn``'s socket: the kernel buffers fill and the peer's sends block.

    Real TCP backpressure, unlike holding a hook (which keeps reading into RAM).
    Up to one read already taken (<= 64 KiB plus the StreamReader buffer) may still
    be relayed. Note that mitmproxy's idle timer (``tcp_timeout``) counts a paused
    connection as idle. Undo with ``resume_reading``.
    """
    io = io_for(flow, conn)
    if io is None or not isinstance(io.writer, asyncio.StreamWriter):
        return False
    io.writer.transport.pause_reading()  # type: ignore[attr-defined]
    if isinstance(io.reader, asyncio.StreamReader):
        # StreamReader would resume the transport itself when its buffer drains, but only if *it* paused
        io.reader._paused = False  # type: ignore[attr-defined]
    return True


def resume_reading(flow: Any, conn: Connection) -> bool:
    """Undo ``pause_reading``: read ``conn``'s socket again."""
    io = io_for(flow, conn)
    if io is None or not isinstance(io.writer, asyncio.StreamWriter):
        return False
    transport = io.writer.transport
    if not transport.is_closing():
        transport.resume_reading()  # type: ignore[attr-defined]
    return True


def cut_body(flow: http.HTTPFlow, how: How = "fin", server: Literal["fin", "rst", "keep"] = "fin") -> bool:
    """End a streamed response body without its terminator (no ``0\\r\\n\\r\\n``).

    The client's TCP connection is closed ``how`` (what mitmproxy already queued is
    flushed first for ``"fin"``), so an HTTP/1 client sees an incomplete body
    (Chrome: ``ERR_INCOMPLETE_CHUNKED_ENCODING``; with ``"rst"``,
    ``ERR_CONNECTION_RESET``). The upstream is closed ``server`` (``"keep"`` leaves it,
    but mitmproxy tears it down once the client connection is gone). With HTTP/2 to
    the client this ends *every* stream on that connection: per-stream RST_STREAM is
    not reachable. Returns False when the client connection is already gone.
    """
    if not close_conn(flow, flow.client_conn, how):
        return False
    if server != "keep":
        close_conn(flow, flow.server_conn, server)
    return True


def _http_stream_for(h: ConnectionHandler, flow: Any) -> tuple[HttpLayer, HttpStream] | None:
    for lay in _walk(h.layer):
        if isinstance(lay, HttpLayer):
            for stream in lay.streams.values():
                if stream.flow is flow:
                    return lay, stream
    return None


def _in_stream(flow: Any, make: Any) -> asyncio.Task[None] | None:
    """Run ``make(http_layer, h2_server, stream, saved_handler)``'s commands inside ``flow``'s stream layer.

    For a flow whose browser speaks HTTP/2 only (else None). The generator is installed as
    the stream's event handler right before a wake-up event addressed to that stream is
    handled, so no state change of the stream comes in between; the commands travel the
    normal layer stack (TLS applied), in order with the stream's data.
    """
    h = handler_for(flow)
    found = _http_stream_for(h, flow) if h is not None else None
    if h is None or found is None:
        return None
    http_layer, stream = found
    server = http_layer.connections.get(flow.client_conn)
    if not isinstance(server, Http2Server):
        return None
    handler: ConnectionHandler = h

    async def deliver() -> None:
        saved = stream._handle_event
        stream._handle_event = lambda _event: make(http_layer, server, stream, saved)
        wake = pcommands.RequestWakeup(0)
        http_layer.command_sources[wake] = stream
        await handler.server_event(pevents.Wakeup(wake))

    return asyncio.get_running_loop().create_task(deliver())


def h2_reset_stream(flow: Any, code: int, *, upstream: bool = True) -> asyncio.Task[None] | None:
    """End ``flow``'s stream to an HTTP/2 client with RST_STREAM ``code``; its other streams continue.

    ``code``: an HTTP/2 error code (2 = INTERNAL_ERROR, 8 = CANCEL, ...). With ``upstream``
    the request is abandoned upstream too, as a browser cancelling it would: RST_STREAM
    CANCEL on an HTTP/2 upstream, the connection closed on HTTP/1. The stream's later
    data is discarded. Returns the task doing it, or None when the client does not speak
    HTTP/2 on this flow or the stream is gone.
    """

    def _ignore(_event: pevents.Event) -> Generator[Any, Any, None]:
        yield from ()

    def reset(http_layer: Any, server: Any, stream: Any, _saved: Any) -> Generator[Any, Any, None]:
        sid = stream.stream_id
        stream._handle_event = _ignore
        if not server.is_closed(sid):
            server.h2_conn.reset_stream(sid, code)
            yield pcommands.SendData(flow.client_conn, server.h2_conn.data_to_send())
        server.streams.pop(sid, None)
        if upstream and flow.server_conn in http_layer.connections and flow.server_conn.connected:
            cancel = RequestProtocolError(sid, "stream reset by tearline", ErrorCode.CANCEL)
            yield SendHttp(cancel, flow.server_conn)
        yield DropStream(sid)

    task = _in_stream(flow, reset)
    if task is not None:
        # the stream's layer is dropped, so mitmproxy fires no error hook for it: fire it here so
        # the recorder ends the stream (body_end complete=False) like any other failed stream
        message = f"stream reset by tearline (RST_STREAM {code}, to the client)"
        task.add_done_callback(lambda _t: asyncio.get_running_loop().create_task(_flow_failed(flow, message)))
    return task


async def _flow_failed(flow: Any, message: str) -> None:
    """Mark ``flow`` failed with ``message`` and run every addon's ``error`` hook for it, once."""
    if flow.error is not None:
        return
    flow.error = mflow.Error(message)
    await ctx.master.addons.handle_lifecycle(HttpErrorHook(flow))


def h2_goaway(flow: Any, code: int, last_stream_id: int | None = None) -> asyncio.Task[None] | None:
    """Send GOAWAY (``code``, ``last_stream_id``) on the HTTP/2 connection carrying ``flow``.

    ``last_stream_id`` None: the highest stream the browser opened so far (a server shutting
    down gracefully). With ``code`` 0 (NO_ERROR) the streams already open go on, as with a
    reloading server, and the browser opens new requests on a new connection; with an error
    code the connection is closed right after the frame. None when the client does not
    speak HTTP/2 on this flow or the stream is gone.
    """
    from hyperframe.frame import GoAwayFrame

    def goaway(_http_layer: Any, server: Any, stream: Any, saved: Any) -> Generator[Any, Any, None]:
        stream._handle_event = saved  # the stream itself goes on
        frame = GoAwayFrame(0)
        frame.last_stream_id = (
            server.h2_conn.highest_inbound_stream_id if last_stream_id is None else last_stream_id
        )
        frame.error_code = code
        yield pcommands.SendData(flow.client_conn, frame.serialize())
        if code != 0:
            yield pcommands.CloseConnection(flow.client_conn)

    return _in_stream(flow, goaway)


def ws_terminate(
    flow: http.HTTPFlow,
    *,
    client: WsAction = "close",
    server: WsAction = "close",
    code: int = 1000,
    reason: str = "",
    close_wait: float = 0.5,
) -> asyncio.Task[None] | None:
    """End a live WebSocket, choosing per side what that peer gets.

    Actions per side: ``"close"`` a close frame with ``code``/``reason`` then, after
    ``close_wait`` seconds (time for the peer's answer; 0 = at once), FIN;
    ``"fin"`` TCP closed with no close frame (a browser reports 1006,
    ``wasClean=false``); ``"rst"`` TCP reset; ``"keep"`` leave that side alone
    (meaningful for the server while the client stays up; when the client
    connection ends mitmproxy closes the upstream too).

    The flow's ``WebsocketLayer`` is switched to its ``done`` state first, so later
    frames are ignored and mitmproxy's 1006->1000 rewrite never runs; the close
    frames travel down the normal layer stack (TLS applied). ``websocket_end``
    still fires, with ``flow.websocket.close_code`` = ``code`` when a frame was
    sent, else 1006. Safe to call from inside a ``websocket_message`` hook: the
    termination runs right after the current message. Returns the task doing it,
    or None when the flow has no live WebSocket layer.
    """
    for action in (client, server):
        if action not in WS_ACTIONS:
            raise ValueError(f"WebSocket action must be one of {', '.join(WS_ACTIONS)}, not {action!r}")
    lay, h = ws_layer_for(flow), handler_for(flow)
    if lay is None or h is None or not hasattr(lay, "client_ws") or lay._handle_event == lay.done:
        return None
    handler: ConnectionHandler = h
    layer: WebsocketLayer = lay

    def _terminate(_event: pevents.Event) -> Generator[Any, Any, None]:
        layer._handle_event = layer.done
        sides = ((layer.client_ws, client), (layer.server_ws, server))
        for ws, action in sides:
            if action == "close" and ws.state in (WsState.OPEN, WsState.REMOTE_CLOSING):
                # the closer is the proxy, whatever the peers do next (addons/ws_close.py)
                conn_watch.note_proxy_close(
                    flow.id, "client" if ws is layer.client_ws else "server", code, reason, time.time()
                )
                yield ws.send2(wsproto.events.CloseConnection(code=code, reason=reason))
        loop = asyncio.get_running_loop()
        for ws, action in sides:
            if action == "close" and close_wait > 0:
                loop.call_later(close_wait, close_transport, handler, ws.conn, "fin")
            elif action != "keep":
                close_transport(handler, ws.conn, "rst" if action == "rst" else "fin")
        assert flow.websocket is not None
        sent_frame = "close" in (client, server)
        flow.websocket.close_code = code if sent_frame else 1006
        flow.websocket.close_reason = reason if sent_frame else ""
        flow.websocket.closed_by_client = None
        flow.websocket.timestamp_end = time.time()
        yield WebsocketEndHook(flow)
        flow.live = False

    layer._handle_event = _terminate
    poke = WebSocketMessageInjected(flow, WebSocketMessage(Opcode.TEXT, True, b"", injected=True))
    return asyncio.get_running_loop().create_task(handler.server_event(poke))
