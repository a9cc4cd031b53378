"""The faithful relay: pass each connection end from one leg to the other as it happened.

mitmproxy on its own rewrites the failures tearline diagnoses (docs/relay.md):

- an upstream WebSocket that drops TCP without a close frame reaches the browser
  as a clean **1000** close frame (wsproto sends the local-only 1006 as 1000);
- an upstream RST reaches the client as a FIN (the error is swallowed);
- an upstream that dies before answering becomes a **502** page made by mitmproxy;
- a client reset reaches the upstream as a FIN, a client that vanishes from a
  WebSocket as a **1000** close frame.

This addon (name ``tearline_relay``) acts at the point where mitmproxy would
launder the end, in stream order (after the messages and chunks that came before it):

=====================  =========================================  ==================================
where the end is seen  phase                                      what the other leg gets
=====================  =========================================  ==================================
WebSocket layer        no close frame yet from that side          FIN -> FIN, RST -> RST
``error`` hook         upstream ended before response headers     FIN -> FIN, RST -> RST (no 502)
``error`` hook         inside a streamed chunked/length body      FIN -> cut (FIN, no terminator),
                                                                  RST -> RST
``error`` hook         inside a buffered (not streamed) body      the headers and bytes that arrived,
                                                                  then FIN or RST (``stream_ends``)
``response`` hook      close-delimited streamed body              FIN -> FIN (complete), RST -> RST
client's reader        request in flight / response streaming     FIN -> FIN, RST -> RST
client's reader        idle connection (no request)               RST -> RST (mitmproxy FINs itself)
=====================  =========================================  ==================================

Close frames are relayed by mitmproxy unchanged (code and reason); the relay only
records them. A socket error other than a reset (or a kernel timeout) is relayed
as a RST, the closest abortive end. With HTTP/2 to the client a single stream
cannot be reset from an addon, so upstream body cuts are left to mitmproxy
(RST_STREAM, with the upstream's own code: ``addons.stream_ends``) and recorded
with action ``none``.

Each relayed end is recorded as a ``tearline.events.Relay`` event through the
``ws_trace`` addon's ``emit`` when it is loaded (otherwise nothing is recorded).
How a connection ended comes from ``addons.conn_watch``; acting on connections
from ``addons.mitm_io``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import Generator
from typing import Any

import wsproto.events
from mitmproxy import ctx, http
from mitmproxy.connection import Client, Connection, ConnectionState
from mitmproxy.net.http import http1
from mitmproxy.proxy import commands as pcommands
from mitmproxy.proxy import events as pevents
from mitmproxy.proxy.layers.websocket import WebSocketMessageInjected
from mitmproxy.websocket import WebSocketMessage
from tearline.addons import conn_watch, mitm_io, stream_ends
from wsproto.connection import ConnectionState as WsState
from wsproto.frame_protocol import Opcode

from tearline import events

__all__ = ["PHASES", "RULES", "Relay", "decide", "wrap_done", "wrap_relay_messages"]

log = logging.getLogger(__name__)

_ABORTIVE = {"rst": "rst", "error": "rst", "timeout": "rst"}

RULES: dict[str, dict[str, str]] = {
    "ws-open": {"fin": "fin", **_ABORTIVE},  # WebSocket, no close frame from the ending side
    "before-headers": {"fin": "fin", **_ABORTIVE},  # upstream ended before its response headers
    "body": {"fin": "cut", **_ABORTIVE},  # inside a framed (chunked / Content-Length) streamed body
    "body-eof": {"fin": "fin", **_ABORTIVE},  # close-delimited body: a FIN completes it
    "buffered-body": {"fin": "cut", **_ABORTIVE},  # inside a buffered body: its bytes first (stream_ends)
    "request": {"fin": "fin", **_ABORTIVE},  # client ended while its request/response was live
    "idle": dict(_ABORTIVE),  # client ended an idle connection: mitmproxy FINs the upstream itself
    "h2-stream": {},  # HTTP/2 to the client: per-stream reset not reachable, mitmproxy decides
}
"""phase -> {how the leg ended (conn_watch ``how``): action on the other leg (``RELAY_ACTIONS``)}."""

PHASES: tuple[str, ...] = tuple(RULES)

CLOSE_ANSWER_WAIT_S = 2.0
"""After forwarding a close frame, how long (seconds) to wait for the peer's answer before FIN."""

