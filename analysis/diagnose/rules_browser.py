"""Rules for ends the browser side explains: navigation or crash, the page's own close, a stall it
gave up on, and a proper close. Each is ``rule_x(ctx: Context) -> list[Cause]``; the table that
runs them is ``tearline.analysis.diagnose.rules.RULES``.
"""

from __future__ import annotations

import numpy as np
from tearline.analysis.diagnose.model import Cause, Evidence
from tearline.analysis.diagnose.parts import END_KINDS
from tearline.analysis.diagnose.rule_context import (
    Context,
    browser_initiated,
    cause,
    end_ev,
    established,
    ev,
    server_ended,
    text_of,
)
from tearline.analysis.diagnose.signatures import (
    CODES_WITH_A_RULE,
    NAV_AFTER,
    NAV_BEFORE,
    STALL_FACTOR,
    STALL_MIN,
)
from tearline.analysis.evidence.browser_codes import net_error_name

__all__ = ["rule_app_close", "rule_clean", "rule_navigation", "rule_stall"]


def rule_navigation(ctx: Context) -> list[Cause]:
    start = established(ctx)
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
    initiated = browser_initiated(ctx)
    going_away = initiated is not None and initiated.kind.startswith("ws_close") and initiated.code == 1001
    out: list[Cause] = []
    if crashes:
        c = max(crashes, key=lambda o: (o.code is not None, len(o.text or "")))  # the most telling one
        evidence = [ev(c, f"renderer crashed: {c.text or ''}".strip())]
        if initiated is not None:
            evidence.append(end_ev(initiated))
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
                mechanism="renderer crash",
            )
        )
    if navs and (initiated is not None or not server_ended(ctx)):
        n = navs[0]
        evidence = [ev(n, f"page navigated to {n.url or '?'}")]
        if initiated is not None:
            evidence.append(end_ev(initiated))
        out.append(
            cause(
                "client_navigation",
                "browser",
                f"The page navigated away ({n.url or 'new document'}) while the stream was open; "
                "the browser cancelled it. Expected, not a network fault.",
                0.9 if initiated is not None else (0.75 if ctx.browser(*END_KINDS) == [] else 0.6),
                evidence,
                mechanism="navigation",
            )
        )
    elif going_away and initiated is not None:
        out.append(
            cause(
                "client_navigation",
                "browser",
                "The browser sent close 1001 (Going Away), which Chrome does when the page unloads or navigates.",
                0.75,
                [end_ev(initiated)],
                mechanism="navigation",
            )
        )
    return out


def rule_app_close(ctx: Context) -> list[Cause]:
    initiated = browser_initiated(ctx)
    if initiated is None and not ctx.browser_sources_present():
        gone = [o for o in ctx.obs("request_failed") if o.error_class == "client_gone"]
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
    start, end = established(ctx), ctx.ended if ctx.ended is not None else ctx.recording_end
    navigated = end is not None and any(
        o.kind in ("navigation", "page_crash") and start < o.t and end - NAV_BEFORE <= o.t <= end + NAV_AFTER
        for o in ctx.global_obs
    )
    return [
        cause(
            "client_app_close",
            "page",
            "The page's own code closed the stream "
            + _how_closed(initiated.code)
            + (" around the time the page navigated away." if navigated else " while the page stayed."),
            0.7,
            [end_ev(initiated)],
        )
    ]


def _how_closed(code: int | None) -> str:
    """``(close 4000)``, or the net error's name for a negative code (``(net::ERR_ABORTED)``)."""
    if not code:
        return "(abort)"
    if code < 0:
        name = net_error_name(code)
        return f"(net::{name}, {code})" if name else f"(net error {code})"
    return f"(close {code})"


def rule_stall(ctx: Context) -> list[Cause]:
    data = ctx.stream.primary.summary("server") if ctx.stream.primary else None
    if data is None or data.count < 2 or data.last is None:
        return []
    end = ctx.ended if ctx.ended is not None else ctx.recording_end
    if end is None:
        return []
    # the median of the gaps between messages in data order (numpy's median of two middles is
    # statistics.median's (a + b) / 2: the same float)
    usual = float(np.median(np.diff(data.times)))
    last = data.last
    silence = end - last.t
    if silence < max(STALL_MIN, STALL_FACTOR * usual):
        return []
    if any(o.kind in ("navigation", "page_crash") and last.t < o.t <= end for o in ctx.global_obs):
        return []  # the page went away: the silence is the browser's, not a stall
    page_ended = browser_initiated(ctx) is not None
    still_open = ctx.ended is None
    conf = 0.8 if (page_ended or still_open) else 0.45
    said = [
        o
        for o in ctx.near_end("console", before=1.0, after=0.5)
        if any(w in text_of(o) for w in ("stall", "no data", "timed out", "timeout", "inactiv"))
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
                ev(last, f"last data received ({data.count} in all)"),
                Evidence(source="diagnosis", t=end, text=f"{silence:.1f} s of silence"),
                *[ev(o, f"console: {o.text}") for o in said[:2]],
            ],
            mechanism="page gave up" if page_ended else ("still open" if still_open else None),
            measured=round(silence, 3),
            usual_gap=round(usual, 3),
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
                [end_ev(o)],
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
                [end_ev(o)],
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
                return [cause("clean_close", "server", "The stream ended normally.", 0.5, [end_ev(o)])]
    return []
