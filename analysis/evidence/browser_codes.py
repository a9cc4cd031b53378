"""The symptom tables behind ``tearline explain`` and the importers: data, not code.

``net_errors()``      every Chrome net error name -> number (from a Chromium 156 NetLog's
                      ``constants.netError``, file ``net_errors.json``); ``net_error_number``/``net_error_name``.
``NET_ERROR_NOTES``   name -> (meaning, usual causes in a browser -> proxy -> upstream streaming setup).
``CLOSE_CODES``       WebSocket close code -> ``CloseCode`` (name, meaning, causes, whether it travels on the wire).
``SAD_TAB_CODES``     the "Error code: N" of Chrome's crashed-tab page -> meaning. On Linux/macOS/ChromeOS N is the
                      renderer's raw wait status: 11 = killed by SIGSEGV. A crashed tab is never a network error.
``CONSOLE_TEXTS``     (regular expression over a console line, title, meaning, causes).

Sources: chromium net/base/net_error_list.h, RFC 6455 section 7.4.1 and the IANA registry,
chrome/browser/ui/views/sad_tab_view.cc, Blink's WebSocket/EventSource console messages
(summarised in shared/reference/browser-evidence.md sections 4.1-4.4).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

__all__ = [
    "CLOSE_CODES",
    "CONSOLE_TEXTS",
    "NET_ERROR_NOTES",
    "SAD_TAB_CAUSES",
    "SAD_TAB_CODES",
    "SAD_TAB_MEANING",
    "SAD_TAB_STEPS",
    "CloseCode",
    "net_error_name",
    "net_error_number",
    "net_errors",
]


@cache
def net_errors() -> dict[str, int]:
    """Every Chrome net error: ``{"ERR_ABORTED": -3, ...}``."""
    data = json.loads((Path(__file__).parent / "net_errors.json").read_text(encoding="utf-8"))
    return {str(k): int(v) for k, v in data["errors"].items()}


@cache
def _by_number() -> dict[int, str]:
    return {v: k for k, v in net_errors().items()}


def net_error_number(name: str) -> int | None:
    """``"net::ERR_ABORTED"`` or ``"ERR_ABORTED"`` -> -3; None when unknown."""
    key = name.strip().removeprefix("net::").upper()
    return net_errors().get(key)


def net_error_name(number: int) -> str | None:
    """-3 -> ``"ERR_ABORTED"``; 0 -> ``"OK"``; None when unknown."""
    if number == 0:
        return "OK"
    return _by_number().get(number)


# name -> (meaning, usual causes). Numbers come from NET_ERRORS.
NET_ERROR_NOTES: dict[str, tuple[str, tuple[str, ...]]] = {
    "ERR_IO_PENDING": ("not an error: an operation had not finished when a NetLog snapshot was taken", ()),
    "ERR_FAILED": (
        "a generic failure",
        (
            "a CORS rejection (the console says why)",
            "a WebSocket handshake answered with a non-101 status (see WEBSOCKET_UPGRADE_FAILURE)",
        ),
    ),
    "ERR_ABORTED": (
        "the request was cancelled by the browser or the page, not by the network",
        (
            "the user navigated away, reloaded or closed the tab while the stream was open",
            "page code aborted it (AbortController.abort(), EventSource.close())",
            "the frame was detached or the renderer crashed",
        ),
    ),
    "ERR_TIMED_OUT": (
        "an operation timed out",
        ("a WebSocket opening handshake took over 240 s", "a generic timer"),
    ),
    "ERR_BLOCKED_BY_CLIENT": ("the browser itself blocked the request", ("an ad blocker or extension",)),
    "ERR_NETWORK_CHANGED": (
        "the network changed and Chrome dropped its sockets",
        ("Wi-Fi/VPN/IP change (NetLog NETWORK_CHANGED)",),
    ),
    "ERR_CONTEXT_SHUT_DOWN": (
        "the browser profile or network context shut down",
        ("browser exit mid-stream",),
    ),
    "ERR_BLOCKED_BY_RESPONSE": ("a response header policy blocked it", ("X-Frame-Options, CORP, COEP",)),
    "ERR_CONNECTION_CLOSED": (
        "the connection was closed (TCP FIN) before the response ended",
        (
            "a proxy or load balancer idle or max-age timeout",
            "a graceful server restart",
            "an HTTP/2 session closed under an open stream",
        ),
    ),
    "ERR_CONNECTION_RESET": (
        "the connection was reset (TCP RST)",
        ("the proxy or upstream process was killed", "a middlebox reset it", "a fault injector's reset"),
    ),
    "ERR_CONNECTION_REFUSED": (
        "nothing accepted the TCP connection",
        ("the proxy is down or restarting", "a wrong port", "mitmproxy not running in the mode you expect"),
    ),
    "ERR_CONNECTION_ABORTED": ("data sent was never acknowledged", ("a firewall silently dropping packets",)),
    "ERR_CONNECTION_FAILED": ("the connection attempt failed", ("network path problems",)),
    "ERR_NAME_NOT_RESOLVED": (
        "DNS lookup failed",
        ("a typo in the host", "no DNS entry", "background noise"),
    ),
    "ERR_INTERNET_DISCONNECTED": ("the machine is offline", ()),
    "ERR_SSL_PROTOCOL_ERROR": (
        "the TLS handshake failed",
        ("TLS to a plain-HTTP port", "broken TLS interception"),
    ),
    "ERR_TUNNEL_CONNECTION_FAILED": (
        "an explicit proxy refused the CONNECT tunnel",
        ("the forward proxy could not reach the upstream",),
    ),
    "ERR_CONNECTION_TIMED_OUT": (
        "the TCP connect attempt timed out",
        ("SYN unanswered: firewall or dead host",),
    ),
    "ERR_PROXY_CONNECTION_FAILED": (
        "Chrome could not reach its configured proxy",
        ("--proxy-server set but the proxy (mitmproxy) is not listening",),
    ),
    "ERR_WS_PROTOCOL_ERROR": (
        "a WebSocket framing rule was broken",
        ("a masked frame from the server", "bad RSV bits or extension", "a proxy corrupting frames"),
    ),
    "ERR_WS_THROTTLE_QUEUE_TOO_LARGE": (
        "too many pending WebSocket connections",
        ("a runaway reconnect loop",),
    ),
    "ERR_WS_UPGRADE": (
        "not an error: the request became a WebSocket (the success marker of a handshake in a NetLog)",
        (),
    ),
    "ERR_CERT_AUTHORITY_INVALID": (
        "the certificate's issuer is not trusted",
        ("mitmproxy's CA not installed",),
    ),
    "ERR_CERT_COMMON_NAME_INVALID": (
        "the certificate does not name this host",
        ("a wrong certificate or SNI",),
    ),
    "ERR_CERT_DATE_INVALID": ("the certificate is expired or not yet valid", ("clock skew", "expired cert")),
    "ERR_INVALID_RESPONSE": (
        "the response could not be used",
        ("a WebSocket handshake got a non-101 answer (e.g. Caddy 502/404)", "an unparsable response"),
    ),
    "ERR_INVALID_CHUNKED_ENCODING": (
        "the chunked body framing was invalid",
        ("a proxy or injector corrupted it",),
    ),
    "ERR_EMPTY_RESPONSE": (
        "the server closed the connection without sending any response",
        ("the upstream or proxy crashed after the request", "a keep-alive race", "an upstream killed"),
    ),
    "ERR_RESPONSE_HEADERS_TRUNCATED": ("the connection died inside the response headers", ()),
    "ERR_CONTENT_DECODING_FAILED": (
        "a compressed body could not be decoded",
        ("a gzip/br/zstd stream cut short, e.g. Caddy encode + an aborted stream",),
    ),
    "ERR_HTTP2_PROTOCOL_ERROR": (
        "the HTTP/2 stream was reset by the server or broke the protocol",
        (
            "Caddy aborted the stream (RST_STREAM INTERNAL_ERROR) because its upstream died mid-stream",
            "a server write timeout",
            "invalid response headers",
        ),
    ),
    "ERR_HTTP2_SERVER_REFUSED_STREAM": (
        "the server refused the stream",
        ("a server shutting down or reloading",),
    ),
    "ERR_HTTP2_PING_FAILED": (
        "an HTTP/2 PING went unanswered",
        ("a silently dead connection (NAT/LB state lost)",),
    ),
    "ERR_CONTENT_LENGTH_MISMATCH": (
        "the connection closed before Content-Length bytes arrived",
        ("a non-chunked body cut short: upstream died or a proxy truncated it",),
    ),
    "ERR_INCOMPLETE_CHUNKED_ENCODING": (
        "a chunked (HTTP/1.1) body was cut before its terminating zero-length chunk",
        (
            "the upstream died mid-stream and the proxy (Caddy) aborted the response",
            "a proxy read/idle timeout (nginx proxy_read_timeout 60 s)",
            "a server write timeout",
        ),
    ),
    "ERR_QUIC_PROTOCOL_ERROR": (
        "an HTTP/3 (QUIC) stream or connection error",
        ("UDP path change", "a middlebox"),
    ),
    "ERR_HTTP_1_1_REQUIRED": ("the server demands HTTP/1.1", ("WebSocket over HTTP/2 not supported there",)),
    "ERR_INVALID_HTTP_RESPONSE": ("expected HTTP, got something else", ("a wrong port or protocol",)),
    "ERR_HTTP2_RST_STREAM_NO_ERROR_RECEIVED": ("the server reset the stream with NO_ERROR", ()),
    "ERR_HTTP2_STREAM_CLOSED": ("a frame arrived on a closed HTTP/2 stream", ("a protocol race",)),
    "ERR_HTTP_RESPONSE_CODE_FAILURE": (
        "a navigation got a 4xx/5xx with an empty body",
        ("Caddy answering 502/504 without an error page: Chrome shows 'HTTP ERROR 502'",),
    ),
}


@dataclass(frozen=True, slots=True)
class CloseCode:
    name: str
    meaning: str
    causes: tuple[str, ...]
    on_wire: bool = True


CLOSE_CODES: dict[int, CloseCode] = {
    1000: CloseCode(
        "Normal Closure",
        "the closing side finished on purpose",
        (
            "application code called close(1000)",
            "mitmproxy sends 1000 to the browser when the upstream TCP died without a close frame "
            "(an observer artefact: compare with the capture's server leg)",
        ),
    ),
    1001: CloseCode(
        "Going Away",
        "an endpoint is going away",
        (
            "toward the server: Chrome closes every WebSocket of a page with 1001 when the page navigates, "
            "closes or its renderer crashes",
            "toward the browser: Caddy sends 1001 to both sides on a config reload or stop "
            "(unless stream_close_delay is set); a server shutting down",
        ),
    ),
    1002: CloseCode("Protocol Error", "a peer broke the WebSocket protocol", ("an invalid frame header",)),
    1003: CloseCode("Unsupported Data", "a data type the endpoint cannot accept", ("application choice",)),
    1005: CloseCode(
        "No Status Received",
        "a close frame arrived without a status code (never sent on the wire)",
        ("ws.close() called without a code",),
        on_wire=False,
    ),
    1006: CloseCode(
        "Abnormal Closure",
        "the connection ended without any close frame (never sent on the wire; reported locally)",
        (
            "the TCP connection was reset or closed under the WebSocket (process killed, proxy restarted)",
            "an idle timer in a proxy or load balancer (nginx 60 s, Caddy stream_timeout)",
            "the opening handshake failed (then the console says why)",
        ),
        on_wire=False,
    ),
    1007: CloseCode("Invalid Frame Payload Data", "a text frame was not valid UTF-8", ()),
    1008: CloseCode(
        "Policy Violation", "the application refused the client", ("authentication or authorisation",)
    ),
    1009: CloseCode("Message Too Big", "a message exceeded the receiver's limit", ()),
    1010: CloseCode("Mandatory Extension", "the client needed an extension the server did not offer", ()),
    1011: CloseCode("Internal Error", "the server hit an unexpected condition", ("a server exception",)),
    1012: CloseCode("Service Restart", "the server is restarting", ("a deploy or restart",)),
    1013: CloseCode("Try Again Later", "the server is overloaded", ()),
    1014: CloseCode("Bad Gateway", "a gateway got an invalid response from its upstream", ()),
    1015: CloseCode("TLS Handshake", "the TLS handshake failed (never sent on the wire)", (), on_wire=False),
}

# Sad-tab "Error code: N" (chrome/browser/ui/views/sad_tab_view.cc; POSIX raw wait status).
SAD_TAB_CODES: dict[str, str] = {
    "1": "RESULT_CODE_KILLED: the renderer was killed (e.g. by the task manager or the OS)",
    "2": "RESULT_CODE_HUNG: the renderer hung and was killed",
    "3": "RESULT_CODE_KILLED_BAD_MESSAGE: the renderer sent an invalid IPC message and was killed",
    "4": "signal 4 (SIGILL, illegal instruction) or an exit code 4 -- ambiguous",
    "5": "signal 5 (SIGTRAP, e.g. a CHECK failure) or an exit code 5 -- ambiguous",
    "6": "signal 6 (SIGABRT, abort()) or an exit code 6 -- ambiguous",
    "7": "signal 7 (SIGBUS, bad memory access)",
    "8": "signal 8 (SIGFPE, arithmetic fault)",
    "9": "signal 9 (SIGKILL: killed from outside, often the out-of-memory killer)",
    "11": "signal 11 (SIGSEGV): the renderer process crashed with a segmentation fault",
    "SIGSEGV": "SIGSEGV with a core dump (wait status 139): the renderer crashed with a segmentation fault",
    "SIGKILL": "SIGKILL with a core dump flag: killed from outside",
    "Out of Memory": "the renderer ran out of memory",
    "STATUS_ACCESS_VIOLATION": "Windows: the renderer crashed on an invalid memory access",
    "STATUS_BREAKPOINT": "Windows: the renderer hit a breakpoint/CHECK failure",
    "STATUS_STACK_BUFFER_OVERRUN": "Windows: the renderer detected stack corruption",
    "RESULT_CODE_HUNG": "the renderer hung and was killed",
}

SAD_TAB_CAUSES = (
    "a bug in the renderer or in page code that exhausts memory (a huge streamed response, a runaway UI update)",
    "an extension or GPU driver fault",
    "the OS killing the renderer for memory",
)

SAD_TAB_MEANING = (
    "Chrome's crashed-tab page: the tab's renderer process died ({what}). This is not a network error -- "
    "a proxy or server cannot produce it directly; in-flight requests end as ERR_ABORTED and open WebSockets "
    "get a 1001 from the browser, which on the proxy side looks exactly like a navigation"
)

SAD_TAB_STEPS = (
    "look for Inspector.targetCrashed / Target.targetCrashed in DevTools events, or chrome://crashes",
    "tearline diagnose names this 'page' and points away from the proxy when a crash is recorded",
)

# (pattern over a console line, title, meaning, causes)
CONSOLE_TEXTS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    (
        r"WebSocket connection to .* failed: Error during WebSocket handshake: Unexpected response code: (\d+)",
        "WebSocket handshake rejected",
        "the server or proxy answered the WebSocket upgrade with HTTP {0} instead of 101",
        ("502: Caddy could not reach the upstream (dial error)", "404: wrong path or missing route"),
    ),
    (
        r"WebSocket connection to .* failed: Connection closed before receiving a handshake response",
        "WebSocket handshake got no answer",
        "the connection closed after the upgrade request, before any response (ERR_EMPTY_RESPONSE)",
        ("the upstream crashed or closed", "a proxy dropped the upgrade"),
    ),
    (
        r"WebSocket connection to .* failed: WebSocket opening handshake timed out",
        "WebSocket handshake timed out",
        "no handshake response within 240 s",
        ("the server accepted TCP but never answered",),
    ),
    (
        r"WebSocket connection to .* failed: WebSocket opening handshake was canceled",
        "WebSocket handshake cancelled",
        "the page went away or closed the socket during the handshake (ERR_ABORTED)",
        ("navigation during connect",),
    ),
    (
        r"WebSocket connection to .* failed: Error in connection establishment: net::(ERR_\w+)",
        "WebSocket could not connect",
        "the TCP/TLS connection for the WebSocket failed with {0}",
        ("see the net error",),
    ),
    (
        r"WebSocket connection to .* failed: (Invalid frame header|A server must not mask any frames.*|"
        r"Could not decode a text frame as UTF-8.*)",
        "WebSocket protocol violation",
        "the browser received a broken frame ({0}) and failed the connection (close 1006)",
        ("a server or proxy corrupting frames",),
    ),
    (
        r"WebSocket connection to .* failed",
        "WebSocket failed",
        "the browser failed a WebSocket; the text after 'failed:' says why",
        ("see the reason text",),
    ),
    (
        r"EventSource's response has a MIME type \(\"([^\"]*)\"\) that is not \"text/event-stream\"",
        "EventSource got a non-stream response",
        "the server answered an EventSource with {0}, typically a proxy error page instead of the stream",
        ("a proxy error route returned HTML", "a login redirect"),
    ),
    (
        r"Failed to load resource: the server responded with a status of (\d+)",
        "HTTP error status",
        "a request got HTTP {0}",
        ("5xx: the proxy or upstream failed",),
    ),
    (
        r"TypeError: (network error|Failed to fetch|NetworkError when attempting to fetch resource\.?)",
        "fetch() failed",
        "a fetch() or its body stream failed ({0}); the matching net::ERR_ line in the console or NetLog says why",
        ("a stream cut by the server or proxy", "a blocked or refused connection"),
    ),
    (
        r"AbortError|BodyStreamBuffer was aborted|The user aborted a request|signal is aborted",
        "fetch() aborted by the page",
        "page code aborted a fetch() (AbortController): a client_app_close, not a network fault",
        ("the app stopped a run", "component unmount"),
    ),
    (
        r"The connection to .* was interrupted while the page was loading",
        "Firefox: stream interrupted by navigation",
        "Firefox's message for a WebSocket/EventSource cut because the page navigated or reloaded",
        ("navigation away",),
    ),
    (
        r"can.t establish a connection to the server at",
        "Firefox: could not connect",
        "Firefox could not open the WebSocket/EventSource connection",
        ("server down", "refused"),
    ),
)
