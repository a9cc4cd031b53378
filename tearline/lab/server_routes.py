"""The lab server's routes: the query parameters each takes (a table, checked on every request) and
the bodies they send (``message_text``, ``sse_event_bytes``), so a test can predict every byte.

``LabServer`` (``tearline/lab/servers.py``) reads a request's behaviour from its query string. A
parameter a route does not take, a number that is not one, or an ``end`` the route does not know is
an error (``ParamError``; the server answers ``400`` naming it), never a silent default: a typo such
as ``interval=0.2`` for ``interval_ms=200`` would otherwise run the default behaviour and a test would
check the wrong thing. Parameters meant for someone else on the path (a test's proxy addon, a label
that makes a URL unique, a token a redaction test looks for) are declared to the server with
``LabServer(extra_params=...)`` and then ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl

__all__ = [
    "NUMBERS",
    "ROUTES",
    "WEBSOCKET",
    "ParamError",
    "Params",
    "Route",
    "message_text",
    "parse_params",
    "sse_event_bytes",
]

# every parameter that must be a whole number (milliseconds, bytes, counts, a close code)
NUMBERS = frozenset({"n", "size", "interval_ms", "delay_ms", "end_delay_ms", "code", "retry"})
_FALSE = ("0", "false", "no", "")


@dataclass(frozen=True, slots=True)
class Route:
    """What one route takes: its parameter names and the values of ``end`` it knows."""

    params: frozenset[str]
    ends: tuple[str, ...] = ()


_BODY = frozenset({"n", "size", "interval_ms", "delay_ms", "split", "end", "end_delay_ms"})
_CHUNKED_ENDS = ("terminate", "cut", "rst", "partial", "hang")

WEBSOCKET = Route(
    frozenset(
        {
            "n",
            "size",
            "binary",
            "interval_ms",
            "delay_ms",
            "echo",
            "answer",
            "end",
            "code",
            "reason",
            "end_delay_ms",
        }
    ),
    ("wait", "close", "fin", "rst", "hang"),
)
ROUTES: dict[str, Route] = {
    "/sse": Route(_BODY | {"event", "ids", "retry", "comment", "crlf"}, _CHUNKED_ENDS),
    "/stream": Route(_BODY, _CHUNKED_ENDS),
    "/length": Route(frozenset({"size", "end"}), ("full", "cut")),
}
OTHER = Route(frozenset())  # anything else answers "200 ok" and takes no parameters


class ParamError(ValueError):
    """A query parameter the route does not take, or a value it cannot use."""


@dataclass
class Params:
    """The checked query of one request (``num``/``text``/``flag`` with the route's defaults)."""

    q: dict[str, str] = field(default_factory=dict)

    def num(self, name: str, default: int) -> int:
        return int(self.q[name]) if name in self.q else default

    def text(self, name: str, default: str) -> str:
        return self.q.get(name, default)

    def flag(self, name: str, default: bool = False) -> bool:
        v = self.q.get(name)
        return default if v is None else v not in _FALSE


def parse_params(route: str, query: str, *, websocket: bool, extra: frozenset[str] = frozenset()) -> Params:
    """Check ``query`` against what ``route`` takes (``websocket``: an upgrade, on any path).

    Raises ``ParamError`` with a one-line message naming the parameter, the route and what it takes.
    """
    where = "a WebSocket" if websocket else route
    table = WEBSOCKET if websocket else ROUTES.get(route, OTHER)
    q = {k: v for k, v in parse_qsl(query, keep_blank_values=True) if k not in extra}
    for name, value in q.items():
        if name not in table.params:
            known = ", ".join(sorted(table.params)) or "none"
            raise ParamError(f"unknown parameter {name!r} for {where} (it takes: {known})")
        if name in NUMBERS:
            try:
                int(value)
            except ValueError:
                raise ParamError(f"parameter {name}={value!r} for {where} is not a whole number") from None
    end = q.get("end")
    if end is not None and end not in table.ends:
        raise ParamError(f"end={end!r} is not an ending {where} knows (one of: {', '.join(table.ends)})")
    return Params(q)


# --- what the routes send ---------------------------------------------------------------------
def message_text(i: int, size: int) -> str:
    """The ``i``-th server message: ``"<i>:"`` padded with ``x`` to ``size`` bytes."""
    head = f"{i}:"
    return head + "x" * max(0, size - len(head))


def sse_event_bytes(
    i: int,
    *,
    event: str | None = None,
    ids: bool = False,
    retry: int | None = None,
    comment: bool = False,
    size: int = 16,
    crlf: bool = False,
) -> bytes:
    """The ``i``-th SSE event as sent on the wire (data = ``message_text(i, size)``)."""
    lines: list[str] = []
    if comment:
        lines.append(f": comment {i}")
    if retry is not None:
        lines.append(f"retry: {retry}")
    if event:
        lines.append(f"event: {event}")
    if ids:
        lines.append(f"id: {i}")
    lines.append(f"data: {message_text(i, size)}")
    nl = "\r\n" if crlf else "\n"
    return (nl.join(lines) + nl + nl).encode()
