"""The timer rule: which deadline ended a stream, from a proxy's own word or from timing alone.

``rule_proxy_timer`` first takes an intermediary's own account (a ``proxy_timeout`` observation: Caddy's
"stream timed out", mitmproxy's idle watchdog in a capture). Otherwise, when the browser did not end
the stream itself, it measures the end on every clock (``tearline.analysis.evidence.timers.CLOCKS``:
from the open, from the last data either way, from the last data of the server or of the browser,
while awaiting headers, from a proxy reload) and names the timer whose value the measure matches
within ``max(TOLERANCE_MIN, TOLERANCE_SHARE * value)``: configured timers (``--caddy-config``) first,
then values a recorder wrote, documented defaults, and durations that repeat across the run's streams.
The cause's ``details`` carry the timer's name, the measured and configured seconds, the clock and how
the value was learned; the confidence comes from the last (``INFERENCE``).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

from tearline.analysis.diagnose.keepalive_notes import tap_saw_browser_close, upstream_keepalive_notes
from tearline.analysis.diagnose.model import Cause, Evidence
from tearline.analysis.diagnose.rule_context import Context, browser_initiated, cause, end_ev, ev
from tearline.analysis.diagnose.signatures import NEAR
from tearline.analysis.evidence.observation import Observation
from tearline.analysis.evidence.timers import CLOCKS, INFERENCE, Timer

__all__ = [
    "CLOCK_WORDS",
    "TOLERANCE_MIN",
    "TOLERANCE_SHARE",
    "applies",
    "idle_connection_notes",
    "measures",
    "rule_proxy_timer",
]

TOLERANCE_MIN = 0.3  # seconds
TOLERANCE_SHARE = 0.02  # of the timer's value
CLOCK_WORDS: dict[str, str] = {
    "open": "lifetime",
    "idle": "idle time",
    "server_idle": "silence from the server",
    "client_idle": "silence from the browser",
    "awaiting_headers": "wait for response headers",
    "reload": "time since the proxy reload",
}


def applies(timer: Timer, url: str) -> bool:
    """Does ``timer`` (its route patterns) cover a stream at ``url``? Ports are not compared: a proxy in
    front of Caddy (mitmproxy, a load balancer) puts its own port in the browser's URL."""
    if not timer.route:
        return True
    try:
        path = urlsplit(url).path or "/"
    except ValueError:
        return False
    return any(fnmatch.fnmatchcase(path.lower(), pattern.lower()) for pattern in timer.route)


def measures(ctx: Context) -> dict[str, float]:
    """The stream's end measured on every clock it can be (seconds); clocks with no start are left out."""
    opened = ctx.stream.trusted_open
    if opened is None or ctx.ended is None:
        return {}
    end = ctx.ended
    out = {"open": end - opened}
    server = ctx.stream.last_activity("server")
    client = ctx.stream.last_activity("client")
    if server is not None or client is not None:
        out["idle"] = end - max(t for t in (server, client) if t is not None)
    if server is not None:
        out["server_idle"] = end - server
    if client is not None:
        out["client_idle"] = end - client
    if ctx.stream.first_time("response_headers", "ws_open", "data_received", "ws_frame_received") is None:
        out["awaiting_headers"] = end - opened
    reloads = [o.t for o in ctx.global_obs if o.kind == "proxy_reload" and opened < o.t <= end]
    if reloads:
        out["reload"] = end - max(reloads)
    return out


def proxy_open(ctx: Context) -> float | None:
    """The end measured from the latest open a proxy-side source saw (a recorder's capture, Caddy's log),
    else None: on the leg behind Caddy that is when Caddy passed the request on.

    A proxy's lifetime timer counts from when the request reached that proxy, which can be well after the
    browser's open: a hop in front of it (a recording mitmdump, a load balancer) may hold the request
    until its body arrives or a connection is made (0.48 s measured on a loaded machine, a streamed
    upload through mitmdump)."""
    if ctx.ended is None:
        return None
    times = [
        t
        for p in ctx.stream.parts
        if p.source in ("capture", "caddy") and not p.unkeyed and (t := p.opened_at) is not None
    ]
    return ctx.ended - max(times) if times else None


def _measured(timer: Timer, got: dict[str, float], at_proxy: float | None) -> float | None:
    """The end on ``timer``'s clock; for a Caddy timer on the open clock, the browser's or Caddy's open,
    whichever is nearer the timer's value."""
    measured = got.get(timer.clock)
    if timer.clock != "open" or at_proxy is None or not timer.name.startswith("Caddy"):
        return measured
    if measured is None:
        return at_proxy
    return min(measured, at_proxy, key=lambda m: abs(m - timer.seconds))


