"""Ends inside one HTTP stream, passed on as they happened: buffered body cuts and HTTP/2 frames.

Two places where mitmproxy 12.3.1 launders how a stream ended (docs/relay.md):

- **A buffered (not streamed) response body cut upstream.** mitmproxy holds the body
  until it is complete; when the upstream ends first it drops what arrived and answers
  with a plain close (HTTP/1.1: an empty response) or, over HTTP/2, a 502 page. A direct
  client would have seen the headers and the bytes that arrived, then the end.
  ``wrap_handle_protocol_error`` (on ``HttpStream.handle_protocol_error``) sends the
  headers and those bytes first; then mitmproxy's own end follows (FIN on HTTP/1.1,
  RST_STREAM on HTTP/2), or the relay's RST (``Relay`` phase ``buffered-body``,
  ``take_cut``).
- **RST_STREAM and GOAWAY from an HTTP/2 upstream.** mitmproxy keeps ``CANCEL`` and sends
  the browser ``INTERNAL_ERROR`` for every other code (a 502 page when no headers were
  sent yet), and only its error text names the frame. ``wrap_handle_h2_event`` (on
  ``Http2Connection.handle_h2_event``) records each received RST_STREAM and GOAWAY from
  the frame (``h2_reset`` / ``h2_goaway`` events with the code, ``by`` the side that sent
  it) and tags the stream's error with the upstream's code; ``wrap_h2_send`` (on
  ``Http2Server._handle_event``) resets the browser's stream with that same code, before
  or after headers, as the upstream did.

The patches are applied by ``addons.internals.apply`` (``PATCHES``); recording goes
through the ``ws_trace`` addon's ``emit`` when it is loaded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Generator
from typing import Any

import h2.connection
import h2.events
from mitmproxy import ctx
from mitmproxy.connection import ConnectionState
from mitmproxy.proxy import commands as pcommands
from mitmproxy.proxy.layers.http import HttpLayer, SendHttp
from mitmproxy.proxy.layers.http._base import ReceiveHttp
from mitmproxy.proxy.layers.http._events import (
    ErrorCode,
    ResponseData,
    ResponseHeaders,
    ResponseProtocolError,
)
from mitmproxy.proxy.layers.http._http2 import Http2Client
from tearline.addons import mitm_io

from tearline import events

__all__ = [
    "FRAME_KEY",
    "PARTIAL_BODY_KEY",
    "take_cut",
    "want_cut",
    "wrap_h2_send",
    "wrap_handle_h2_event",
    "wrap_handle_protocol_error",
    "wrap_receive_goaway_frame",
]

log = logging.getLogger(__name__)

PARTIAL_BODY_KEY = "tearline_partial_body"
"""``flow.metadata`` key: bytes of a buffered body that arrived before the upstream cut it."""

FRAME_KEY = "tearline_h2_frame"
"""``flow.metadata`` key: this stream's RST_STREAM/GOAWAY was recorded from the frame."""

_cuts: dict[str, str] = {}  # flow id -> "fin"/"rst": how the relay wants a cut buffered body to end
_CODE_ATTR = "_tearline_h2_code"  # set on a ResponseProtocolError: the upstream's RST_STREAM code


def want_cut(flow_id: str, how: str) -> None:
    """The relay's decision for a buffered body cut upstream (``fin`` or ``rst``), taken after its bytes."""
    _cuts[flow_id] = how


def take_cut(flow_id: str) -> str | None:
    return _cuts.pop(flow_id, None)


def _emit(event: events.Event) -> None:
    trace = ctx.master.addons.get("ws_trace")  # type: ignore[no-untyped-call]
    if trace is not None and hasattr(trace, "emit"):
        trace.emit(event)


def _buffered_cut(stream: Any, event: Any) -> bool:
    """True when ``event`` ends a response whose headers arrived but whose buffered body did not finish."""
    flow = stream.flow
    return (
        isinstance(event, ResponseProtocolError)
        and flow.response is not None
        and not flow.response.stream
        and stream.server_state == stream.state_consume_response_body
        and stream.client_state != stream.state_errored
    )


