"""The vocabulary every evidence importer produces: one ``Observation`` per fact.

Importers (``analysis/evidence/netlog/interpreter.py``, ``cdp.py``, ``har.py``, ``console.py``,
``caddylog.py``, and ``capture_evidence.py`` for tearline captures) each turn
one file into a ``SourceRecord``: what was read, on what clock, and a list of
observations already converted to wall-clock epoch seconds by the source's
own clock rule (NetLog ``timeTickOffset``, CDP ``wallTime - timestamp``, ...).
The diagnosis (``analysis/diagnose/parts.py``, ``align.py``, ``streams.py``, ``rules.py``) groups, refines the
offsets and matches streams across sources; it never reparses files. What it knows of each source
(browser or proxy, how far it is trusted, whether its lines carry a stream id) is ``SOURCE_TABLE``.

``kind`` is one of ``OBSERVATION_KINDS``; each importer documents which it
emits. ``stream_key`` is the source's own id for the request or socket (NetLog
source id, CDP requestId, HAR entry index, capture flow id); matching across
sources happens later, by URL, time and connection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tearline.analysis.evidence.runs import MessageRun

__all__ = [
    "BROWSER_SOURCES",
    "OBSERVATION_KINDS",
    "PROXY_SOURCES",
    "SOURCE_NAMES",
    "SOURCE_PRIORITY",
    "SOURCE_ROLES",
    "SOURCE_TABLE",
    "UNKEYED_SOURCES",
    "Observation",
    "SourceRecord",
    "SourceRole",
    "source_priority",
]

SOURCE_NAMES: tuple[str, ...] = ("netlog", "cdp", "har", "console", "caddy", "capture")


@dataclass(frozen=True, slots=True)
class SourceRole:
    """Where one evidence source stands, and how the diagnosis weighs it. The diagnosis asks this table,
    never a source's name: a new importer adds one row here."""

    role: (
        str  # "browser" (the browser's own network view), "page" (the page's messages), "proxy" (in the path)
    )
    priority: int  # whose view of a stream's times and counts is preferred: lower first
    unkeyed: bool = False  # lines carry no stream id and are written when a request has finished (an access
    #   log): each joins the stream whose lifetime contains it, and its time is an end, not an open


SOURCE_TABLE: dict[str, SourceRole] = {
    "netlog": SourceRole("browser", 0),
    "cdp": SourceRole("browser", 1),
    "har": SourceRole("browser", 2),
    "capture": SourceRole("proxy", 3),
    "console": SourceRole("page", 4),
    "caddy": SourceRole("proxy", 5, unkeyed=True),
}
UNKNOWN_PRIORITY = 9  # a source the table does not know comes last
SOURCE_ROLES: dict[str, str] = {name: s.role for name, s in SOURCE_TABLE.items()}
SOURCE_PRIORITY: dict[str, int] = {name: s.priority for name, s in SOURCE_TABLE.items()}
UNKEYED_SOURCES: tuple[str, ...] = tuple(name for name, s in SOURCE_TABLE.items() if s.unkeyed)
BROWSER_SOURCES: tuple[str, ...] = tuple(name for name, s in SOURCE_TABLE.items() if s.role == "browser")
PROXY_SOURCES: tuple[str, ...] = tuple(name for name, s in SOURCE_TABLE.items() if s.role == "proxy")


def source_priority(name: str) -> int:
    """How much a source's view of a stream is trusted: lower first (``SOURCE_TABLE``)."""
    found = SOURCE_TABLE.get(name)
    return found.priority if found is not None else UNKNOWN_PRIORITY


