"""State and value decoding for the NetLog importer (``analysis/evidence/netlog/interpreter.py``).

``RequestState``/``SocketState`` hold what the interpreter learned about one URL_REQUEST or SOCKET
source; the functions decode NetLog values (ints that may be strings, base64 ``bytes``, HTTP/2 error
codes written as ``"8 (CANCEL)"``) without ever raising on a malformed value.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import Any

from tearline.analysis.evidence.browser_codes import net_error_name
from tearline.analysis.evidence.netlog.frames import FrameScanner

__all__ = [
    "ALREADY_OPEN",
    "CLOSE_ABNORMAL",
    "CLOSE_NO_STATUS",
    "ERR_ABORTED",
    "ERR_CONNECTION_RESET",
    "ERR_IO_PENDING",
    "ERR_WS_UPGRADE",
    "H2_CODE_RE",
    "NOT_FAILURES",
    "OK",
    "OPCODES",
    "OPCODE_CLOSE",
    "STATUS_RE",
    "SWITCHING_PROTOCOLS",
    "RequestState",
    "SocketState",
    "as_int",
    "as_str",
    "b64",
    "content_type",
    "fallback_name",
    "first_close",
    "h2_code",
    "invert",
]

# Chrome net errors the interpreter decides on (chromium net/base/net_error_list.h); every other
# number is named through the file's own ``constants.netError``
OK = 0
ERR_IO_PENDING = -1
ERR_ABORTED = -3  # the request was cancelled: ``request_cancelled``, never a failure
ERR_CONNECTION_RESET = -101  # a socket that ended with it was reset (RST), not closed
ERR_WS_UPGRADE = -173  # the WebSocket upgrade's success marker, never a failure
NOT_FAILURES = frozenset({OK, ERR_IO_PENDING, ERR_ABORTED, ERR_WS_UPGRADE})

# HTTP and WebSocket numbers (RFC 9110, RFC 6455)
SWITCHING_PROTOCOLS = 101  # the status of a WebSocket upgrade that succeeded
OPCODE_CLOSE = 8
OPCODES = {0: "continuation", 1: "text", 2: "binary", OPCODE_CLOSE: "close", 9: "ping", 10: "pong"}
CLOSE_NO_STATUS = 1005  # what the page sees for a close frame without a code
CLOSE_ABNORMAL = 1006  # what the page sees when no close frame arrived
ALREADY_OPEN = "already open when logging started"
STATUS_RE = re.compile(r"^HTTP/\d(?:\.\d)?\s+(\d{3})")
H2_CODE_RE = re.compile(r"^\s*(\d+)")


def content_type(headers: Any) -> str | None:
    """The media type of a NetLog ``headers`` list (``["HTTP/1.1 200", "content-type: text/event-stream; ..."]``).

    Lower case, parameters dropped (as CDP's ``mimeType``); None when absent or not a list.
    """
    if not isinstance(headers, list):
        return None
    for line in headers:
        if not isinstance(line, str):
            continue
        name, sep, value = line.partition(":")
        if sep and name.strip().lower() == "content-type":
            media = value.split(";", 1)[0].strip().lower()
            return media or None
    return None


@dataclass
class RequestState:
    key: str
    url: str | None = None
    method: str | None = None
    started: bool = False
    is_ws: bool = False
    status: int | None = None
    bytes_read: int = 0
    error: int | None = None  # first real net error
    cancelled: bool = False
    ended: bool = False
    close_obs: dict[str, int] = field(default_factory=dict)  # direction -> index of ws_close_* observation
    recv_close_frame: bool = False
    sent_close_frame: bool = False
    socket: int | None = None
    ws_closed: bool = False
    closed_obs: int | None = None
    start_obs: int | None = None
    h2_headers_t: float | None = None


@dataclass
class SocketState:
    sid: int
    remote: str | None = None
    request: str | None = None  # key of the last request bound to this socket
    fin: bool = False
    error: int | None = None
    used: bool = False  # a request ever had it (SOCKET_IN_USE): Chrome's used vs unused idle timer
    idle_since: float | None = None  # tick it last went idle in the pool (connected, or a request let go)
    pool_reason: str | None = None  # why the pool closed it (SOCKET_POOL_CLOSING_SOCKET ``reason``)
    pool_idle: float | None = None  # seconds it had been idle when the pool closed it
    recv: dict[str, FrameScanner] = field(
        default_factory=lambda: {"plain": FrameScanner(), "ssl": FrameScanner()}
    )
    sent: dict[str, FrameScanner] = field(
        default_factory=lambda: {"plain": FrameScanner(), "ssl": FrameScanner()}
    )


def as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def first_close(scanners: dict[str, FrameScanner]) -> tuple[int | None, str] | None:
    for sc in scanners.values():
        if sc.closes:
            return sc.closes[0]
    return None


def b64(value: Any) -> bytes | None:
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=False)
    except (binascii.Error, ValueError):
        return None


def h2_code(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    m = H2_CODE_RE.match(value) if isinstance(value, str) else None
    return int(m.group(1)) if m else None


def as_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def invert(table: Any) -> dict[int, str]:
    if not isinstance(table, dict):
        return {}
    return {v: str(k) for k, v in table.items() if isinstance(v, int) and not isinstance(v, bool)}


def fallback_name(code: int) -> str:
    return net_error_name(code) or f"net error {code}"
