"""Facts hidden in mitmproxy's error texts (pure parsing, no mitmproxy import).

mitmproxy 12.3.1 gives addons no HTTP/2 frames: a received RST_STREAM becomes the
flow error ``stream reset by client (CANCEL)`` and a GOAWAY becomes
``HTTP/2 connection closed: <ConnectionTerminated error_code:11, last_stream_id:5, ...>``.
A failed upstream connect is ``[Errno 111] Connect call failed ...``.
"""

from __future__ import annotations

import re

__all__ = ["H2_ERROR_CODES", "errno_of", "h2_goaway", "h2_reset"]

# RFC 9113 section 7
H2_ERROR_CODES: dict[str, int] = {
    "NO_ERROR": 0,
    "PROTOCOL_ERROR": 1,
    "INTERNAL_ERROR": 2,
    "FLOW_CONTROL_ERROR": 3,
    "SETTINGS_TIMEOUT": 4,
    "STREAM_CLOSED": 5,
    "FRAME_SIZE_ERROR": 6,
    "REFUSED_STREAM": 7,
    "CANCEL": 8,
    "COMPRESSION_ERROR": 9,
    "CONNECT_ERROR": 10,
    "ENHANCE_YOUR_CALM": 11,
    "INADEQUATE_SECURITY": 12,
    "HTTP_1_1_REQUIRED": 13,
}

_ERRNO = re.compile(r"\[Errno (\d+)\]")
_RESET = re.compile(r"stream reset by (?:client|server) \((\w+)\)")
_GOAWAY = re.compile(r"ConnectionTerminated error_code:(?:ErrorCodes\.)?(\w+), last_stream_id:(\d+)")


def _code(name: str) -> int:
    if name.isdigit():
        return int(name)
    return H2_ERROR_CODES.get(name.upper(), -1)


def errno_of(text: str) -> int | None:
    """The ``[Errno N]`` in an exception text, or None."""
    m = _ERRNO.search(text)
    return int(m.group(1)) if m else None


def h2_reset(message: str) -> int | None:
    """The RST_STREAM error code in a flow error message (-1 if unnamed), or None."""
    m = _RESET.search(message)
    return _code(m.group(1)) if m else None


def h2_goaway(message: str) -> tuple[int, int] | None:
    """(error code, last stream id) of a GOAWAY in a flow error message, or None."""
    m = _GOAWAY.search(message)
    return (_code(m.group(1)), int(m.group(2))) if m else None
