"""The event vocabulary of a tearline capture.

Every line after the header of a capture file is one of these events, as a
JSON object whose ``type`` key names the class (see ``EVENT_TYPES``). They are
frozen, keyword-only dataclasses that validate themselves on construction and
do no I/O; the recorder addon creates them from mitmproxy hooks, the fault
addon from what it does, and the analysis reads them back.

Common fields (every event):

``ts``      wall-clock time, seconds since the Unix epoch (float).
``mono``    the proxy process's monotonic clock, seconds (float); differences
            between two events' ``mono`` are immune to clock steps.
``conn``    connection id (mitmproxy's connection id) the event belongs to, or
            None for capture-level events (``fault_armed``, ``capture_end``).
``stream``  stream id (mitmproxy's flow id) where the event belongs to an HTTP
            request, SSE stream or WebSocket; None for connection events.

Vocabulary used by many fields:

``leg``        ``"client"`` = the browser-to-proxy connection,
               ``"server"`` = the proxy-to-upstream connection.
``direction``  who *sent* the data: ``"client"`` (browser to server) or
               ``"server"`` (server to browser). Scenario files use the same words.
``kind``       of a stream: ``"ws"``, ``"sse"``, ``"http-stream"`` (a streamed
               body that is not SSE) or ``"http"`` (an ordinary response).

docs/capture-format.md documents every field; keep the two in step.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

__all__ = [
    "DIRECTIONS",
    "EVENT_TYPES",
    "LEGS",
    "STREAM_KINDS",
    "Anomaly",
    "BodyChunk",
    "BodyEnd",
    "CaptureEnd",
    "ConnClose",
    "ConnOpen",
    "ConnTls",
    "Event",
    "FaultArmed",
    "FaultFired",
    "FlowError",
    "H2GoAway",
    "H2Reset",
    "HttpRequest",
    "HttpResponse",
    "Relay",
    "SseEvent",
    "WsClose",
    "WsMessage",
    "WsPing",
    "WsProtocolError",
    "WsStart",
    "event_from_dict",
    "event_to_dict",
]

Leg = Literal["client", "server"]
Direction = Literal["client", "server"]
Side = Literal["client", "server", "proxy"]
StreamKind = Literal["ws", "sse", "http-stream", "http"]
PayloadEncoding = Literal["utf-8", "base64"]

LEGS: tuple[str, ...] = ("client", "server")
DIRECTIONS: tuple[str, ...] = ("client", "server")
SIDES: tuple[str, ...] = ("client", "server", "proxy")
STREAM_KINDS: tuple[str, ...] = ("ws", "sse", "http-stream", "http")
CONN_CLOSE_HOW: tuple[str, ...] = ("fin", "rst", "timeout", "error", "closed")
CONN_CLOSE_BY: tuple[str, ...] = ("peer", "proxy", "unknown")
BODY_END_HOW: tuple[str, ...] = ("terminated", "length", "eof", "cut", "error")
RELAY_ACTIONS: tuple[str, ...] = ("fin", "rst", "close", "cut", "none")


def _check(value: object, allowed: tuple[object, ...], name: str) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}, not {value!r}")


def _check_opt(value: object, allowed: tuple[object, ...], name: str) -> None:
    if value is not None:
        _check(value, allowed, name)


def _check_cost(value: object) -> None:
    """A ``proxy_cost`` object: None, or a dict of numbers (docs/capture-format.md)."""
    if value is None:
        return
    if not isinstance(value, dict) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in value.values()
    ):
        raise ValueError(f"proxy_cost must be an object of numbers, not {value!r}")


@dataclass(frozen=True, kw_only=True, slots=True)
class Event:
    """Fields every event has. Not written on its own: use a subclass."""

    type: ClassVar[str] = ""
    ts: float
    mono: float
    conn: str | None = None
    stream: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class _Payload(Event):
    """Optional payload fields shared by chunks, SSE events and WebSocket messages.

    ``payload`` is absent unless the user asked for previews or full content
    (option ``trace_payload``); ``payload_truncated`` says a preview was cut.
    """

    payload: str | None = None
    payload_encoding: PayloadEncoding | None = None
    payload_truncated: bool = False

    def __post_init__(self) -> None:
        _check_opt(self.payload_encoding, ("utf-8", "base64"), "payload_encoding")
        if (self.payload is None) != (self.payload_encoding is None):
            raise ValueError("payload and payload_encoding go together")


# --- connections -------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class ConnOpen(Event):
    """A TCP connection opened on one leg (accepted from the browser, or dialled upstream)."""

    type: ClassVar[str] = "conn_open"
    leg: Leg
    peer: str | None = None  # "host:port" of the other end
    local: str | None = None  # "host:port" of our end
    tls_version: str | None = None  # e.g. "TLSv1.3", None for plain TCP
    alpn: str | None = None  # e.g. "h2", "http/1.1"
    sni: str | None = None
    client_conn: str | None = None  # server leg: id of the browser connection it serves

    def __post_init__(self) -> None:
        _check(self.leg, LEGS, "leg")


@dataclass(frozen=True, kw_only=True, slots=True)
class ConnTls(Event):
    """TLS was established on one leg (after ``conn_open``)."""

    type: ClassVar[str] = "conn_tls"
    leg: Leg
    tls_version: str | None = None
    alpn: str | None = None
    sni: str | None = None
    cipher: str | None = None

    def __post_init__(self) -> None:
        _check(self.leg, LEGS, "leg")


@dataclass(frozen=True, kw_only=True, slots=True)
class ConnClose(Event):
    """A TCP connection on one leg ended.

    ``by``: ``"peer"`` (the browser or upstream ended it), ``"proxy"`` (mitmproxy
    or tearline did) or ``"unknown"``. ``how``: ``"fin"`` (orderly EOF),
    ``"rst"`` (reset), ``"timeout"`` (idle timer), ``"error"`` (other socket
    error, see ``error``/``errno``) or ``"closed"`` (we closed it ourselves).
    """

    type: ClassVar[str] = "conn_close"
    leg: Leg
    by: str = "unknown"
    how: str = "fin"
    error: str | None = None  # exception text that ended it, e.g. "[Errno 104] Connection reset by peer"
    errno: int | None = None
    bytes_sent: int | None = None
    bytes_received: int | None = None
    # client leg: the proxy's own delay per message/chunk relayed on it (tearline/proxy_cost.py)
    proxy_cost: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        _check(self.leg, LEGS, "leg")
        _check_cost(self.proxy_cost)
        _check(self.by, CONN_CLOSE_BY, "by")
        _check(self.how, CONN_CLOSE_HOW, "how")


# --- HTTP ------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class HttpRequest(Event):
    """Request headers arrived from the browser (``ts`` = when they were complete)."""

    type: ClassVar[str] = "http_request"
    method: str
    url: str  # secret query parameters already redacted
    http_version: str = "HTTP/1.1"
    headers: tuple[tuple[str, str], ...] = ()  # secret headers already redacted
    server_conn: str | None = None  # id of the upstream connection carrying it, when known


@dataclass(frozen=True, kw_only=True, slots=True)
class HttpResponse(Event):
    """Response headers arrived from upstream (or were made by tearline: ``made_by_proxy``)."""

    type: ClassVar[str] = "http_response"
    status: int
    reason: str = ""
    http_version: str = "HTTP/1.1"
    headers: tuple[tuple[str, str], ...] = ()
    kind: StreamKind = "http"
    streamed: bool = False  # body relayed live, chunk by chunk
    content_length: int | None = None
    made_by_proxy: bool = False
    server_conn: str | None = None  # id of the upstream connection that delivered it, when known

    def __post_init__(self) -> None:
        _check(self.kind, STREAM_KINDS, "kind")


@dataclass(frozen=True, kw_only=True, slots=True)
class BodyChunk(_Payload):
    """One piece of a streamed body as it passed the proxy."""

    type: ClassVar[str] = "body_chunk"
    direction: Direction = "server"
    size: int
    offset: int = 0  # body bytes before this chunk

    def __post_init__(self) -> None:
        _Payload.__post_init__(self)
        _check(self.direction, DIRECTIONS, "direction")


@dataclass(frozen=True, kw_only=True, slots=True)
class BodyEnd(Event):
    """A body stopped.

    ``how``: ``"terminated"`` (chunked terminator / h2 END_STREAM), ``"length"``
    (Content-Length reached), ``"eof"`` (close-delimited body ended by EOF),
    ``"cut"`` (stopped before its end) or ``"error"``. ``complete`` is True for
    the first three.
    """

    type: ClassVar[str] = "body_end"
    direction: Direction = "server"
    complete: bool
    how: str
    total_bytes: int = 0
    chunks: int = 0
    error: str | None = None

    def __post_init__(self) -> None:
        _check(self.direction, DIRECTIONS, "direction")
        _check(self.how, BODY_END_HOW, "how")


@dataclass(frozen=True, kw_only=True, slots=True)
class SseEvent(_Payload):
    """One Server-Sent Event parsed from a ``text/event-stream`` body.

    ``partial`` marks an event that was still incomplete when the body stopped.
    ``ts`` is the time of the chunk that completed the event.
    """

    type: ClassVar[str] = "sse_event"
    event: str = "message"
    id: str | None = None
    retry: int | None = None
    data_len: int = 0  # bytes of data after joining data lines
    partial: bool = False
    index: int = 0  # 0-based position in the stream
    data_type: str | None = None  # the type named in its data's JSON (tearline.sse_types), never content


@dataclass(frozen=True, kw_only=True, slots=True)
class FlowError(Event):
    """mitmproxy marked the flow as failed (its ``flow.error``)."""

    type: ClassVar[str] = "flow_error"
    message: str


@dataclass(frozen=True, kw_only=True, slots=True)
class H2Reset(Event):
    """An HTTP/2 RST_STREAM for this stream."""

    type: ClassVar[str] = "h2_reset"
    error_code: int
    by: Side

    def __post_init__(self) -> None:
        _check(self.by, SIDES, "by")


@dataclass(frozen=True, kw_only=True, slots=True)
class H2GoAway(Event):
    """An HTTP/2 GOAWAY on this connection."""

    type: ClassVar[str] = "h2_goaway"
    error_code: int
    by: Side
    last_stream_id: int | None = None

    def __post_init__(self) -> None:
        _check(self.by, SIDES, "by")


# --- WebSocket ---------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class WsStart(Event):
    """The WebSocket handshake completed (101 relayed)."""

    type: ClassVar[str] = "ws_start"
    subprotocol: str | None = None
    extensions: tuple[str, ...] = ()  # e.g. ("permessage-deflate; client_max_window_bits=12",)


@dataclass(frozen=True, kw_only=True, slots=True)
class WsMessage(_Payload):
    """One (reassembled) WebSocket data message."""

    type: ClassVar[str] = "ws_message"
    direction: Direction
    opcode: Literal["text", "binary"] = "text"
    size: int
    injected: bool = False  # sent by tearline, not by a peer
    dropped: bool = False  # received but not forwarded (a fault dropped it)
    index: int = 0  # 0-based position among this direction's messages

    def __post_init__(self) -> None:
        _Payload.__post_init__(self)
        _check(self.direction, DIRECTIONS, "direction")
        _check(self.opcode, ("text", "binary"), "opcode")


@dataclass(frozen=True, kw_only=True, slots=True)
class WsClose(Event):
    """How a WebSocket ended, once per stream.

    ``code``/``reason``: of the first close frame, or ``1006`` with
    ``frame=False`` when the connection ended with no close frame at all.
    ``closed_by``: who sent the first close frame (or dropped the connection).
    ``answered``: whether the other side sent its close frame back (None when
    there was no frame to answer).
    """

    type: ClassVar[str] = "ws_close"
    code: int | None = None  # None: the socket never closed while recorded
    reason: str = ""
    closed_by: Side | None = None
    frame: bool = True
    answered: bool | None = None
    answered_by: Side | None = None  # who answered: the peer, or "proxy" answering on its behalf
    transport_end: str | None = None  # how the first TCP connection to end did: fin/rst/timeout/error/closed

    def __post_init__(self) -> None:
        _check_opt(self.closed_by, SIDES, "closed_by")
        _check_opt(self.answered_by, SIDES, "answered_by")
        _check_opt(self.transport_end, CONN_CLOSE_HOW, "transport_end")


@dataclass(frozen=True, kw_only=True, slots=True)
class WsPing(Event):
    """A WebSocket ping or pong frame (keepalives), as it passed the proxy.

    ``direction``: toward whom it travelled (``"server"``: sent by the client);
    ``size``: its payload in bytes (at most 125).
    """

    type: ClassVar[str] = "ws_ping"
    kind: Literal["ping", "pong"]
    direction: Direction
    size: int = 0

    def __post_init__(self) -> None:
        _check(self.kind, ("ping", "pong"), "kind")
        _check(self.direction, DIRECTIONS, "direction")


@dataclass(frozen=True, kw_only=True, slots=True)
class WsProtocolError(Event):
    """The proxy's WebSocket parser found a protocol violation in what ``by`` sent, and failed it.

    ``code``/``reason``: the close the proxy sent for it (1002 protocol error, 1007
    invalid data, 1009 too big); the other peer got the same close frame and its answer
    was relayed back to ``by``, as if that peer had found the violation itself.
    """

    type: ClassVar[str] = "ws_protocol_error"
    by: Direction
    code: int
    reason: str = ""

    def __post_init__(self) -> None:
        _check(self.by, DIRECTIONS, "by")


# --- what tearline itself did ------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class Relay(Event):
    """The faithful relay passed an end from one leg to the other.

    ``leg`` is the leg tearline acted on; ``observed`` what happened on the
    other leg (``"fin"``, ``"rst"``, ``"close"``, ``"cut"``); ``action`` what
    tearline emitted (``"fin"``, ``"rst"``, ``"close"`` with ``code``/``reason``,
    ``"cut"`` for a body ended without its terminator, ``"none"``).
    """

    type: ClassVar[str] = "relay"
    leg: Leg
    observed: str
    action: str
    code: int | None = None
    reason: str | None = None

    def __post_init__(self) -> None:
        _check(self.leg, LEGS, "leg")
        _check(self.action, RELAY_ACTIONS, "action")


@dataclass(frozen=True, kw_only=True, slots=True)
class FaultArmed(Event):
    """A fault from a scenario became active (at start-up or by a command)."""

    type: ClassVar[str] = "fault_armed"
    fault_id: str  # e.g. "scenario.toml#2" or "cli#1"
    action: str  # the fault's name, e.g. "close"
    params: dict[str, Any] = field(default_factory=dict)
    armed: bool = True  # False: disarmed


@dataclass(frozen=True, kw_only=True, slots=True)
class FaultFired(Event):
    """A fault fired on a stream: what triggered it and what tearline did on each leg."""

    type: ClassVar[str] = "fault_fired"
    fault_id: str
    action: str
    params: dict[str, Any] = field(default_factory=dict)
    trigger: str = ""  # e.g. "after_messages=3 (server)"
    client_action: str | None = None  # what tearline did to the browser leg, e.g. "close 4001"
    server_action: str | None = None  # what tearline did to the upstream leg, e.g. "fin"


@dataclass(frozen=True, kw_only=True, slots=True)
class Anomaly(Event):
    """Something malformed or unexpected in the traffic or in tearline itself (never fatal)."""

    type: ClassVar[str] = "anomaly"
    text: str


@dataclass(frozen=True, kw_only=True, slots=True)
class CaptureEnd(Event):
    """The footer: the capture was closed cleanly (absent after ``kill -9``)."""

    type: ClassVar[str] = "capture_end"
    events: int  # events written before this one
    dropped_events: int = 0  # events the writer could not write (e.g. disk full)
    proxy_cost: dict[str, Any] | None = None  # the proxy's own delay over the whole capture

    def __post_init__(self) -> None:
        _check_cost(self.proxy_cost)


EVENT_TYPES: dict[str, type[Event]] = {
    cls.type: cls
    for cls in (
        ConnOpen,
        ConnTls,
        ConnClose,
        HttpRequest,
        HttpResponse,
        BodyChunk,
        BodyEnd,
        SseEvent,
        FlowError,
        H2Reset,
        H2GoAway,
        WsStart,
        WsMessage,
        WsClose,
        WsPing,
        WsProtocolError,
        Relay,
        FaultArmed,
        FaultFired,
        Anomaly,
        CaptureEnd,
    )
}


# --- (de)serialisation -----------------------------------------------------------------

_HINTS: dict[type[Event], dict[str, Any]] = {}


def _hints(cls: type[Event]) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def event_to_dict(event: Event) -> dict[str, Any]:
    """The JSON object for ``event``: ``type`` first, fields in declaration order.

    Fields whose value is None, and ``payload_truncated`` when False, are left
    out to keep lines short; the reader restores the defaults.
    """
    out: dict[str, Any] = {"type": event.type}
    for f in dataclasses.fields(event):
        value = getattr(event, f.name)
        if value is None or (f.name == "payload_truncated" and value is False):
            continue
        if isinstance(value, tuple):
            value = [list(v) if isinstance(v, tuple) else v for v in value]
        out[f.name] = value
    return out


def _coerce(value: Any, hint: Any) -> Any:
    """Turn JSON lists back into the tuples the dataclass declares."""
    origin = typing.get_origin(hint)
    if origin is tuple and isinstance(value, list):
        args = typing.get_args(hint)
        inner = args[0] if args else Any
        return tuple(_coerce(v, inner) for v in value)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        for arg in typing.get_args(hint):
            if typing.get_origin(arg) is tuple:
                return _coerce(value, arg)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def event_from_dict(data: dict[str, Any]) -> Event:
    """Build an event from its JSON object. Raises ``ValueError`` with a readable reason.

    Unknown keys are ignored (a reader stays usable on captures with extra
    annotations); a missing required field or a bad value is an error.
    """
    kind = data.get("type")
    cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(f"unknown event type {kind!r}")
    hints = _hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            kwargs[f.name] = _coerce(data[f.name], hints[f.name])
    missing = [
        f.name
        for f in dataclasses.fields(cls)
        if f.name not in kwargs
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ValueError(f"{kind} event lacks field(s) {', '.join(missing)}")
    for name in ("ts", "mono"):
        if not isinstance(kwargs[name], int | float) or isinstance(kwargs[name], bool):
            raise ValueError(f"{kind} event has a non-numeric {name}: {kwargs[name]!r}")
    try:
        return cls(**kwargs)
    except TypeError as e:
        raise ValueError(f"{kind} event: {e}") from None