_TCP = {"fin": "fin", "cut": "fin", "rst": "rst"}  # action -> how mitm_io closes the other leg


def decide(phase: str, end: str) -> str:
    """What the other leg gets when one leg ended ``end`` in ``phase`` (pure; see ``RULES``).

    Returns one of ``"fin"``, ``"rst"``, ``"cut"`` (FIN without the body's
    terminator) or ``"none"`` (leave it to mitmproxy).
    """
    if phase not in RULES:
        raise ValueError(f"unknown relay phase {phase!r}; one of {', '.join(PHASES)}")
    return RULES[phase].get(end, "none")


def _peer_end(conn: Connection) -> str | None:
    """How the *peer* ended ``conn`` (fin/rst/error/timeout), None if open or we closed it."""
    reason = conn_watch.end_reason(conn)
    if reason is None or reason.by != "peer":
        return None
    return reason.how


def _awaits_close_answer(lay: Any, conn: Connection) -> bool:
    """True when the layer just sent ``conn``'s peer a close frame and waits for its answer."""
    ws = lay.client_ws if conn == lay.context.client else lay.server_ws
    return ws.state is WsState.LOCAL_CLOSING


def _is_open(conn: Connection) -> bool:
    return conn.state is not ConnectionState.CLOSED and conn_watch.end_reason(conn) is None


