"""Every reach of tearline into mitmproxy's (and wsproto's) internals: one list, one order, applied once.

mitmproxy has no public API to learn whether a peer ended with FIN or RST, to reset
a connection, to close one side of a WebSocket with a chosen code, to stop reading a
socket or to delay a streamed body. tearline does those below its public API. This
module names the releases that was verified with (``MITMPROXY``, ``WSPROTO``), lists
every internal attribute and signature any tearline module uses (``INTERNALS``), and
applies every class-level patch in one explicit order, once (``PATCHES``, ``apply()``).

Upgrading mitmproxy: ``check()`` (run by ``tests/test_internals.py``) names each listed
internal that no longer exists or whose parameters changed; re-read the modules in its
``by`` column, then bump ``MITMPROXY``/``WSPROTO``.

Per-connection replacements of ``StreamReader.read`` (an instance attribute) go through
``wrap_read``, which keeps them in ``READ_LAYERS`` order however the addons are loaded.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, fields, is_dataclass
from typing import Any

__all__ = [
    "INTERNALS",
    "MITMPROXY",
    "PATCHES",
    "READ_LAYERS",
    "WSPROTO",
    "Internal",
    "Patch",
    "applied",
    "apply",
    "check",
    "resolve",
    "wrap_read",
]

MITMPROXY = "12.3.1"
"""The mitmproxy release every internal below was verified with (pinned in pyproject.toml)."""
WSPROTO = "1.3.2"
"""The wsproto release (mitmproxy's WebSocket parser) the WebSocket internals were verified with."""

_SERVER = "mitmproxy.proxy.server"
_WS = "mitmproxy.proxy.layers.websocket"


@dataclass(frozen=True, slots=True)
class Internal:
    """One internal tearline relies on.

    ``where``: ``"module:Class.attr"`` (or ``"module:name"``); ``params``: the parameter
    names of a callable, in order (``None`` for a plain attribute, which may be set on
    instances only); ``use``: ``patched`` (replaced on the class, see ``PATCHES``),
    ``wrapped`` (replaced per instance), ``called``, ``read`` or ``set``; ``by``: the
    tearline modules using it.
    """

    where: str
    params: tuple[str, ...] | None
    use: str
    by: str


INTERNALS: tuple[Internal, ...] = (
    # connection handler: finding connections, reading, closing (conn_watch, mitm_io, relay, body_delay)
    Internal("mitmproxy.addons.proxyserver:Proxyserver.connections", None, "read", "mitm_io"),
    Internal(f"{_SERVER}:ConnectionHandler.transports", None, "read", "mitm_io relay body_delay conn_watch"),
    Internal(f"{_SERVER}:ConnectionHandler.layer", None, "read", "mitm_io"),
    Internal(
        f"{_SERVER}:ConnectionHandler.handle_connection", ("self", "connection"), "patched", "conn_watch"
    ),
    Internal(f"{_SERVER}:ConnectionHandler.server_event", ("self", "event"), "patched", "conn_watch mitm_io"),
    Internal(
        "mitmproxy.proxy.mode_servers:ProxyConnectionHandler.handle_hook",
        ("self", "hook"),
        "patched",
        "conn_watch",
    ),
    Internal(f"{_SERVER}:ConnectionIO.handler", None, "read", "mitm_io"),
    Internal(f"{_SERVER}:ConnectionIO.reader", None, "read", "mitm_io conn_watch body_delay"),
    Internal(f"{_SERVER}:ConnectionIO.writer", None, "read", "mitm_io conn_watch"),
    Internal("mitmproxy.proxy.server_hooks:ServerConnectedHook.data", None, "read", "conn_watch"),
    Internal("asyncio:StreamReader.read", ("self", "n"), "wrapped", "conn_watch body_delay"),
    Internal("asyncio:StreamReader._paused", None, "set", "mitm_io"),
    # the layer tree (mitm_io._walk)
    Internal("mitmproxy.proxy.layer:NextLayer.layer", None, "read", "mitm_io"),
    Internal("mitmproxy.proxy.layers.modes:ReverseProxy.child_layer", None, "read", "mitm_io"),
    Internal("mitmproxy.proxy.layers.http:HttpLayer.streams", None, "read", "mitm_io"),
    Internal("mitmproxy.proxy.layers.http:HttpLayer.connections", None, "read", "mitm_io"),
    Internal("mitmproxy.proxy.layer:Layer._handle_event", None, "set", "mitm_io relay fault_actions"),
    # one HTTP/2 stream to the client (mitm_io.h2_reset_stream)
    Internal("mitmproxy.proxy.layers.http:HttpLayer.command_sources", None, "set", "mitm_io"),
    Internal("mitmproxy.proxy.layers.http:HttpStream.flow", None, "read", "mitm_io"),
    Internal("mitmproxy.proxy.layers.http:HttpStream.stream_id", None, "read", "mitm_io"),
    Internal("mitmproxy.proxy.layers.http._http2:Http2Server", ("self", "context"), "read", "mitm_io"),
    Internal("mitmproxy.proxy.layers.http._http2:Http2Connection.h2_conn", None, "called", "mitm_io"),
    Internal("mitmproxy.proxy.layers.http._http2:Http2Connection.streams", None, "set", "mitm_io"),
    Internal(
        "mitmproxy.proxy.layers.http._http2:Http2Connection.is_closed",
        ("self", "stream_id"),
        "called",
        "mitm_io",
    ),
    Internal(
        "mitmproxy.proxy.layers.http:RequestProtocolError",
        ("self", "stream_id", "message", "code"),
        "called",
        "mitm_io",
    ),
    Internal("mitmproxy.proxy.layers.http:ErrorCode.CANCEL", None, "read", "mitm_io"),
    Internal("mitmproxy.proxy.layers.http:SendHttp", ("self", "event", "connection"), "called", "mitm_io"),
    Internal("mitmproxy.proxy.layers.http:DropStream", ("self", "stream_id"), "called", "mitm_io"),
    # ... and the flow's error hook, which mitmproxy does not fire for a dropped stream
    Internal("mitmproxy.proxy.layers.http:HttpErrorHook", ("self", "flow"), "called", "mitm_io"),
    Internal("mitmproxy.addonmanager:AddonManager.handle_lifecycle", ("self", "event"), "called", "mitm_io"),
    Internal("mitmproxy.proxy.commands:RequestWakeup", ("self", "delay"), "called", "mitm_io"),
    Internal("mitmproxy.proxy.events:Wakeup", ("self", "command"), "called", "mitm_io"),
    Internal(
        "h2.connection:H2Connection.reset_stream", ("self", "stream_id", "error_code"), "called", "mitm_io"
    ),
    Internal("h2.connection:H2Connection.highest_inbound_stream_id", None, "read", "mitm_io"),
    # ends inside one HTTP stream (stream_ends): a buffered body cut upstream, HTTP/2 frames received
    Internal(
        "mitmproxy.proxy.layers.http:HttpStream.handle_protocol_error",
        ("self", "event"),
        "patched",
        "stream_ends",
    ),
    Internal("mitmproxy.proxy.layers.http:HttpStream.response_body_buf", None, "read", "stream_ends"),
    Internal("mitmproxy.proxy.layers.http:HttpStream.server_state", None, "read", "stream_ends"),
    Internal("mitmproxy.proxy.layers.http:HttpStream.client_state", None, "read", "stream_ends"),
    Internal(
        "mitmproxy.proxy.layers.http:HttpStream.state_consume_response_body",
        ("self", "event"),
        "read",
        "stream_ends",
    ),
    Internal(
        "mitmproxy.proxy.layers.http:ResponseHeaders",
        ("self", "stream_id", "response", "end_stream"),
        "called",
        "stream_ends",
    ),
    Internal(
        "mitmproxy.proxy.layers.http:ResponseData", ("self", "stream_id", "data"), "called", "stream_ends"
    ),
    Internal(
        "mitmproxy.proxy.layers.http._http2:Http2Connection.handle_h2_event",
        ("self", "event"),
        "patched",
        "stream_ends",
    ),
    Internal(
        "mitmproxy.proxy.layers.http._http2:Http2Server._handle_event",
        ("self", "event"),
        "patched",
        "stream_ends",
    ),
    Internal("mitmproxy.proxy.layers.http._http2:Http2Client.their_stream_id", None, "read", "stream_ends"),
    Internal("mitmproxy.proxy.layers.http._http2:Http2Connection.streams", None, "set", "stream_ends"),
    Internal("h2.connection:H2Connection._receive_goaway_frame", ("self", "frame"), "patched", "stream_ends"),
    Internal("h2.connection:H2Connection.state_machine", None, "set", "stream_ends"),
    Internal("mitmproxy.connection:Connection.state", None, "set", "stream_ends"),
    Internal("mitmproxy.proxy.layers.http._base:ReceiveHttp", ("self", "event"), "read", "stream_ends"),
    # TLS: a close_notify from the peer (conn_watch)
    Internal(
        "mitmproxy.proxy.layers.tls:TLSLayer.event_to_child", ("self", "event"), "patched", "conn_watch"
    ),
    Internal("mitmproxy.proxy.layers.tls:TLSLayer.tls", None, "read", "conn_watch"),
    Internal("OpenSSL.SSL:Connection.get_shutdown", ("self",), "called", "conn_watch"),
    # options: values for options no addon has declared yet wait here (the option guard checks them)
    Internal("mitmproxy.optmanager:OptManager.deferred", None, "read", "option_guard"),
    # the WebSocket layer (conn_watch, relay, ws_inject, mitm_io, fault_actions)
    Internal(f"{_WS}:WebsocketLayer.start", ("self", "_"), "read", "relay"),
    Internal(
        f"{_WS}:WebsocketLayer.relay_messages", ("self", "event"), "patched", "relay conn_watch ws_inject"
    ),
    Internal(f"{_WS}:WebsocketLayer.done", ("self", "_"), "patched", "relay conn_watch mitm_io"),
    Internal(f"{_WS}:WebsocketLayer.client_ws", None, "read", "mitm_io relay ws_inject"),
    Internal(f"{_WS}:WebsocketLayer.server_ws", None, "read", "mitm_io relay ws_inject"),
    Internal(f"{_WS}:WebsocketConnection.frame_buf", None, "set", "ws_inject"),
    Internal(f"{_WS}:WebsocketConnection.conn", None, "read", "mitm_io relay"),
    Internal(f"{_WS}:WebsocketConnection.send2", ("self", "event"), "called", "mitm_io relay"),
    Internal(f"{_WS}:WebSocketMessageInjected", ("self", "flow", "message"), "called", "mitm_io ws_inject"),
    Internal(f"{_WS}:WebsocketEndHook", ("self", "flow"), "called", "mitm_io"),
    Internal("wsproto.connection:Connection.receive_data", ("self", "data"), "called", "relay"),
    Internal("wsproto.connection:Connection.events", ("self",), "called", "relay"),
    Internal("wsproto.connection:Connection._events", None, "set", "relay"),
    Internal("wsproto.connection:Connection.state", None, "read", "mitm_io relay"),
)
"""Every mitmproxy/wsproto/asyncio internal tearline touches (``check()`` verifies each)."""


@dataclass(frozen=True, slots=True)
class Patch:
    """A class attribute replaced by ``wrap(original)``; ``wrap`` is ``"module:function"``."""

    where: str
    wrap: str


PATCHES: tuple[Patch, ...] = (
    Patch(
        f"{_SERVER}:ConnectionHandler.handle_connection", "tearline.addons.conn_watch:wrap_handle_connection"
    ),
    Patch(f"{_SERVER}:ConnectionHandler.server_event", "tearline.addons.conn_watch:wrap_server_event"),
    Patch(
        "mitmproxy.proxy.mode_servers:ProxyConnectionHandler.handle_hook",
        "tearline.addons.conn_watch:wrap_handle_hook",
    ),
    Patch(
        "mitmproxy.proxy.layers.tls:TLSLayer.event_to_child",
        "tearline.addons.conn_watch:wrap_tls_event_to_child",
    ),
    Patch(
        "mitmproxy.proxy.layers.http:HttpStream.handle_protocol_error",
        "tearline.addons.stream_ends:wrap_handle_protocol_error",
    ),
    Patch(
        "mitmproxy.proxy.layers.http._http2:Http2Connection.handle_h2_event",
        "tearline.addons.stream_ends:wrap_handle_h2_event",
    ),
    Patch(
        "mitmproxy.proxy.layers.http._http2:Http2Server._handle_event",
        "tearline.addons.stream_ends:wrap_h2_send",
    ),
    Patch(
        "h2.connection:H2Connection._receive_goaway_frame",
        "tearline.addons.stream_ends:wrap_receive_goaway_frame",
    ),
    # WebsocketLayer.relay_messages, innermost first: each wraps the one before
    Patch(f"{_WS}:WebsocketLayer.relay_messages", "tearline.addons.ws_inject:wrap_relay_messages"),
    Patch(f"{_WS}:WebsocketLayer.relay_messages", "tearline.addons.conn_watch:wrap_relay_messages"),
    Patch(f"{_WS}:WebsocketLayer.relay_messages", "tearline.addons.relay:wrap_relay_messages"),
    Patch(f"{_WS}:WebsocketLayer.done", "tearline.addons.conn_watch:wrap_done"),
    Patch(f"{_WS}:WebsocketLayer.done", "tearline.addons.relay:wrap_done"),
)
"""Class-level patches, applied by ``apply()`` in this order (a later one wraps an earlier one)."""

READ_LAYERS: tuple[str, ...] = ("count", "delay")
"""Replacements of one connection's ``StreamReader.read``, innermost first: ``count`` (conn_watch:
bytes and how the read ended), ``delay`` (body_delay's delay line)."""

_applied = False


def _init_params(cls: type) -> tuple[str, ...]:
    """A class's constructor parameters, ``self`` first (as the class's ``__init__`` lists them)."""
    init = vars(cls).get("__init__") or next(
        (vars(base)["__init__"] for base in cls.__mro__ if "__init__" in vars(base)), object.__init__
    )
    return tuple(inspect.signature(init).parameters)


def resolve(where: str) -> tuple[Any, str, Any]:
    """``"module:A.b"`` -> (owner object, attribute name, current value); raises AttributeError/ImportError."""
    module_name, _, qual = where.partition(":")
    owner: Any = importlib.import_module(module_name)
    *path, attr = qual.split(".")
    for part in path:
        owner = getattr(owner, part)
    return owner, attr, getattr(owner, attr, _MISSING)


_MISSING = object()


def _instance_attribute(cls: type, name: str) -> bool:
    """True when instances of ``cls`` get ``name``: declared, a dataclass field, or assigned in the source."""
    for klass in cls.__mro__:
        if name in getattr(klass, "__annotations__", {}):
            return True
        if is_dataclass(klass) and any(f.name == name for f in fields(klass)):
            return True
        try:
            src = inspect.getsource(klass)
        except (OSError, TypeError):
            continue
        if f"self.{name} =" in src or f"self.{name}: " in src:
            return True
    return False


def _problem(item: Internal) -> str | None:
    try:
        owner, attr, value = resolve(item.where)
    except (ImportError, AttributeError) as e:
        return f"{item.where} (used by {item.by}): not found ({e})"
    if value is _MISSING:
        if item.params is None and isinstance(owner, type) and _instance_attribute(owner, attr):
            return None
        return f"{item.where} (used by {item.by}): no attribute {attr!r}"
    if item.params is None:
        return None
    fn = getattr(value, "_tearline_original", value)  # a patched one: the original's signature
    try:
        params = tuple(inspect.signature(fn).parameters if not isinstance(fn, type) else _init_params(fn))
    except (TypeError, ValueError):
        return f"{item.where} (used by {item.by}): no readable signature"
    if params != item.params:
        return f"{item.where} (used by {item.by}): parameters {params}, verified with {item.params}"
    return None


def check() -> list[str]:
    """One line per listed internal that is gone or whose parameters changed (empty: all as verified)."""
    return [p for item in INTERNALS if (p := _problem(item)) is not None]


def applied() -> bool:
    return _applied


def apply() -> None:
    """Apply every patch in ``PATCHES``, in order, once (idempotent). Called from addons' ``load``."""
    global _applied
    if _applied:
        return
    for patch in PATCHES:
        owner, attr, original = resolve(patch.where)
        module_name, _, fn_name = patch.wrap.partition(":")
        wrap: Callable[[Any], Any] = getattr(importlib.import_module(module_name), fn_name)
        replacement = wrap(original)
        replacement._tearline_original = getattr(original, "_tearline_original", original)
        setattr(owner, attr, replacement)
    _applied = True


def wrap_read(reader: asyncio.StreamReader, layer: str, wrap: Callable[[Any], Any]) -> bool:
    """Replace ``reader.read`` by ``wrap(reader.read)`` as layer ``layer`` of ``READ_LAYERS``.

    Once per layer and reader (False when already there); an inner layer after an outer
    one is a programming error (RuntimeError): the order is ``READ_LAYERS``'.
    """
    if layer not in READ_LAYERS:
        raise ValueError(f"read layer must be one of {', '.join(READ_LAYERS)}, not {layer!r}")
    chain: list[str] = reader.__dict__.setdefault("_tearline_read_layers", [])
    if layer in chain:
        return False
    outer = [x for x in chain if READ_LAYERS.index(x) > READ_LAYERS.index(layer)]
    if outer:
        raise RuntimeError(f"read layer {layer!r} must be applied before {outer[0]!r}")
    reader.read = wrap(reader.read)  # type: ignore[method-assign]
    chain.append(layer)
    return True