def _tolerance(value: float) -> float:
    return max(TOLERANCE_MIN, TOLERANCE_SHARE * value)


def _key(name: str) -> str:
    """A timer's option name: the last word of its name, after any dots ("capture.options.tcp_timeout",
    "mitmproxy tcp_timeout" and "Caddy reverse_proxy stream_timeout" -> the option)."""
    return name.split()[-1].rsplit(".", 1)[-1] if name.split() else name


def _timer_word(o_timer: str | None, timers: Iterable[Timer], got: dict[str, float]) -> Timer | None:
    """The configured or recorded timer a proxy's own timeout line names (Caddy's stream_timeout, the
    ``tcp_timeout`` a capture's header recorded for mitmproxy's idle timer): config first; among several
    values (two recorders with their own), the one closest to the end measured on its clock."""
    if not o_timer:
        return None
    for source in ("config", "recorded option"):
        known = [t for t in timers if t.inferred_from == source]
        found = [t for t in known if t.name == o_timer] or [t for t in known if _key(t.name) == _key(o_timer)]
        if found:
            return min(found, key=lambda t: abs(got.get(t.clock, float("inf")) - t.seconds))
    return None


def _from_the_proxy(ctx: Context) -> list[Cause]:
    out: list[Cause] = []
    got = measures(ctx)
    for o in ctx.near_end("proxy_timeout", before=NEAR + 1, after=NEAR):
        named = _timer_word(o.timer, [t for t in ctx.timers if applies(t, ctx.stream.url)], got)
        measured = got.get(named.clock) if named is not None else None
        value = (
            f" after {measured:.2f} s of {CLOCK_WORDS[named.clock]}" if named and measured is not None else ""
        )
        configured = f", configured {named.seconds:g} s ({named.source})" if named is not None else ""
        out.append(
            cause(
                "proxy_timeout",
                "proxy",
                f"An intermediary's timer ended the stream ({o.timer or o.text or 'timeout'}){value}{configured}.",
                0.92,
                [ev(o, o.text or o.timer or "proxy timer fired")],
                timer=o.timer,
                measured=round(measured, 3) if measured is not None else None,
                configured=named.seconds if named is not None else None,
                clock=named.clock if named is not None else None,
                inferred_from="proxy log",
            )
        )
    return out


def rule_proxy_timer(ctx: Context) -> list[Cause]:
    out = _from_the_proxy(ctx)
    if out or ctx.opened is None or ctx.ended is None or browser_initiated(ctx) is not None:
        return out
    got = measures(ctx)
    at_proxy = proxy_open(ctx)
    matches = [
        (abs(measured - t.seconds), -INFERENCE[t.inferred_from], i, t, measured)
        for i, t in enumerate(ctx.timers)
        if (measured := _measured(t, got, at_proxy)) is not None
        and abs(measured - t.seconds) <= _tolerance(t.seconds)
        and applies(t, ctx.stream.url)
    ]
    if not matches:
        return out
    # the closest match wins (a stream idle for exactly the timer also lived a little longer), then the
    # best-known value, then table order
    _, _, _, timer, measured = min(matches, key=lambda m: m[:3])
    what = CLOCK_WORDS.get(timer.clock, timer.clock)
    prim = ctx.stream.primary
    end_o = next(iter(prim.of("ws_closed", "request_failed", "request_done")), None) if prim else None
    evidence = [
        Evidence(
            source="diagnosis",
            t=ctx.ended,
            text=f"{what} {measured:.2f} s = {timer.name} {timer.seconds:g} s ({CLOCKS[timer.clock]})",
        )
    ]
    if end_o is not None:
        evidence.append(end_ev(end_o))
    if timer.inferred_from == "repeats":
        summary = (
            f"The stream ended after {measured:.1f} s of {what}, as {timer.source} did ({timer.seconds:.2f} s,"
            f" counted {CLOCKS[timer.clock]}): a timer whose value no table or configuration names."
        )
    else:
        where = f"; value from {timer.source}" if timer.source else ""
        summary = (
            f"The stream ended after {measured:.1f} s of {what}, exactly the {timer.name} ({timer.seconds:g} s,"
            f" counted {CLOCKS[timer.clock]}): a timer ({timer.inferred_from}{where})."
        )
    out.append(
        cause(
            "proxy_timeout",
            timer.actor,
            summary,
            INFERENCE[timer.inferred_from],
            evidence,
            timer=timer.name,
            measured=round(measured, 3),
            configured=timer.seconds,
            clock=timer.clock,
            inferred_from=timer.inferred_from,
        )
    )
    return out


def _origin(url: str | None) -> str:
    try:
        return urlsplit(url).netloc or "?" if url else "?"
    except ValueError:
        return "?"