class Relay:
    """mitmproxy addon ``tearline_relay``: relays RST, FIN, cuts and close frames faithfully."""

    name = "tearline_relay"

    def __init__(self) -> None:
        self._flows: dict[str, dict[str, http.HTTPFlow]] = {}  # client conn id -> live flows by id
        self._ws_abrupt: set[str] = set()  # flow ids whose WebSocket end the relay passed on

    # --- lifecycle -----------------------------------------------------------------------

    def load(self, loader: Any) -> None:
        conn_watch.install()
        conn_watch.subscribe(self._conn_ended)

    def done(self) -> None:
        conn_watch.unsubscribe(self._conn_ended)

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        self._flows.setdefault(flow.client_conn.id, {})[flow.id] = flow

    def client_disconnected(self, client: Client) -> None:
        self._flows.pop(client.id, None)

    def _forget(self, flow: http.HTTPFlow) -> None:
        live = self._flows.get(flow.client_conn.id)
        if live is not None:
            live.pop(flow.id, None)

    # --- recording -----------------------------------------------------------------------

    def _emit(self, **fields: Any) -> None:
        self._record(events.Relay(ts=time.time(), mono=time.monotonic(), **fields))

    def _record(self, event: events.Event) -> None:
        trace = ctx.master.addons.get("ws_trace")  # type: ignore[no-untyped-call]
        log.debug("tearline relay: %s", event)
        if trace is not None and hasattr(trace, "emit"):
            trace.emit(event)

    # --- upstream ends of HTTP streams (in stream order: these hooks block the stream) ---

    def error(self, flow: http.HTTPFlow) -> None:
        try:
            self._server_end(flow, "error")
        finally:
            self._forget(flow)

    def response(self, flow: http.HTTPFlow) -> None:
        if flow.websocket is not None:
            return  # the WebSocket layer takes over; see websocket_start
        try:
            self._server_end(flow, "response")
        finally:
            self._forget(flow)

    def _server_end(self, flow: http.HTTPFlow, hook: str) -> None:
        end = _peer_end(flow.server_conn)
        if end is None or not _is_open(flow.client_conn):
            return
        if flow.request.http_version not in ("HTTP/1.1", "HTTP/1.0"):
            phase = "h2-stream"
        elif hook == "response":
            resp = flow.response
            if resp is None or not resp.stream:
                return  # mitmproxy sends the buffered body next; closing now would lose it
            try:
                eof_body = http1.expected_http_body_size(flow.request, resp) == -1
            except ValueError:
                eof_body = False
            if not eof_body:
                return  # a framed body completed; the upstream closing afterwards is not this stream's end
            phase = "body-eof"
        elif flow.response is not None and flow.response.stream:
            phase = "body"
        elif flow.response is not None:
            phase = "buffered-body"
        else:
            phase = "before-headers"
        action = decide(phase, end)
        if phase == "buffered-body":
            if action in _TCP:  # after the headers and the bytes that arrived (stream_ends)
                stream_ends.want_cut(flow.id, _TCP[action])
        elif action in _TCP and hook == "error":
            mitm_io.close_conn(flow, flow.client_conn, _TCP[action])  # type: ignore[arg-type]
        elif action == "rst":
            mitm_io.close_conn(flow, flow.client_conn, "rst")
        # response hook + fin: mitmproxy ends the close-delimited body with a FIN itself
        self._emit(conn=flow.client_conn.id, stream=flow.id, leg="client", observed=end, action=action)

    # --- client ends (seen by conn_watch before mitmproxy handles them) ---------------------

    def _conn_ended(self, conn: Any, reason: Any) -> None:
        if not isinstance(conn, Client) or reason.by != "peer":
            return
        handler = mitm_io.handler_for_client(conn.id)
        if handler is None:
            return
        live = self._flows.get(conn.id, {})
        for other in list(handler.transports):
            if other is conn or not _is_open(other):
                continue
            flow = next((f for f in live.values() if f.server_conn is other), None)
            if flow is not None and flow.websocket is not None:
                lay = mitm_io.ws_layer_for(flow)
                if lay is not None and lay._handle_event != lay.start:
                    continue  # the WebSocket layer relays it in message order
            action = decide("request" if flow is not None else "idle", reason.how)
            if action in _TCP:
                mitm_io.close_transport(handler, other, _TCP[action])  # type: ignore[arg-type]
            if flow is not None or action != "none":
                self._emit(
                    conn=other.id,
                    stream=flow.id if flow is not None else None,
                    leg="server",
                    observed=reason.how,
                    action=action,
                )

    # --- WebSockets ---------------------------------------------------------------------

    def websocket_start(self, flow: http.HTTPFlow) -> None:
        lay = mitm_io.ws_layer_for(flow)
        if lay is None:
            log.warning("tearline relay: no WebSocket layer found for %s; ends not relayed", flow.id)
            return
        # the layer's relay_messages/done (patched once by addons.internals) consult this
        _ws_relays[lay] = _WsRelay(self, flow)

    def _ws_conn_closed(self, flow: http.HTTPFlow, lay: Any, conn: Connection) -> None:
        st = _ws_relays.get(lay)
        if st is not None and conn is st.violator:
            return  # the other peer got a close frame for the violation; its answer ends it
        side = "client" if conn == lay.context.client else "server"
        if not mitm_io.ws_open(lay, side):  # type: ignore[arg-type]
            return  # that side sent a close frame first (mitmproxy relays it), or it already ended
        end = _peer_end(conn)
        if end is None:
            return
        other, other_leg = (
            (lay.context.server, "server") if side == "client" else (lay.context.client, "client")
        )
        action = decide("ws-open", end)
        handler = mitm_io.handler_for(flow)
        if action in _TCP and handler is not None:
            mitm_io.close_transport(handler, other, _TCP[action])  # type: ignore[arg-type]
        self._ws_abrupt.add(flow.id)
        self._emit(conn=other.id, stream=flow.id, leg=other_leg, observed=end, action=action)

    def websocket_end(self, flow: http.HTTPFlow) -> None:
        self._forget(flow)
        if flow.id in self._ws_abrupt:
            self._ws_abrupt.discard(flow.id)
            return
        ws = flow.websocket
        if ws is None or ws.closed_by_client is None or ws.close_code in (None, 1006):
            return  # ended by tearline itself (a fault) or without a frame we relayed
        target = flow.server_conn if ws.closed_by_client else flow.client_conn
        self._emit(
            conn=target.id,
            stream=flow.id,
            leg="server" if ws.closed_by_client else "client",
            observed="close",
            action="close",
            code=ws.close_code,
            reason=ws.close_reason or "",
        )


