"""The vocabulary the rules match: net errors, log texts, windows (timers: ``analysis/evidence/timers.py``).

Tables only, no logic: ``analysis/diagnose/rules.py`` reads them. Texts are matched
lower-case as substrings of an observation's text, reason and error. Times
are seconds.
"""

from __future__ import annotations

from tearline.analysis.evidence.capture import PROTOCOL_TEXTS as CAPTURE_PROTOCOL_WORDS

__all__ = [
    "ABRUPT_ERRORS",
    "CADDY_PROTOCOL_TEXTS",
    "CAPTURE_CLIENT_GONE_TEXTS",
    "CAPTURE_CUT_TEXTS",
    "CAPTURE_PROTOCOL_TEXTS",
    "CLIENT_SIDE_TEXTS",
    "CODES_WITH_A_RULE",
    "NAV_AFTER",
    "NAV_BEFORE",
    "NEAR",
    "PROTOCOL_ERRORS",
    "PROTOCOL_TEXTS",
    "RESET_WORDS",
    "STALL_FACTOR",
    "STALL_MIN",
    "UNAVAILABLE_STATUSES",
]

NAV_BEFORE = 3.0  # seconds: a navigation this long before the end (or ...)
NAV_AFTER = 1.5  # ... this long after it explains a browser-side end
NEAR = 2.0  # seconds: a proxy log line or fault this close to the end belongs to it
STALL_MIN = 1.0  # seconds of silence that count as a stall, at least
STALL_FACTOR = 8.0  # ... and at least this many times the usual gap between messages

ABRUPT_ERRORS = {
    "ERR_INCOMPLETE_CHUNKED_ENCODING": "the chunked body was cut before its last chunk",
    "ERR_CONNECTION_CLOSED": "the connection closed (FIN) in the middle of the response",
    "ERR_EMPTY_RESPONSE": "the connection closed before any response byte",
    "ERR_CONTENT_LENGTH_MISMATCH": "the body ended short of its Content-Length",
    "ERR_RESPONSE_HEADERS_TRUNCATED": "the connection closed inside the response headers",
}
PROTOCOL_ERRORS = {
    "ERR_WS_PROTOCOL_ERROR": "a WebSocket frame broke the protocol",
    "ERR_INVALID_CHUNKED_ENCODING": "the chunked framing of the body was invalid",
    "ERR_INVALID_HTTP_RESPONSE": "the response was not HTTP",
    "ERR_CONTENT_DECODING_FAILED": "the compressed body could not be decoded",
    "ERR_HTTP2_STREAM_CLOSED": "a frame arrived on a closed HTTP/2 stream",
    "ERR_INVALID_RESPONSE": "the response was invalid",
}
PROTOCOL_TEXTS = (
    "invalid frame header",
    "must not mask",
    "could not decode a text frame",
    "reserved",
    "protocol error",
    "invalid status line",
    "unexpected opcode",
    "one or more reserved bits",
)
CAPTURE_PROTOCOL_TEXTS = CAPTURE_PROTOCOL_WORDS  # the capture importer's own list (error_class "protocol")
# Caddy's (Go net/http's) words for an upstream that broke the chunked framing
CADDY_PROTOCOL_TEXTS = (
    "invalid byte in chunk length",
    "malformed chunked encoding",
    "chunked encoding contains too much non-data",
    "malformed http response",
)
# mitmproxy's words for a body that stopped before its end (the peer hung up mid-body)
CAPTURE_CUT_TEXTS = ("peer closed connection", "without sending complete", "incomplete", "unexpected eof")
# ... and for the browser hanging up
CAPTURE_CLIENT_GONE_TEXTS = ("client disconnected",)
UNAVAILABLE_STATUSES = (502, 503, 504)
# Close codes another rule explains (going away, protocol errors); any other code received is the server's choice.
CODES_WITH_A_RULE = (1000, 1005, None, 1001, 1012, 1002, 1007)

# Proxy log texts that describe the *client* side going away, not the upstream failing.
CLIENT_SIDE_TEXTS = ("context canceled", "writing:", "writeto", "broken pipe", "client disconnected", "499")

RESET_WORDS = ("reset", "econnreset", "rst")