def _keepalive_timer(idle: float, exact: bool, url: str | None, timers: Sequence[Timer]) -> Timer | None:
    """The server-side keep-alive timer that fits a connection the server closed after ``idle`` seconds
    idle: a configured one first. ``exact`` (an HTTP/2 GOAWAY, sent by the server when its timer fired):
    the timer equals ``idle``; else (Chrome noticed an HTTP/1.1 close only when it next looked) ``idle`` is
    an upper bound, and the longest timer not longer fits."""
    fits = [
        t
        for t in timers
        if t.clock == "between_requests"
        and t.actor != "browser"
        and t.leg == "client"
        and (abs(idle - t.seconds) if exact else t.seconds - idle) <= _tolerance(t.seconds)
        and applies(t, url or "/")
    ]
    for source in ("config", "recorded option", "known default"):
        found = [t for t in fits if t.inferred_from == source]
        if found:
            return max(found, key=lambda t: t.seconds)
    return None


def idle_connection_notes(observations: Iterable[Observation], timers: Sequence[Timer]) -> list[str]:
    """Notes on keep-alive connections that ended while idle between requests (the ``between_requests``
    clock), from the NetLog: a ``socket_closed`` from Chrome's socket pool with how long the socket sat
    idle (``duration``), either Chrome's own idle timer (``timer``) or the server's close (HTTP/1.1; Chrome
    notices it when it next looks), and an HTTP/2 ``h2_goaway`` NO_ERROR on a session with no stream open
    (the server's idle timer, to the millisecond). The server's closes are tied to the keep-alive timer
    that fits. Such a close ends a connection, never a stream: the note says so."""
    own: dict[str, list[float]] = {}
    own_at: list[float] = []
    peer: dict[tuple[str, bool], list[float]] = {}
    urls: dict[str, str | None] = {}
    tap_closes: list[Observation] = []  # a recorder's view of connections ending (keepalive_notes.py)
    done_at: dict[str, float] = {}
    for o in observations:
        if o.source == "capture":
            if o.kind == "socket_closed":
                tap_closes.append(o)
            elif o.kind == "request_done" and o.stream_key is not None:
                done_at[o.stream_key] = o.t
            continue
        if o.source != "netlog" or o.kind not in ("socket_closed", "h2_goaway") or o.duration is None:
            continue
        if o.how == "timeout" and o.by == "local" and o.timer:
            own.setdefault(o.timer, []).append(o.duration)
            own_at.append(o.t)
        elif o.how == "fin" and o.by == "peer":
            origin = _origin(o.url)
            peer.setdefault((origin, o.kind == "h2_goaway"), []).append(o.duration)
            urls.setdefault(origin, o.url)
    notes: list[str] = []
    unused = [c.t for c in tap_closes if c.leg == "client" and c.by == "peer" and c.stream_key is None]
    seen = tap_saw_browser_close(own_at, unused)
    tap = (
        f"; the recorder between Chrome and the server saw the browser close {seen} connection(s) that"
        " carried no request at that time"
        if seen
        else ""
    )
    for timer, idles in sorted(own.items()):
        value = next((t.seconds for t in timers if t.name == timer), None)
        limit = f", limit {value:g} s" if value is not None else ""
        notes.append(
            f"Chrome closed {len(idles)} idle connection(s) itself after {max(idles):.1f} s idle in its pool"
            f" ({timer}{limit}; Chrome checks its idle sockets when it next asks its pool for a connection,"
            f" so the idle time is at least the limit){tap}: between requests, no stream was open on them."
        )
    for (origin, exact), idles in sorted(peer.items()):
        longest = max(idles)
        fit = _keepalive_timer(longest, exact, urls[origin], timers)
        why = (
            f"{fit.name} ({fit.seconds:g} s, {fit.inferred_from}"
            + (f": {fit.source}" if fit.source and fit.inferred_from == "config" else "")
            + ") fits"
            if fit is not None
            else (
                "no known keep-alive timer has that value"
                if exact
                else "no known keep-alive timer is that short"
            )
        )
        if exact:
            what = (
                f"The server closed {len(idles)} idle HTTP/2 connection(s) to {origin} with a GOAWAY"
                f" (NO_ERROR, no stream open) after {longest:.2f} s idle"
            )
        else:
            what = (
                f"The server side closed {len(idles)} idle keep-alive connection(s) to {origin} while they sat"
                f" idle in Chrome's pool (Chrome found them closed after at most {longest:.1f} s idle)"
            )
        notes.append(f"{what}; {why}: between requests, no stream was open on them.")
    notes.extend(upstream_keepalive_notes(tap_closes, done_at, timers))
    return notes
