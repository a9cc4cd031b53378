"""What HTTP and WebSocket client libraries say when a stream is cut or reset.

The back end's own client (an agent calling a model, a service calling another) often
sees the failure first, in its own words. ``CLIENT_TEXTS`` maps those words to what
happened on the wire, for ``tearline explain``: (regular expression, title, meaning,
causes). Texts as printed by curl 7/8, Python httpx, aiohttp, requests and websockets,
Node's fetch (undici), its http module, and the ``ws`` package.
"""

from __future__ import annotations

__all__ = ["CLIENT_TEXTS"]

_CUT = (
    "the upstream (or a proxy between) closed the connection mid-body: a crash, a restart, a proxy timeout",
    "a fault injected on purpose (tearline's truncate/abort faults)",
)
_RESET = (
    "the peer's process died or was killed, or it closed a socket with unread data",
    "a proxy or load balancer dropped the connection (idle timeout, restart, limits)",
    "a fault injected on purpose (tearline's reset/abort faults)",
)

CLIENT_TEXTS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    (
        r"curl:?\s*\(18\)",
        "curl (18) CURLE_PARTIAL_FILE",
        "curl got less body than promised: the connection ended before the Content-Length was read, or a "
        "chunked body ended without its final 0 chunk (a cut stream; Chrome says ERR_INCOMPLETE_CHUNKED_ENCODING "
        "or ERR_CONTENT_LENGTH_MISMATCH)",
        _CUT,
    ),
    (
        r"curl:?\s*\(56\)",
        "curl (56) CURLE_RECV_ERROR",
        "curl could not read from the connection: usually a TCP reset ('Connection reset by peer') mid-response "
        "(Chrome says ERR_CONNECTION_RESET)",
        _RESET,
    ),
    (
        r"curl:?\s*\(52\)",
        "curl (52) CURLE_GOT_NOTHING",
        "the server closed the connection without sending any response (Chrome says ERR_EMPTY_RESPONSE)",
        ("the upstream crashed or closed the connection on receiving the request", *_CUT[1:]),
    ),
    (
        r"curl:?\s*\(92\)|HTTP/2 stream \d+ was not closed cleanly",
        "curl (92) CURLE_HTTP2_STREAM",
        "an HTTP/2 stream was reset (RST_STREAM) or the connection went away (GOAWAY) before the stream ended; "
        "the error code after it (CANCEL, INTERNAL_ERROR, PROTOCOL_ERROR) says how",
        ("the server or a proxy reset the stream (a timeout, a crash, a cancelled request)", *_CUT[1:]),
    ),
    (
        r"curl:?\s*\(28\)",
        "curl (28) CURLE_OPERATION_TIMEDOUT",
        "curl's own time limit (--max-time, --connect-timeout) ran out: nothing arrived in time",
        ("a stalled upstream", "a limit shorter than the stream"),
    ),
    (
        r"peer closed connection without sending complete message body|incomplete chunked read",
        "httpx/httpcore RemoteProtocolError (incomplete body)",
        "the connection ended before the body was complete: a cut stream",
        _CUT,
    ),
    (
        r"Server disconnected without sending a response",
        "httpx/httpcore RemoteProtocolError (no response)",
        "the server closed the connection without answering the request",
        ("the upstream crashed or closed an idle keep-alive connection as the request was sent", *_CUT[1:]),
    ),
    (
        r"ClientPayloadError|Response payload is not completed|Not enough data for satisfy transfer length",
        "aiohttp ClientPayloadError",
        "aiohttp's response body ended early: the connection closed before the length or the chunked "
        "terminator (a cut stream)",
        _CUT,
    ),
    (
        r"ServerDisconnectedError|Server disconnected",
        "aiohttp ServerDisconnectedError",
        "the server closed the connection (FIN) while aiohttp was waiting for the response or its body",
        _CUT,
    ),
    (
        r"ChunkedEncodingError|Connection broken: IncompleteRead|InvalidChunkLength",
        "requests/urllib3 ChunkedEncodingError",
        "a chunked body ended without its final chunk: the connection closed mid-stream",
        _CUT,
    ),
    (
        r"no close frame received or sent",
        "websockets ConnectionClosedError (no close frame)",
        "the TCP connection ended with no WebSocket close frame either way (a browser reports 1006, "
        "wasClean=false): a FIN or reset, not a WebSocket close",
        _RESET,
    ),
    (
        r"ConnectionClosedError:?\s*(?:received|sent)\s*(\d{4})",
        "websockets ConnectionClosedError",
        "the WebSocket was closed with code {0}, which is not a normal close: see tearline explain {0}",
        ("the peer named the reason in its close frame",),
    ),
    (
        r"other side closed|UND_ERR_SOCKET",
        "Node fetch (undici) SocketError: other side closed",
        "the connection ended (FIN) before the response or its body was complete (fetch reports "
        "'TypeError: terminated' while reading the body)",
        _CUT,
    ),
    (
        r"TypeError:?\s*terminated",
        "Node fetch (undici) 'terminated'",
        "the body stream of a fetch ended abnormally: its cause (other side closed, ECONNRESET) says how",
        (*_CUT, *_RESET[:1]),
    ),
    (
        r"socket hang up",
        "Node http 'socket hang up' (ECONNRESET)",
        "the connection closed before a response arrived (Node reports it as ECONNRESET)",
        _RESET,
    ),
    (
        r"ECONNRESET|Connection reset by peer|Errno 104\b|WSAECONNRESET",
        "Connection reset (ECONNRESET, errno 104)",
        "the peer sent a TCP reset: the connection was torn down, not closed in order",
        _RESET,
    ),
    (
        r"Invalid WebSocket frame",
        "ws (Node) 'Invalid WebSocket frame'",
        "the ws library got bytes that are not a valid frame (a protocol error); it closes with 1002",
        ("a proxy that altered or cut the frame stream", "a mismatched extension (permessage-deflate)"),
    ),
    (
        r"WebSocket was closed before the connection was established",
        "ws (Node) closed before open",
        "the WebSocket was closed (by the app, or the connection ended) before the opening handshake finished",
        ("the app closed it early (a component unmounted)", "the upgrade was refused or cut"),
    ),
)
