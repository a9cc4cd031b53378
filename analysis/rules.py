"""Signature -> cause rules, in one table.

Each rule is a small pure function of a ``Context`` (one stream, the
observations that belong to no stream, the known timer values) that returns
zero or more ``Cause`` findings, each with a confidence (0..1) and the
evidence lines it rests on. ``RULES`` declares, for each rule, the sources it
can use and the observation kinds it looks for; a rule runs only when the
evidence contains at least one of them. The diagnosis keeps the finding with
the highest confidence as the cause and the others as alternatives.

Confidences are calibrated against each other, not probabilities: a rule that
sees the proxy's own account of a failure (0.85-0.97) beats a rule that only
sees how the browser felt it (0.6-0.8), and the page's own close (0.7) loses to
a stall seen before it (0.8). docs/diagnosis.md lists every rule.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from analysis.model import ACTORS, CAUSE_KINDS, Cause, Evidence
from analysis.observation import Observation
from analysis.streams import BROWSER_SOURCES, END_KINDS, Stream

__all__ = ["KNOWN_TIMEOUTS", "RULES", "Context", "Rule", "run_rules"]

# Timer values of common intermediaries, seconds. A stream that lived (or sat idle) this long was timed out.
KNOWN_TIMEOUTS: dict[str, float] = {
    "nginx proxy_read_timeout (default)": 60.0,
    "AWS ALB idle timeout (default)": 60.0,
    "Cloudflare proxy read timeout": 100.0,
    "Caddy idle timeout (default)": 300.0,
    "mitmproxy tcp_timeout (default)": 600.0,
}
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
CAPTURE_PROTOCOL_TEXTS = (
    "illegal chunk",
    "invalid chunk",
    "chunk header",
    "invalid opcode",
    "reserved opcode",
    "unknown opcode",
    "invalid frame",
    "reserved bits",
    "rsv",
    "malformed",
)
# mitmproxy's words for a body that stopped before its end (the peer hung up mid-body)
CAPTURE_CUT_TEXTS = ("peer closed connection", "without sending complete", "incomplete", "unexpected eof")
# ... and for the browser hanging up
CAPTURE_CLIENT_GONE_TEXTS = ("client disconnected",)
UNAVAILABLE_STATUSES = (502, 503, 504)
# Close codes another rule explains (going away, protocol errors); any other code received is the server's choice.
CODES_WITH_A_RULE = (1000, 1005, None, 1001, 1012, 1002, 1007)


@dataclass
class Context:
    """What a rule sees: one stream, the stream-less observations, the known timer values."""

    stream: Stream
    global_obs: list[Observation] = field(default_factory=list)
    timeouts: dict[str, float] = field(default_factory=dict)  # label -> seconds
    recording_end: float | None = None  # wall time of the last observation anywhere

    @property
    def opened(self) -> float | None:
        return self.stream.opened_at

    @property
    def ended(self) -> float | None:
        return self.stream.ended_at

    def obs(self, *kinds: str, sources: Iterable[str] | None = None) -> list[Observation]:
        return self.stream.obs(*kinds, sources=sources)

    def browser_sources_present(self) -> bool:
        return bool(self.stream.browser_parts())

    def browser(self, *kinds: str) -> list[Observation]:
        """These kinds as the most trusted browser source saw them (NetLog, then CDP, then HAR).

        One source's view, not a mix: a HAR's end times are coarse (Playwright writes an
        aborted request's entry with the time it had so far), a NetLog's are exact.
        """
        for source in BROWSER_SOURCES:
            found = self.stream.obs(*kinds, sources=(source,))
            if found:
                return found
        return []

    def near_end(self, *kinds: str, before: float = NEAR, after: float = NEAR) -> list[Observation]:
        """Observations of these kinds (stream's own or global) within the window around the end."""
        end = self.ended if self.ended is not None else self.recording_end
        if end is None:
            return []
        pool = self.obs(*kinds) + [o for o in self.global_obs if o.kind in kinds]
        return sorted((o for o in pool if end - before <= o.t <= end + after), key=lambda o: o.t)


def ev(o: Observation, text: str) -> Evidence:
    return Evidence(source=o.source, t=o.t, text=text, where=o.where)


def cause(kind: str, actor: str, summary: str, confidence: float, evidence: Iterable[Evidence]) -> Cause:
    assert kind in CAUSE_KINDS and actor in ACTORS, (kind, actor)
    return Cause(kind=kind, actor=actor, summary=summary, confidence=confidence, evidence=tuple(evidence))


def _text(o: Observation) -> str:
    return " ".join(x for x in (o.text, o.reason, o.error) if x).lower()


def _browser_initiated(ctx: Context) -> Observation | None:
    """The browser-side observation showing the browser/page ended the stream first, if any."""
    frames = ctx.browser("ws_close_sent", "ws_close_received")  # time order, then file order
    if frames and frames[0].kind == "ws_close_sent":
        return frames[0]
    cancelled = ctx.browser("request_cancelled")
    if cancelled:
        return cancelled[0]
    # a proxy capture saw the browser's close frame (client leg, sent by the client)
    for o in ctx.obs("ws_close_sent", "ws_closed", sources=("capture",)):
        if o.kind == "ws_close_sent" and (o.leg in (None, "client")):
            return o
    return None


# --- the rules ----------------------------------------------------------------------------


def rule_injected_fault(ctx: Context) -> list[Cause]:
    faults = ctx.near_end("fault", before=NEAR, after=0.5)
    own = [o for o in ctx.obs("fault") if o not in faults]
    found = faults or own
    if not found:
        return []
    f = found[-1]
    return [
        cause(
            "injected_fault",
            "tearline",
            f"tearline injected a fault ({f.text or 'see capture'}) that ended the stream.",
            0.97,
            [ev(f, f"fault fired: {f.text or ''}".strip())],
        )
    ]


def rule_navigation(ctx: Context) -> list[Cause]:
    start = _established(ctx)
    end = ctx.ended if ctx.ended is not None else ctx.recording_end
    if end is None:
        return []
    navs = [
        o
        for o in ctx.global_obs
        if o.kind == "navigation" and start < o.t and end - NAV_BEFORE <= o.t <= end + NAV_AFTER
    ]
    crashes = [
        o for o in ctx.global_obs if o.kind == "page_crash" and end - NAV_BEFORE <= o.t <= end + NAV_AFTER
    ]
    initiated = _browser_initiated(ctx)
    going_away = initiated is not None and initiated.kind.startswith("ws_close") and initiated.code == 1001
    out: list[Cause] = []
    if crashes:
        c = max(crashes, key=lambda o: (o.code is not None, len(o.text or "")))  # the most telling one
        evidence = [ev(c, f"renderer crashed: {c.text or ''}".strip())]
        if initiated is not None:
            evidence.append(ev(initiated, _describe_end(initiated)))
        out.append(
            cause(
                "client_navigation",
                "browser",
                "The page's renderer crashed"
                + (
                    f" (sad tab 'Error code: {c.code}'" + (", SIGSEGV" if c.code == 11 else "") + ")"
                    if c.code
                    else ""
                )
                + " and the browser tore the stream down with it; look at the crash, not the network.",
                0.93,
                evidence,
            )
        )
    if navs and (initiated is not None or not _server_ended(ctx)):
        n = navs[0]
        evidence = [ev(n, f"page navigated to {n.url or '?'}")]
        if initiated is not None:
            evidence.append(ev(initiated, _describe_end(initiated)))
        out.append(
            cause(
                "client_navigation",
                "browser",
                f"The page navigated away ({n.url or 'new document'}) while the stream was open; "
                "the browser cancelled it. Expected, not a network fault.",
                0.9 if initiated is not None else (0.75 if ctx.browser(*END_KINDS) == [] else 0.6),
                evidence,
            )
        )
    elif going_away and initiated is not None:
        out.append(
            cause(
                "client_navigation",
                "browser",
                "The browser sent close 1001 (Going Away), which Chrome does when the page unloads or navigates.",
                0.75,
                [ev(initiated, _describe_end(initiated))],
            )
        )
    return out


def _established(ctx: Context) -> float:
    """When the stream was open for sure (101 or response headers), else when it started: a
    navigation before that is the page that opened it, not one that left it."""
    answered = ctx.obs("ws_open", "response_headers", "data_received", "ws_frame_received")
    if answered:
        return answered[0].t
    return ctx.opened if ctx.opened is not None else float("-inf")


def _describe_end(o: Observation) -> str:
    if o.kind == "ws_close_sent":
        return f"browser sent close {o.code}" + (f" {o.reason!r}" if o.reason else "")
    if o.kind == "ws_close_received":
        return f"browser received close {o.code}" + (f" {o.reason!r}" if o.reason else "")
    if o.kind == "request_cancelled":
        return "request cancelled by the browser (ERR_ABORTED)"
    if o.kind == "request_failed":
        return f"request failed with {o.error or o.code}"
    if o.kind == "ws_closed":
        return f"WebSocket closed {o.code if o.code is not None else ''} {o.text or ''}".strip()
    return f"{o.kind} {o.text or o.error or ''}".strip()


def _server_ended(ctx: Context) -> bool:
    frames = ctx.browser("ws_close_sent", "ws_close_received")
    if frames and frames[0].kind == "ws_close_received":
        return True
    return bool(ctx.browser("request_failed", "request_done"))


def rule_app_close(ctx: Context) -> list[Cause]:
    initiated = _browser_initiated(ctx)
    if initiated is None and not ctx.browser_sources_present():
        gone = [
            o
            for o in ctx.obs("request_failed", sources=("capture",))
            if any(w in _text(o) for w in CAPTURE_CLIENT_GONE_TEXTS)
        ]
        if gone:
            o = gone[0]
            return [
                cause(
                    "client_app_close",
                    "page",
                    "The browser hung up (the proxy saw the client disconnect); without browser evidence a page "
                    "abort cannot be told from a navigation.",
                    0.45,
                    [ev(o, o.text or "client disconnected")],
                )
            ]
    if initiated is None or (initiated.kind.startswith("ws_close") and initiated.code == 1001):
        return []
    return [
        cause(
            "client_app_close",
            "page",
            "The page's own code closed the stream "
            + (f"(close {initiated.code})" if initiated.code else "(abort)")
            + " while the page stayed.",
            0.7,
            [ev(initiated, _describe_end(initiated))],
        )
    ]


def rule_going_away(ctx: Context) -> list[Cause]:
    frames = [
        o
        for o in ctx.obs("ws_close_received", "ws_closed")
        if o.code in (1001, 1012) and (o.kind == "ws_close_received" or o.direction == "server")
    ]
    if not frames:
        return []
    initiated = _browser_initiated(ctx)
    if initiated is not None and initiated.t < frames[0].t - 0.01 and initiated.source in BROWSER_SOURCES:
        return []  # the browser's own 1001 answered back
    f = frames[0]
    reloads = [o for o in ctx.global_obs if o.kind == "proxy_reload" and abs(o.t - f.t) <= NEAR]
    if reloads:
        r = reloads[0]
        return [
            cause(
                "server_going_away",
                "proxy",
                f"The proxy reloaded its configuration and closed the WebSocket with {f.code} (Going Away); "
                "set stream_close_delay in Caddy to keep streams across reloads.",
                0.93,
                [ev(f, f"close {f.code} toward the browser"), ev(r, f"proxy reload: {r.text or ''}".strip())],
            )
        ]
    return [
        cause(
            "server_going_away",
            "server",
            f"The server closed the WebSocket cleanly with {f.code} (Going Away / restart).",
            0.85,
            [ev(f, f"close {f.code} toward the browser")],
        )
    ]


def rule_proxy_timer(ctx: Context) -> list[Cause]:
    out: list[Cause] = []
    for o in ctx.near_end("proxy_timeout", before=NEAR + 1, after=NEAR):
        out.append(
            cause(
                "proxy_timeout",
                "proxy",
                f"An intermediary's timer ended the stream ({o.text or 'timeout'}).",
                0.92,
                [ev(o, o.text or "proxy timer fired")],
            )
        )
    if out or ctx.opened is None or ctx.ended is None:
        return out
    if _browser_initiated(ctx) is not None:
        return out
    lifetime = ctx.ended - ctx.opened
    idle_from = max(
        (t for d in ("server", "client") if (t := ctx.stream.last_activity(d)) is not None), default=None
    )
    idle = ctx.ended - idle_from if idle_from is not None else None
    for label, value in {**KNOWN_TIMEOUTS, **ctx.timeouts}.items():
        tol = max(0.3, 0.02 * value)
        for what, measured in (("lifetime", lifetime), ("idle time", idle)):
            if measured is not None and abs(measured - value) <= tol:
                prim = ctx.stream.primary
                end_o = (
                    next(iter(prim.of("ws_closed", "request_failed", "request_done")), None) if prim else None
                )
                evidence = [
                    Evidence(
                        source="diagnosis", t=ctx.ended, text=f"{what} {measured:.2f} s = {label} {value:g} s"
                    )
                ]
                if end_o is not None:
                    evidence.append(ev(end_o, _describe_end(end_o)))
                out.append(
                    cause(
                        "proxy_timeout",
                        "proxy",
                        f"The stream ended after {measured:.1f} s of {what}, exactly the {label} ({value:g} s): a timer.",
                        0.8 if label in ctx.timeouts else 0.72,
                        evidence,
                    )
                )
                return out
    return out


def rule_upstream_unavailable(ctx: Context) -> list[Cause]:
    evidence: list[Evidence] = []
    for o in ctx.obs("response_headers", "access", "upstream_error"):
        if o.status in UNAVAILABLE_STATUSES:
            evidence.append(ev(o, f"status {o.status}" + (f" ({o.text})" if o.text else "")))
        elif o.kind == "upstream_error" and any(w in _text(o) for w in ("dial", "refused", "no upstreams")):
            evidence.append(ev(o, o.text or "upstream unreachable"))
    for o in ctx.obs("ws_error", "console", "request_failed"):
        t = _text(o)
        if "unexpected response code: 50" in t:
            evidence.append(ev(o, o.text or "handshake got a 5xx"))
    refused = [o for o in ctx.browser("request_failed", "ws_error") if o.error == "ERR_CONNECTION_REFUSED"]
    if refused and not evidence:
        o = refused[0]
        return [
            cause(
                "upstream_unavailable",
                "proxy",
                "Nothing accepted the browser's connection (ERR_CONNECTION_REFUSED): the proxy or server is down.",
                0.85,
                [ev(o, "connection refused")],
            )
        ]
    if not evidence:
        return []
    return [
        cause(
            "upstream_unavailable",
            "server",
            "The upstream could not be reached: the proxy answered "
            + ", ".join(
                sorted({e.text.split(" ")[1] for e in evidence if e.text.startswith("status ")})
                or ["an error"]
            )
            + " instead of the stream.",
            0.9,
            evidence,
        )
    ]


def rule_protocol_error(ctx: Context) -> list[Cause]:
    evidence: list[Evidence] = []
    for o in ctx.obs("request_failed", "socket_error"):
        if o.error in PROTOCOL_ERRORS:
            evidence.append(ev(o, f"{o.error}: {PROTOCOL_ERRORS[o.error]}"))
    for o in ctx.obs("ws_error", "console"):
        if any(w in _text(o) for w in PROTOCOL_TEXTS):
            evidence.append(ev(o, o.text or "protocol error"))
    # a proxy in the path caught the upstream breaking the framing (mitmproxy: "illegal chunk header")
    for o in ctx.obs("request_failed", "console", sources=("capture",)):
        if any(w in _text(o) for w in CAPTURE_PROTOCOL_TEXTS):
            evidence.insert(0, ev(o, f"proxy saw: {o.text}"))
            break
    for o in ctx.obs("ws_close_sent", "ws_close_received", "ws_closed"):
        if o.code in (1002, 1007):
            evidence.append(ev(o, _describe_end(o) + " (protocol error)"))
    if not evidence:
        return []
    return [
        cause(
            "protocol_error",
            "server",
            "The server side broke the protocol (" + evidence[0].text + "); the stream was failed.",
            0.9 if evidence[0].source == "capture" else 0.88,
            evidence,
        )
    ]


# Proxy log texts that describe the *client* side going away, not the upstream failing.
CLIENT_SIDE_TEXTS = ("context canceled", "writing:", "writeto", "broken pipe", "client disconnected", "499")


def _proxy_upstream_failures(ctx: Context) -> list[Observation]:
    """Proxy log lines near the end that blame the upstream.

    Lines that describe the client leaving (``context canceled``, a failed
    write toward the browser) and lines that follow the browser's own close or
    cancel are consequences of the browser's action, not upstream failures.
    """
    initiated = _browser_initiated(ctx)
    out = []
    for o in ctx.near_end("proxy_abort", "upstream_error", before=NEAR + 1, after=NEAR):
        if any(w in _text(o) for w in CLIENT_SIDE_TEXTS):
            continue
        if initiated is not None and initiated.t <= o.t + 0.05:
            continue
        out.append(o)
    return out


RESET_WORDS = ("reset", "econnreset", "rst")


def _handshake_done(ctx: Context) -> float | None:
    """When both close frames had been seen by the browser (the WebSocket closed properly), else None."""
    sent = ctx.browser("ws_close_sent")
    received = ctx.browser("ws_close_received")
    if sent and received:
        return max(sent[0].t, received[0].t)
    return None


def rule_reset(ctx: Context) -> list[Cause]:
    evidence: list[Evidence] = []
    done = _handshake_done(ctx)
    actor = "server"  # the peer sent the RST (a middlebox could too; nothing here tells them apart)
    upstream = False
    for o in ctx.obs("request_failed", "socket_error", "socket_closed", "ws_error"):
        if (
            o.error == "ERR_CONNECTION_RESET"
            or o.code == -101
            or (o.source == "capture" and any(w in _text(o) for w in RESET_WORDS))
        ) and (done is None or o.t < done):
            evidence.append(ev(o, f"{o.kind}: {o.error or o.text or 'reset'}"))
    for o in _proxy_upstream_failures(ctx):
        t = _text(o)
        if "reset by peer" in t:
            evidence.append(ev(o, o.text or "reset"))
            upstream = True
    if not evidence:
        return []
    return [
        cause(
            "connection_reset",
            actor,
            "A TCP reset ended the connection"
            + (
                " on the upstream side; the proxy could only cut the stream to the browser."
                if upstream
                else "."
            ),
            0.86,
            evidence,
        )
    ]


def rule_abrupt(ctx: Context) -> list[Cause]:
    out: list[Cause] = []
    # the proxy's own account: it lost the backend (even if it ended the body cleanly toward the browser)
    backend = [
        o
        for o in _proxy_upstream_failures(ctx)
        if ("reading" in _text(o) or "backend" in _text(o) or "eof" in _text(o))
        and "reset by peer" not in _text(o)
    ]
    browser_clean = ctx.browser("request_done") or [
        o for o in ctx.browser("ws_close_received") if o.code == 1000
    ]
    if backend:
        b = backend[0]
        hidden = " Caddy ended the body cleanly toward the browser, hiding it." if browser_clean else ""
        out.append(
            cause(
                "server_abrupt_close",
                "server",
                "The backend dropped the stream mid-response (proxy: " + (b.text or b.kind) + ")." + hidden,
                0.87,
                [ev(b, b.text or b.kind)] + [ev(o, _describe_end(o)) for o in browser_clean[:1]],
            )
        )
    # a capture of the upstream leg saw the server vanish without a close frame (mitmproxy may have sent 1000 on)
    initiated = _browser_initiated(ctx)
    cap = [
        o
        for o in ctx.obs("ws_closed", "socket_closed", "request_failed", sources=("capture",))
        if (
            (o.kind == "ws_closed" and o.code == 1006)
            or (o.kind == "socket_closed" and o.leg == "server" and (o.text or "").startswith("peer"))
            or (o.kind == "request_failed" and any(w in _text(o) for w in CAPTURE_CUT_TEXTS))
        )
        and not any(w in _text(o) for w in CAPTURE_PROTOCOL_TEXTS + CAPTURE_CLIENT_GONE_TEXTS)
        and (initiated is None or o.t < initiated.t)
    ]
    if cap and not out:
        c = cap[0]
        note = ""
        if [o for o in ctx.browser("ws_close_received", "ws_closed") if o.code == 1000]:
            note = " The browser saw 1000 only because mitmproxy turns the lost connection (1006) into a 1000 close."
        out.append(
            cause(
                "server_abrupt_close",
                "server",
                (
                    "The server's connection ended with no close frame (1006)."
                    if c.kind != "request_failed"
                    else "The server's response body was cut before its end (seen by the proxy)."
                )
                + note,
                0.84,
                [ev(c, _describe_end(c) + (f" ({c.leg} leg)" if c.leg else ""))],
            )
        )
    for o in ctx.browser("request_failed"):
        if o.error in ABRUPT_ERRORS or o.error == "ERR_HTTP2_PROTOCOL_ERROR":
            text = ABRUPT_ERRORS.get(
                o.error or "", "the server reset the HTTP/2 stream (Caddy does so when it aborts)"
            )
            out.append(
                cause(
                    "server_abrupt_close",
                    "server",
                    f"The server side ended the body abruptly: {text}.",
                    0.74,
                    [ev(o, f"{o.error}")],
                )
            )
            break
    if _browser_initiated(ctx) is None:
        for o in ctx.browser("ws_closed"):
            if o.code == 1006 or o.text == "unclean":
                if not ctx.browser("ws_close_received"):
                    out.append(
                        cause(
                            "server_abrupt_close",
                            "server",
                            "The WebSocket's connection ended with no close frame (1006): the server side dropped it.",
                            0.7,
                            [ev(o, _describe_end(o))],
                        )
                    )
                break
    return out


def rule_stall(ctx: Context) -> list[Cause]:
    data = ctx.stream.primary.data("server") if ctx.stream.primary else []
    if len(data) < 2:
        return []
    end = ctx.ended if ctx.ended is not None else ctx.recording_end
    if end is None:
        return []
    gaps = [b.t - a.t for a, b in itertools.pairwise(data)]
    usual = statistics.median(gaps) if gaps else 0.0
    silence = end - data[-1].t
    if silence < max(STALL_MIN, STALL_FACTOR * usual):
        return []
    if any(o.kind in ("navigation", "page_crash") and data[-1].t < o.t <= end for o in ctx.global_obs):
        return []  # the page went away: the silence is the browser's, not a stall
    page_ended = _browser_initiated(ctx) is not None
    still_open = ctx.ended is None
    conf = 0.8 if (page_ended or still_open) else 0.45
    said = [
        o
        for o in ctx.near_end("console", before=1.0, after=0.5)
        if any(w in _text(o) for w in ("stall", "no data", "timed out", "timeout", "inactiv"))
    ]
    if said:
        conf += 0.05
    how = (
        "the page gave up"
        if page_ended
        else ("it was still open at the end of the recording" if still_open else "then it ended")
    )
    return [
        cause(
            "stall",
            "server",
            f"Data stopped {silence:.1f} s before the end (usual gap {usual:.2f} s) while the stream stayed open; {how}.",
            conf,
            [
                ev(data[-1], f"last data received ({len(data)} in all)"),
                Evidence(source="diagnosis", t=end, text=f"{silence:.1f} s of silence"),
                *[ev(o, f"console: {o.text}") for o in said[:2]],
            ],
        )
    ]


def rule_clean(ctx: Context) -> list[Cause]:
    frames = ctx.browser("ws_close_sent", "ws_close_received")
    if frames and frames[0].kind == "ws_close_received" and frames[0].code in (1000, None, 1005):
        o = frames[0]
        return [
            cause(
                "clean_close",
                "server",
                f"The server closed the WebSocket normally (close {o.code or 1005}).",
                0.6,
                [ev(o, _describe_end(o))],
            )
        ]
    if frames and frames[0].kind == "ws_close_received" and frames[0].code not in CODES_WITH_A_RULE:
        o = frames[0]
        return [
            cause(
                "clean_close",
                "server",
                f"The server closed the WebSocket with its own code {o.code}"
                + (f" ({o.reason!r})" if o.reason else "")
                + ": a proper close handshake; what the code means is up to the application.",
                0.5,
                [ev(o, _describe_end(o))],
            )
        ]
    done = ctx.browser("request_done")
    if done:
        o = done[0]
        return [
            cause(
                "clean_close",
                "server",
                "The response body completed normally.",
                0.6,
                [ev(o, "request finished")],
            )
        ]
    if not ctx.browser_sources_present():
        for o in ctx.obs("ws_closed", "request_done", sources=("capture",)):
            if o.code == 1000 or o.kind == "request_done":
                return [
                    cause(
                        "clean_close", "server", "The stream ended normally.", 0.5, [ev(o, _describe_end(o))]
                    )
                ]
    return []


@dataclass(frozen=True)
class Rule:
    """One rule: its function and what it needs (any one of the sources, any one of the kinds)."""

    name: str
    fn: Callable[[Context], list[Cause]]
    sources: tuple[str, ...]
    kinds: tuple[str, ...]
    doc: str


ALL = ("netlog", "cdp", "har", "console", "caddy", "capture")

RULES: tuple[Rule, ...] = (
    Rule(
        "injected_fault",
        rule_injected_fault,
        ("capture",),
        ("fault",),
        "a capture's fault event at the end time",
    ),
    Rule(
        "navigation",
        rule_navigation,
        ALL,
        ("navigation", "page_crash", "ws_close_sent", "request_cancelled"),
        "browser cancelled / sent 1001 and the page navigated or crashed near the end",
    ),
    Rule(
        "going_away",
        rule_going_away,
        ALL,
        ("ws_close_received", "ws_closed"),
        "close 1001/1012 toward the browser; a proxy reload at that moment makes the proxy the actor",
    ),
    Rule(
        "proxy_timer",
        rule_proxy_timer,
        ALL,
        ("proxy_timeout", "ws_closed", "request_failed", "request_done"),
        "a proxy timer log line, or a lifetime/idle time equal to a known timeout value",
    ),
    Rule(
        "upstream_unavailable",
        rule_upstream_unavailable,
        ALL,
        ("response_headers", "access", "upstream_error", "ws_error", "console", "request_failed"),
        "502/503/504 on the stream, a dial error, a refused connection",
    ),
    Rule(
        "protocol_error",
        rule_protocol_error,
        ALL,
        (
            "request_failed",
            "ws_error",
            "console",
            "ws_close_sent",
            "ws_close_received",
            "ws_closed",
            "socket_error",
        ),
        "protocol net errors, WebSocket frame errors, close 1002/1007",
    ),
    Rule(
        "reset",
        rule_reset,
        ALL,
        ("request_failed", "socket_error", "socket_closed", "proxy_abort", "upstream_error", "ws_error"),
        "ERR_CONNECTION_RESET, socket error -101, a capture's RST, 'connection reset by peer' from the upstream",
    ),
    Rule(
        "abrupt",
        rule_abrupt,
        ALL,
        ("proxy_abort", "upstream_error", "ws_closed", "request_failed", "socket_closed"),
        "body cut / FIN mid-stream / WebSocket 1006; the proxy's 'reading from backend' even when it hid it",
    ),
    Rule(
        "stall",
        rule_stall,
        ALL,
        ("data_received", "ws_frame_received"),
        "silence from the server far longer than the usual gap before the end",
    ),
    Rule(
        "app_close",
        rule_app_close,
        ALL,
        ("ws_close_sent", "request_cancelled", "request_failed"),
        "the browser closed or cancelled the stream with no navigation around",
    ),
    Rule(
        "clean",
        rule_clean,
        ALL,
        ("ws_close_received", "request_done", "ws_closed"),
        "server-initiated close 1000 / complete body",
    ),
)


def run_rules(ctx: Context, rules: Iterable[Rule] = RULES) -> list[Cause]:
    """Every finding of every applicable rule, best first (confidence, then table order)."""
    present_sources = set(ctx.stream.sources) | {o.source for o in ctx.global_obs}
    present_kinds = {o.kind for p in ctx.stream.parts for o in p.obs} | {o.kind for o in ctx.global_obs}
    found: list[tuple[float, int, Cause]] = []
    for i, rule in enumerate(rules):
        if not (present_sources & set(rule.sources)) or not (present_kinds & set(rule.kinds)):
            continue
        for c in rule.fn(ctx):
            found.append(
                (
                    -c.confidence,
                    i,
                    Cause(
                        kind=c.kind,
                        actor=c.actor,
                        summary=c.summary,
                        confidence=c.confidence,
                        evidence=c.evidence,
                        rule=rule.name,
                    ),
                )
            )
    found.sort(key=lambda x: (x[0], x[1]))
    return [c for _, _, c in found]
