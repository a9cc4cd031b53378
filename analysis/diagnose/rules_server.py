"""Rules for ends the path or the server explains: tearline's own fault, a going-away close, a
an unreachable upstream, protocol errors, resets and abrupt ends. Each is
``rule_x(ctx: Context) -> list[Cause]``; the table that runs them is ``tearline.analysis.diagnose.rules.RULES``.
"""

from __future__ import annotations

from tearline.analysis.diagnose.model import Cause, Evidence
from tearline.analysis.diagnose.rule_context import (
    Context,
    browser_initiated,
    cause,
    describe_end,
    end_ev,
    ev,
    handshake_done,
    proxy_upstream_failures,
    text_of,
)
from tearline.analysis.diagnose.rules_timer import applies
from tearline.analysis.diagnose.signatures import (
    ABRUPT_ERRORS,
    CADDY_PROTOCOL_TEXTS,
    NEAR,
    PROTOCOL_ERRORS,
    PROTOCOL_TEXTS,
    UNAVAILABLE_STATUSES,
)
from tearline.analysis.evidence.observation import BROWSER_SOURCES, PROXY_SOURCES, Observation
from tearline.analysis.evidence.timers import Timer

from tearline.flow_errors import H2_ERROR_CODES, h2_reset

__all__ = [
    "rule_abrupt",
    "rule_going_away",
    "rule_injected_fault",
    "rule_protocol_error",
    "rule_reset",
    "rule_upstream_unavailable",
]


def rule_injected_fault(ctx: Context) -> list[Cause]:
    faults = ctx.near_end("fault", before=NEAR, after=0.5)
    own = [o for o in ctx.obs("fault") if o not in faults]
    found = faults or own
    if not found:
        return []
    f = found[-1]
    if f.how == "shapes" and ctx.finished_normally():
        return []  # a delay, stall or throttle that the stream outlived: it did not end it
    return [
        cause(
            "injected_fault",
            "tearline",
            f"tearline injected a fault ({f.text or 'see capture'}) that ended the stream.",
            0.97,
            [ev(f, f"fault fired: {f.text or ''}".strip())],
        )
    ]


def _reload_without_codes(ctx: Context) -> list[Cause]:
    """No close code anywhere (DevTools never reports one), but the WebSocket ended as the proxy reloaded:
    Caddy closes upgraded streams with 1001 on every reload."""
    if ctx.stream.kind != "ws" or ctx.ended is None or browser_initiated(ctx) is not None:
        return []
    if any(o.code is not None for o in ctx.obs("ws_close_received", "ws_close_sent", "ws_closed")):
        return []  # a close code is known: the rules that read codes decide
    ends = ctx.obs("ws_closed")
    # the reload is logged first, the 1001 and the close follow it
    reloads = [
        o for o in ctx.global_obs if o.kind == "proxy_reload" and ctx.ended - NEAR <= o.t <= ctx.ended + 0.1
    ]
    if not ends or not reloads:
        return []
    return [
        cause(
            "server_going_away",
            "proxy",
            "The WebSocket ended as the proxy reloaded its configuration (Caddy closes upgraded streams with "
            "1001 on reload unless stream_close_delay is set); no source recorded the close code.",
            0.75,
            [
                end_ev(ends[0]),
                ev(reloads[0], f"proxy reload: {reloads[0].text or ''}".strip()),
            ],
        )
    ]


def _delayed_reload(ctx: Context, t: float) -> tuple[Observation, Timer] | None:
    """A reload whose distance before ``t`` (the close frame) or the stream's end is a configured
    ``stream_close_delay`` (a ``reload`` timer)."""
    for timer in ctx.timers:
        if timer.clock != "reload" or not applies(timer, ctx.stream.url):
            continue
        ends = [t] + ([ctx.ended] if ctx.ended is not None else [])
        for r in ctx.global_obs:
            if r.kind == "proxy_reload" and any(
                abs((end - r.t) - timer.seconds) <= max(0.3, 0.02 * timer.seconds) for end in ends
            ):
                return r, timer
    return None