class _WsRelay:
    """What the relay keeps for one live WebSocket layer."""

    def __init__(self, relay: Relay, flow: http.HTTPFlow) -> None:
        self.relay = relay
        self.flow = flow
        self.waiting: dict[Connection, asyncio.TimerHandle] = {}  # conn sent a close frame -> fallback timer
        self.violator: Connection | None = None  # the peer whose protocol violation the proxy found
        self.give_up: asyncio.TimerHandle | None = None  # the other peer never answered that close
        # a peer's end (close frame or connection end) waiting for messages a fault still holds
        self.deferred: list[tuple[Connection, Any]] = []  # (from conn, parsed events or ConnectionClosed)
        self.release: Any = None  # the poke event that delivers them

    def close_now(self, conn: Connection) -> None:
        timer = self.waiting.pop(conn, None)
        if timer is not None:
            timer.cancel()
            handler = mitm_io.handler_for(self.flow)
            if handler is not None:
                mitm_io.close_transport(handler, conn, "fin")

    def abandon(self, conns: tuple[Connection, ...]) -> None:
        """The other peer did not answer the close sent for a violation in time: FIN both."""
        self.give_up = None
        handler = mitm_io.handler_for(self.flow)
        for conn in conns:
            if handler is not None and conn.state is not ConnectionState.CLOSED:
                mitm_io.close_transport(handler, conn, "fin")

    def record(self, cls: type[events.Event], **fields: Any) -> None:
        self.relay._record(cls(ts=time.time(), mono=time.monotonic(), stream=self.flow.id, **fields))


_ws_relays: weakref.WeakKeyDictionary[Any, _WsRelay] = weakref.WeakKeyDictionary()

_PARSED_STATES = (WsState.OPEN, WsState.LOCAL_CLOSING)  # states in which wsproto parses received bytes


def _parse_ahead(st: _WsRelay, lay: Any, event: pevents.DataReceived) -> tuple[Any, list[Any], Any]:
    """Parse ``event`` with the source's wsproto connection before mitmproxy does.

    Returns (source ws, its events, the protocol violation or None). A close event
    that leaves the connection OPEN is not a received close frame but wsproto
    failing the frame (``ParseFailed``): a violation the proxy found. Pings and pongs
    are recorded here (mitmproxy has no hook for them).
    """
    from_client = event.connection == lay.context.client
    src_ws = lay.client_ws if from_client else lay.server_ws
    src_ws.receive_data(event.data)
    evs = list(src_ws.events())
    violation = None
    if evs and isinstance(evs[-1], wsproto.events.CloseConnection) and src_ws.state is WsState.OPEN:
        violation = evs[-1]
    toward = "server" if from_client else "client"
    for e in evs:
        if isinstance(e, wsproto.events.Ping | wsproto.events.Pong):
            kind = "ping" if isinstance(e, wsproto.events.Ping) else "pong"
            st.record(
                events.WsPing, conn=event.connection.id, kind=kind, direction=toward, size=len(e.payload)
            )
    return src_ws, evs, violation


HELD_END_WAIT_S = 60.0
"""Longest a peer's end waits for the messages a fault holds toward the other peer (seconds)."""


