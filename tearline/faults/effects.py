"""The decisions a fault returns. The edge (``addons/faults.py``) carries them out.

A fault never does I/O: it looks at where it fired and returns a tuple of these
frozen values. Units are in each field's comment. ``to`` names the leg(s) an
effect acts on: ``"client"`` (the browser's connection), ``"server"`` (the
upstream's) or ``"both"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "H2_ERRORS",
    "H2_ERROR_CODES",
    "H2_RST_HELP",
    "HOW",
    "TO",
    "Abort",
    "Close",
    "Delay",
    "Drop",
    "Effect",
    "Forward",
    "GoAway",
    "Respond",
    "Stall",
    "Throttle",
    "Truncate",
    "describe",
]

To = Literal["client", "server", "both"]
TO: tuple[str, ...] = ("client", "server", "both")
HOW: tuple[str, ...] = ("fin", "rst")
H2_ERROR_CODES: dict[str, int] = {
    "NO_ERROR": 0x0,
    "PROTOCOL_ERROR": 0x1,
    "INTERNAL_ERROR": 0x2,
    "FLOW_CONTROL_ERROR": 0x3,
    "STREAM_CLOSED": 0x5,
    "REFUSED_STREAM": 0x7,
    "CANCEL": 0x8,
    "ENHANCE_YOUR_CALM": 0xB,
    "INADEQUATE_SECURITY": 0xC,
    "HTTP_1_1_REQUIRED": 0xD,
}
"""HTTP/2 error codes (RFC 9113 section 7) a fault may send in RST_STREAM or GOAWAY."""
H2_ERRORS: tuple[str, ...] = tuple(H2_ERROR_CODES)
# the help of the h2_error parameter of every fault that ends one HTTP/2 stream (abort, reset, truncate)
H2_RST_HELP = "with HTTP/2 to the browser: the RST_STREAM code that ends this stream (its siblings go on)"


@dataclass(frozen=True, kw_only=True, slots=True)
class Forward:
    """Pass the message or chunk on unchanged."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Drop:
    """Do not pass the message (or SSE event, or chunk) on."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Delay:
    """Pass it on ``ms`` milliseconds after it arrived, after everything that arrived before it."""

    ms: float


@dataclass(frozen=True, kw_only=True, slots=True)
class Close:
    """A WebSocket close frame (``code``, ``reason``) to ``to``, then TCP close; the other leg gets FIN."""

    code: int
    reason: str = ""
    to: To = "client"


@dataclass(frozen=True, kw_only=True, slots=True)
class Abort:
    """End the connection(s) with no close frame and no terminating chunk.

    ``how``: ``"fin"`` (orderly EOF) or ``"rst"`` (TCP reset, SO_LINGER 0). The
    other leg, if not named by ``to``, gets FIN.
    """

    how: Literal["fin", "rst"] = "fin"
    to: To = "client"
    h2_error: str = (
        "INTERNAL_ERROR"  # with HTTP/2 to the browser: the RST_STREAM code ending this stream only
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class Truncate:
    """Forward only the first ``keep`` bytes of the current chunk, then end the body without its
    terminating chunk by closing the browser's connection with ``how`` (``"fin"``/``"rst"``)."""

    keep: int
    how: Literal["fin", "rst"] = "fin"
    h2_error: str = (
        "INTERNAL_ERROR"  # with HTTP/2 to the browser: the RST_STREAM code ending this stream only
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class Respond:
    """Answer the request from the proxy: HTTP ``status`` with ``body``; never sent upstream.

    ``status`` None means refuse: close the browser's connection with no response at all.
    """

    status: int | None
    body: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class Stall:
    """Stop forwarding toward ``to`` while keeping the connection open, with TCP backpressure
    (the sender's socket stops being read). ``ms``: how long; None = until the fault is disarmed."""

    ms: int | None
    to: To = "both"


@dataclass(frozen=True, kw_only=True, slots=True)
class Throttle:
    """Pass data of ``direction`` on at no more than ``bytes_per_s`` bytes per second."""

    bytes_per_s: int
    direction: Literal["client", "server"] = "server"


@dataclass(frozen=True, kw_only=True, slots=True)
class GoAway:
    """HTTP/2 GOAWAY to the browser (``h2_error`` name, ``last_stream_id``; None = the highest it opened)."""

    h2_error: str = "NO_ERROR"
    last_stream_id: int | None = None


Effect = Forward | Drop | Delay | Close | Abort | Truncate | Respond | Stall | Throttle | GoAway


def describe(effect: Effect) -> str:
    """A short human text for an effect, as recorded in ``fault_fired`` (e.g. ``"close 4001 'bye'"``)."""
    match effect:
        case Close(code=code, reason=reason):
            return f"close {code}" + (f" {reason!r}" if reason else "")
        case Abort(how=how):
            return how
        case Truncate(keep=keep, how=how):
            return f"cut body after {keep} bytes of chunk, {how}"
        case Respond(status=None):
            return "refused (connection closed, no response)"
        case Respond(status=status):
            return f"responded {status}"
        case Stall(ms=ms):
            return "stall " + (f"{ms} ms" if ms is not None else "until disarmed")
        case Delay(ms=ms):
            return f"delay {ms:g} ms"
        case Throttle(bytes_per_s=rate):
            return f"throttle {rate} bytes/s"
        case Drop():
            return "drop"
        case GoAway(h2_error=err, last_stream_id=last):
            return f"GOAWAY {err}" + (f" last_stream_id={last}" if last is not None else "")
        case _:
            return "forward"