def rule_going_away(ctx: Context) -> list[Cause]:
    frames = [
        o
        for o in ctx.obs("ws_close_received", "ws_closed")
        if o.code in (1001, 1012) and (o.kind == "ws_close_received" or o.direction == "server")
    ]
    if not frames:
        return _reload_without_codes(ctx)
    initiated = browser_initiated(ctx)
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
    delayed = _delayed_reload(ctx, f.t)
    if delayed is not None:
        r, timer = delayed
        end = min((f.t, ctx.ended or f.t), key=lambda e: abs((e - r.t) - timer.seconds))
        return [
            cause(
                "server_going_away",
                "proxy",
                f"The proxy reloaded its configuration and, {end - r.t:.1f} s later, when its {timer.name} "
                f"({timer.seconds:g} s) ran out, closed the WebSocket with {f.code} (Going Away).",
                0.93,
                [ev(f, f"close {f.code} toward the browser"), ev(r, f"proxy reload: {r.text or ''}".strip())],
                timer=timer.name,
                measured=round(end - r.t, 3),
                configured=timer.seconds,
                clock="reload",
                inferred_from=timer.inferred_from,
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


def rule_upstream_unavailable(ctx: Context) -> list[Cause]:
    evidence: list[Evidence] = []
    for o in ctx.obs("response_headers", "access", "upstream_error"):
        if o.status in UNAVAILABLE_STATUSES:
            evidence.append(ev(o, f"status {o.status}" + (f" ({o.text})" if o.text else "")))
        elif o.kind == "upstream_error" and any(w in text_of(o) for w in ("dial", "refused", "no upstreams")):
            evidence.append(ev(o, o.text or "upstream unreachable"))
    for o in ctx.obs("ws_error", "console", "request_failed"):
        t = text_of(o)
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
        if any(w in text_of(o) for w in PROTOCOL_TEXTS):
            evidence.append(ev(o, o.text or "protocol error"))
    # a proxy in the path caught the upstream breaking the framing (mitmproxy: "illegal chunk header")
    for o in ctx.obs("request_failed", "console"):
        if o.error_class == "protocol":
            evidence.insert(0, ev(o, f"proxy saw: {o.text}"))
            break
    # ... or Caddy did, and hid it from the browser as a cut body ("invalid byte in chunk length")
    for o in ctx.obs("proxy_abort", "upstream_error", sources=("caddy",)):
        if any(w in text_of(o) for w in CADDY_PROTOCOL_TEXTS):
            evidence.insert(0, ev(o, f"Caddy saw: {o.text}"))
            break
    for o in ctx.obs("ws_close_sent", "ws_close_received", "ws_closed"):
        if o.code in (1002, 1007):
            evidence.append(ev(o, describe_end(o) + " (protocol error)"))
    if not evidence:
        return []
    return [
        cause(
            "protocol_error",
            "server",
            "The server side broke the protocol (" + evidence[0].text + "); the stream was failed.",
            0.9 if evidence[0].source in ("capture", "caddy") else 0.88,
            evidence,
        )
    ]


def browser_cancel(o: Observation) -> bool:
    """An HTTP/2 stream the browser cancelled (RST_STREAM CANCEL from the client, as a proxy recorded it):
    the page's abort, not a TCP reset (a page giving up on a silent stream over HTTP/2)."""
    text = o.text or ""
    return o.leg == "client" and "reset by client" in text and h2_reset(text) == H2_ERROR_CODES["CANCEL"]


def rule_reset(ctx: Context) -> list[Cause]:
    evidence: list[Evidence] = []
    done = handshake_done(ctx)
    actor = "server"  # the peer sent the RST (a middlebox could too; nothing here tells them apart)
    upstream = False
    for o in ctx.obs("request_failed", "socket_error", "socket_closed", "ws_error"):
        if (
            (o.error == "ERR_CONNECTION_RESET" or o.code == -101 or o.error_class == "reset")
            and (done is None or o.t < done)
            and not browser_cancel(o)
        ):
            evidence.append(ev(o, f"{o.kind}: {o.error or o.text or 'reset'}"))
    for o in proxy_upstream_failures(ctx):
        t = text_of(o)
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
        for o in proxy_upstream_failures(ctx)
        if ("reading" in text_of(o) or "backend" in text_of(o) or "eof" in text_of(o))
        and "reset by peer" not in text_of(o)
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
                [ev(b, b.text or b.kind)] + [end_ev(o) for o in browser_clean[:1]],
            )
        )
    # a capture of the upstream leg saw the server vanish without a close frame (mitmproxy may have sent 1000 on)
    initiated = browser_initiated(ctx)
    cap = [
        o
        for o in ctx.obs("ws_closed", "request_failed", sources=PROXY_SOURCES)
        if (
            (o.kind == "ws_closed" and o.code == 1006)
            or (o.kind == "request_failed" and o.error_class == "cut")
        )
        and o.error_class not in ("protocol", "client_gone")
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
                [ev(c, describe_end(c) + (f" ({c.leg} leg)" if c.leg else ""))],
            )
        )
    server_resets = [
        o for o in ctx.browser("h2_rst_stream") if o.direction == "server" and o.code not in (0, 7, 13)
    ]
    if server_resets and not ctx.browser("request_failed"):
        o = server_resets[0]
        out.append(
            cause(
                "server_abrupt_close",
                "server",
                f"The server reset the HTTP/2 stream (RST_STREAM {o.text or o.code}); Caddy does so when it aborts.",
                0.74,
                [ev(o, f"RST_STREAM from the server: {o.text or o.code}")],
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
    if browser_initiated(ctx) is None:
        for o in ctx.browser("ws_closed"):
            if o.code == 1006 or o.text == "unclean":
                if not ctx.browser("ws_close_received"):
                    out.append(
                        cause(
                            "server_abrupt_close",
                            "server",
                            "The WebSocket's connection ended with no close frame (1006): the server side dropped it.",
                            0.7,
                            [end_ev(o)],
                        )
                    )
                break
    return out