OBSERVATION_KINDS: dict[str, str] = {
    # requests and streams
    "request_start": "the browser (or proxy) started a request; url, text=method",
    "response_headers": "response headers arrived; status",
    "data_received": "body bytes or an SSE event arrived at the browser; size; event, data_type for an SSE event",
    "data_sent": "body bytes left the browser; size",
    "request_done": "the request finished successfully; size = total bytes",
    "request_failed": "the request failed; error = net error name (ERR_...), code = net error number",
    "request_cancelled": "the request was cancelled by the browser/page (ERR_ABORTED, canceled=true)",
    # WebSocket
    "ws_created": "page created a WebSocket; url",
    "ws_handshake_request": "upgrade request sent",
    "ws_open": "handshake response (101) received; status",
    "ws_frame_sent": "browser sent a frame; size, text=opcode name",
    "ws_frame_received": "browser received a frame; size, text=opcode name",
    "ws_close_sent": "browser sent a close frame; code, reason",
    "ws_close_received": "browser received a close frame; code, reason",
    "ws_closed": "the socket is closed (as the page saw it); code, reason, text='clean'|'unclean' when known",
    "ws_error": "a WebSocket error was reported; text",
    # connections and transport
    "socket_closed": "a transport connection ended; error = net error name when abnormal; how, by, errno when known",
    "socket_error": "a read/write error on a socket; error, code",
    "h2_rst_stream": "an HTTP/2 RST_STREAM; code = h2 error code, direction = who sent it",
    "h2_goaway": "an HTTP/2 GOAWAY; code",
    "network_changed": "the OS network changed and the browser dropped its sockets (ERR_NETWORK_CHANGED); text",
    # page and browser
    "navigation": "the page navigated or unloaded; url = destination",
    "page_crash": "the renderer crashed (sad tab); text",
    "console": "a console or log message; text, level",
    # proxy-side facts (Caddy logs, tearline captures)
    "upstream_error": "the proxy failed to reach or read the upstream; text, status",
    "proxy_abort": "the proxy aborted a response it had started; text",
    "proxy_reload": "the proxy reloaded its configuration",
    "proxy_timeout": "an intermediary's timer fired; timer names it",
    "access": "an access-log line for a finished request; status, size, duration (seconds)",
    "fault": "tearline injected a fault; text describes it",
    "relay": "tearline relayed an end faithfully; text describes it",
}


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class Observation:
    """One fact from one evidence source, on the wall clock.

    Treat it as immutable (``dataclasses.replace`` for a changed copy): it compares and hashes by
    value. It is not ``frozen`` only because a frozen dataclass's constructor is about four times
    slower, and a long capture makes one observation per WebSocket message (docs/performance.md).
    """

    source: str  # one of SOURCE_NAMES
    kind: str  # one of OBSERVATION_KINDS
    t: float  # wall-clock epoch seconds, by the source's own clock rule (before skew refinement)
    stream_key: str | None = None  # the source's own id for the request/socket
    url: str | None = None
    direction: str | None = None  # "client" (browser sent) or "server" (browser received)
    size: int | None = None
    status: int | None = None  # HTTP status
    code: int | None = None  # WebSocket close code, net error number, h2 error code
    reason: str | None = None  # the WebSocket close reason, and nothing else
    error: str | None = None  # net error name, e.g. "ERR_INCOMPLETE_CHUNKED_ENCODING"
    text: str | None = None  # free text for a person (console message, log msg); rules do not parse it
    where: str | None = None  # place in the source file: "line 12", "event 3456", "entries[4]"
    leg: str | None = None  # for proxy-side sources: "client" or "server" leg
    # typed facts the rules match on (None when the source does not say)
    how: str | None = None  # how a connection or body ended: fin, rst, timeout, error, closed (capture
    #   conn_close); terminated, length, eof, cut, error (capture body_end); for a fault: ends, shapes
    by: str | None = None  # who ended it: peer, proxy, unknown (capture); peer, local (NetLog QUIC)
    errno: int | None = None  # the OS error number that ended a connection
    frame: bool | None = None  # a WebSocket close: True when a close frame was seen, False when none was
    event: str | None = None  # an SSE event's name ("message" when it had none)
    data_type: str | None = None  # the JSON ``type`` / shape of an SSE event's data (e.g. "RUN_ERROR")
    payload: str | None = None  # the recorded data of a message or event, when the recorder kept it
    error_class: str | None = None  # what an error message means, classified by its importer: reset, cut,
    #   protocol, client_gone, timeout (the importer knows its source's words; rules match this, not the text)
    timer: str | None = None  # the name of the timer that fired (proxy_timeout)
    level: str | None = None  # console / log level: error, warning, info, ..., "anomaly" for tearline's own
    resource: str | None = None  # a request's resource type (Fetch, EventSource, XHR, WebSocket, ...)
    duration: float | None = None  # seconds the source says the request took (an access log line)
    tampered: str | None = None  # "injected" / "dropped" when tearline did it to a WebSocket message
    time_note: str | None = None  # what the source does not know about ``t`` (HAR end without timing, ...)
    raw_t: float | None = None  # the source's own time value, before conversion


@dataclass
class SourceRecord:
    """Everything one importer read from one file."""

    name: str  # one of SOURCE_NAMES
    path: str
    observations: list[Observation] = field(default_factory=list)
    clock: str = "wall"  # how times were converted, e.g. "netlog timeTickOffset"
    offset: float = 0.0  # seconds added to the source's raw clock to get wall time
    warnings: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)  # e.g. browser version, capture mode
    # plain WebSocket messages folded per stream (``load_capture(fold=True)``, ``analysis/evidence/runs.py``);
    # they are observations too, kept as columns: ``all_observations()`` lists them whole
    runs: list[MessageRun] = field(default_factory=list)

    @property
    def size(self) -> int:
        """How many observations the record holds, the folded messages included."""
        return len(self.observations) + sum(len(r) for r in self.runs)

    def all_observations(self) -> list[Observation]:
        """Every observation, the folded messages materialised, in time order (file order among equal times)."""
        from tearline.analysis.evidence.runs import merge_in_order

        return merge_in_order(self.observations, self.runs)