def _held_toward(flow: http.HTTPFlow, to_client: bool) -> int:
    """Messages the fault addon holds (delay, throttle, stall) toward one peer of ``flow``."""
    faults = ctx.master.addons.get("tearline_faults")  # type: ignore[no-untyped-call]
    live = getattr(faults, "live", {}).get(flow.id) if faults is not None else None
    return int(live.pending[to_client]) if live is not None else 0


def _defer(st: _WsRelay, conn: Connection, item: Any, to_client: bool) -> None:
    """Keep a peer's end until the held messages toward the other peer are delivered, then poke the layer."""
    st.deferred.append((conn, item))
    if st.release is not None:
        return
    poke = WebSocketMessageInjected(st.flow, WebSocketMessage(Opcode.TEXT, not to_client, b"", injected=True))
    st.release = poke

    async def release() -> None:
        deadline = time.monotonic() + HELD_END_WAIT_S
        while _held_toward(st.flow, to_client) > 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        handler = mitm_io.handler_for(st.flow)
        if handler is not None:
            await handler.server_event(poke)

    asyncio.get_running_loop().create_task(release())


def _with_events(src: Any, evs: list[Any], commands: Any) -> Generator[Any, Any, Any]:
    """Run mitmproxy's relay on already parsed events of ``src`` (its own parse would see the bytes again)."""
    src.receive_data = lambda _data: None
    src.events = lambda: iter(evs)
    try:
        return (yield from commands)
    finally:
        del src.receive_data, src.events


def wrap_relay_messages(orig_relay: Any) -> Any:
    """``WebsocketLayer.relay_messages`` (applied by ``addons.internals``): relay ends in message order.

    On a connection end with no close frame from that side, the other leg gets the same
    end (``Relay._ws_conn_closed``). After mitmproxy forwards a close frame it would close
    that connection at once, so the peer's answer would hit a closed socket (RST,
    ``wasClean=false``): the close is held until the answer arrives, as with a direct peer.

    A protocol violation found by the proxy's parser is answered as the other peer would
    answer it: that peer gets the close frame (1002/1007/...) and keeps sending what was
    in flight; its answer reaches the violator, whose connection is then closed at once
    (mitmproxy alone closed both at once, dropping the in-flight messages, and tearline
    kept the violator's TCP open waiting for an answer it could not parse).
    """

    def relay_messages(self: Any, event: pevents.Event) -> Generator[Any, Any, Any]:
        st = _ws_relays.get(self)
        if st is None:
            return (yield from orig_relay(self, event))
        if event is st.release:  # the held messages went out: now the deferred ends, in order
            st.release = None
            deferred, st.deferred = st.deferred, []
            for held_conn, item in deferred:
                if isinstance(item, pevents.ConnectionClosed):
                    yield from relay_messages(self, item)
                else:
                    src = self.client_ws if held_conn == self.context.client else self.server_ws
                    yield from _with_events(
                        src,
                        item,
                        _hold_closes(st, self, orig_relay(self, pevents.DataReceived(held_conn, b""))),
                    )
            return None
        conn = getattr(event, "connection", None)
        if isinstance(event, pevents.ConnectionClosed) and conn is not None and conn is not st.violator:
            to_client = conn != self.context.client
            if any(c is conn for c, _ in st.deferred) or _held_toward(st.flow, to_client) > 0:
                _defer(st, conn, event, to_client)  # after the held messages, as a slow network delivers them
                return None
        if isinstance(event, pevents.ConnectionClosed):
            try:
                st.relay._ws_conn_closed(st.flow, self, event.connection)
            except Exception as e:  # never break the proxy core
                log.error("tearline relay: WebSocket end not relayed: %r", e)
        if not isinstance(event, pevents.DataReceived):
            return (yield from _hold_closes(st, self, orig_relay(self, event)))
        if event.connection is st.violator:
            return None  # its parser failed: nothing more is read from it, as a direct peer stops reading
        src = self.client_ws if event.connection == self.context.client else self.server_ws
        if src.state not in _PARSED_STATES:
            return (yield from _hold_closes(st, self, orig_relay(self, event)))
        src, evs, violation = _parse_ahead(st, self, event)
        dst = self.server_ws if src is self.client_ws else self.client_ws
        to_client = src is self.server_ws
        if any(c is event.connection for c, _ in st.deferred):  # behind an end already deferred
            _defer(st, event.connection, evs, to_client)
            return None
        # a close frame is relayed only after the messages before it passed the hooks: if a fault
        # then holds some of them, the close waits for them (as a slow network delivers them)
        closes = [i for i, e in enumerate(evs) if isinstance(e, wsproto.events.CloseConnection)]
        later: list[Any] = []
        if closes and violation is None:
            evs, later = evs[: closes[0]], evs[closes[0] :]
        if violation is not None:
            st.violator = event.connection
            st.record(
                events.WsProtocolError,
                conn=event.connection.id,
                by="client" if src is self.client_ws else "server",
                code=violation.code,
                reason=violation.reason or "",
            )
            if dst.state is WsState.OPEN:
                evs.pop()  # the other peer answers it (below), not mitmproxy
            else:
                violation = None  # the other side is closing already: mitmproxy fails both at once
        # hand mitmproxy the parsed events (its own parse would raise the violation again)
        result = yield from _with_events(src, evs, _hold_closes(st, self, orig_relay(self, event)))
        if later and self._handle_event == self.relay_messages:  # else a fault ended it meanwhile
            if _held_toward(st.flow, to_client) > 0:
                _defer(st, event.connection, later, to_client)
            else:
                rest = orig_relay(self, pevents.DataReceived(event.connection, b""))
                result = yield from _with_events(src, later, _hold_closes(st, self, rest))
        if violation is not None:
            yield dst.send2(wsproto.events.CloseConnection(code=violation.code, reason=violation.reason))
            loop = asyncio.get_running_loop()
            st.give_up = loop.call_later(CLOSE_ANSWER_WAIT_S, st.abandon, (src.conn, dst.conn))
        return result

    return relay_messages