def wrap_handle_protocol_error(orig: Any) -> Any:
    """``HttpStream.handle_protocol_error``: a buffered body cut upstream reaches the client as it arrived."""

    def handle_protocol_error(self: Any, event: Any) -> Generator[Any, Any, None]:
        if not _buffered_cut(self, event):
            yield from orig(self, event)
            return None
        partial = bytes(self.response_body_buf)
        self.flow.metadata[PARTIAL_BODY_KEY] = len(partial)  # the recorder's body_end counts them
        commands = orig(self, event)
        reply: Any = None
        while True:
            try:
                cmd = commands.send(reply)
            except StopIteration:
                return None
            if isinstance(cmd, SendHttp) and cmd.event is event and cmd.connection == self.context.client:
                client = self.context.client
                yield SendHttp(ResponseHeaders(self.stream_id, self.flow.response, False), client)
                if partial:
                    yield SendHttp(ResponseData(self.stream_id, partial), client)
                if take_cut(self.flow.id) == "rst":
                    handler = mitm_io.handler_for(self.flow)
                    if handler is not None and mitm_io.close_transport(handler, client, "rst"):
                        reply = None
                        continue  # reset after the bytes, instead of mitmproxy's FIN
            reply = yield cmd

    return handle_protocol_error


# --- HTTP/2 frames from the upstream ------------------------------------------------------------


def _http_layer_of(conn_layer: Any) -> Any:
    """The ``HttpLayer`` whose connection ``conn_layer`` (an ``Http2Client``/``Http2Server``) is, or None."""
    handler = mitm_io.handler_for_client(conn_layer.context.client.id)
    if handler is None:
        return None
    for lay in mitm_io.walk_layers(handler.layer):
        if isinstance(lay, HttpLayer) and any(
            c is conn_layer for top in lay.connections.values() for c in mitm_io.walk_layers(top)
        ):
            return lay
    return None


def _flow_of(conn_layer: Any, their_stream_id: int) -> Any:
    """The flow of stream ``their_stream_id`` (the browser's id) above ``conn_layer``, or None."""
    http_layer = _http_layer_of(conn_layer)
    stream = http_layer.streams.get(their_stream_id) if http_layer is not None else None
    return getattr(stream, "flow", None)


def wrap_handle_h2_event(orig: Any) -> Any:
    """``Http2Connection.handle_h2_event``: record received RST_STREAM / GOAWAY from the frame.

    On the upstream side (``Http2Client``) the stream's error is tagged with the frame's
    code, which ``wrap_h2_send`` then gives the browser's stream.
    """

    def handle_h2_event(self: Any, event: Any) -> Generator[Any, Any, bool]:
        upstream = isinstance(self, Http2Client)
        if not isinstance(event, h2.events.StreamReset | h2.events.ConnectionTerminated):
            handled: bool = yield from orig(self, event)
            return handled
        now, mono = time.time(), time.monotonic()
        by = "server" if upstream else "client"
        if isinstance(event, h2.events.StreamReset):
            sid = event.stream_id
            their = self.their_stream_id.get(sid) if upstream else sid
            # recorded before mitmproxy runs the error hook (the recorder then skips its error text)
            _record_reset(self, their, int(event.error_code), by, now, mono)
            return (yield from _tag_errors(orig(self, event), int(event.error_code), upstream))
        _record_goaway(self, event, by, now, mono)
        code = int(event.error_code or 0)
        if upstream and code == 0:
            return (yield from _graceful_goaway(self, event))
        # each browser stream ends with the GOAWAY's code
        return (yield from _tag_errors(orig(self, event), code, upstream))

    return handle_h2_event


def _tag_errors(commands: Generator[Any, Any, Any], code: int, upstream: bool) -> Generator[Any, Any, bool]:
    """Pass on ``commands`` (the wrapped handler's), tagging each upstream stream error with ``code``."""
    reply: Any = None
    while True:
        try:
            cmd = commands.send(reply)
        except StopIteration as stop:
            return bool(stop.value)
        if upstream and isinstance(cmd, ReceiveHttp) and isinstance(cmd.event, ResponseProtocolError):
            setattr(cmd.event, _CODE_ATTR, code)
        reply = yield cmd