def _hold_closes(st: _WsRelay, lay: Any, commands: Generator[Any, Any, Any]) -> Generator[Any, Any, Any]:
    """Pass mitmproxy's commands on, holding a ``CloseConnection`` whose peer still owes a close answer."""
    reply: Any = None
    while True:
        try:
            cmd = commands.send(reply)
        except StopIteration as stop:
            return stop.value
        if isinstance(cmd, pcommands.CloseConnection):
            if st.give_up is not None:  # the other peer answered the violation's close
                st.give_up.cancel()
                st.give_up = None
            if cmd.connection is not st.violator and _awaits_close_answer(lay, cmd.connection):
                loop = asyncio.get_running_loop()
                st.waiting[cmd.connection] = loop.call_later(
                    CLOSE_ANSWER_WAIT_S, st.close_now, cmd.connection
                )
                reply = None
                continue
        reply = yield cmd


def wrap_done(orig_done: Any) -> Any:
    """``WebsocketLayer.done`` (applied by ``addons.internals``): close a held connection once its peer answered."""

    def done(self: Any, event: pevents.Event) -> Generator[Any, Any, Any]:
        st = _ws_relays.get(self)
        conn = getattr(event, "connection", None)
        if st is not None and conn in st.waiting:
            ws = self.client_ws if conn == self.context.client else self.server_ws
            if isinstance(event, pevents.DataReceived):
                with contextlib.suppress(Exception):
                    ws.receive_data(event.data)
                    list(ws.events())
            if isinstance(event, pevents.ConnectionClosed) or ws.state is WsState.CLOSED:
                st.close_now(conn)
        return (yield from orig_done(self, event))

    return done


addons = [Relay()]