REFUSED_STREAM = 0x7


def _graceful_goaway(self: Any, event: Any) -> Generator[Any, Any, bool]:
    """A ``NO_ERROR`` GOAWAY from the upstream: its streams up to ``last_stream_id`` go on, as directly.

    mitmproxy would end every stream of the connection at once. Here the connection stays
    readable (``wrap_receive_goaway_frame`` kept h2's state machine open) but is marked
    half-closed so mitmproxy opens a new upstream connection for new requests, as a browser
    would after a GOAWAY; streams the upstream will not process (above ``last_stream_id``)
    end with RST_STREAM ``REFUSED_STREAM`` toward the browser, which may retry them.
    """
    self.conn.state = ConnectionState.CAN_READ  # no new streams on it (HttpLayer.get_connection)
    for ours in [sid for sid in list(self.streams) if sid > event.last_stream_id]:
        self.streams.pop(ours, None)
        error = ResponseProtocolError(
            ours, "stream refused by the upstream's GOAWAY", ErrorCode.GENERIC_SERVER_ERROR
        )
        setattr(error, _CODE_ATTR, REFUSED_STREAM)
        yield ReceiveHttp(error)
    return False


def wrap_receive_goaway_frame(orig: Any) -> Any:
    """``h2.connection.H2Connection._receive_goaway_frame``: keep an upstream connection readable after a graceful GOAWAY.

    h2 closes its state machine on any GOAWAY, so the DATA a server still sends on the streams
    it promised to finish would fail the connection. Only client-side connections (mitmproxy's
    upstream legs) and ``NO_ERROR`` are kept open.
    """

    def _receive_goaway_frame(self: Any, frame: Any) -> Any:
        result = orig(self, frame)
        if self.config.client_side and frame.error_code == 0:
            self.state_machine.state = h2.connection.ConnectionState.CLIENT_OPEN
        return result

    return _receive_goaway_frame


def _conn_id(self: Any) -> str:
    return str(self.context.client.id)


def _streams_of(self: Any) -> list[Any]:
    """Flows of the HTTP layer this HTTP/2 connection serves."""
    http_layer = _http_layer_of(self)
    return [s.flow for s in http_layer.streams.values()] if http_layer is not None else []


def _record_reset(self: Any, their: int | None, code: int, by: str, now: float, mono: float) -> None:
    flow = _flow_of(self, their) if their is not None else None
    if flow is not None:
        flow.metadata[FRAME_KEY] = True  # the recorder does not parse the error text then
    _emit(
        events.H2Reset(
            ts=now,
            mono=mono,
            conn=_conn_id(self),
            stream=flow.id if flow is not None else None,
            error_code=code,
            by=by,  # type: ignore[arg-type]
        )
    )


def _record_goaway(self: Any, event: Any, by: str, now: float, mono: float) -> None:
    """One ``h2_goaway`` per stream live on the connection (as the recorder files stream ends), or one."""
    flows = _streams_of(self) or [None]
    for flow in flows:
        if flow is not None:
            flow.metadata[FRAME_KEY] = True
        _emit(
            events.H2GoAway(
                ts=now,
                mono=mono,
                conn=_conn_id(self),
                stream=flow.id if flow is not None else None,
                error_code=int(event.error_code),
                by=by,  # type: ignore[arg-type]
                last_stream_id=event.last_stream_id,
            )
        )


def wrap_h2_send(orig: Any) -> Any:
    """``Http2Server._handle_event``: reset the browser's stream with the code the upstream reset it with."""

    def _handle_event(self: Any, event: Any) -> Generator[Any, Any, None]:
        code = getattr(event, _CODE_ATTR, None) if isinstance(event, ResponseProtocolError) else None
        if code is None or self.is_closed(event.stream_id):
            yield from orig(self, event)
            return None
        self.h2_conn.reset_stream(event.stream_id, code)
        out = self.h2_conn.data_to_send()
        if out:
            yield pcommands.SendData(self.conn, out)
        return None

    return _handle_event
