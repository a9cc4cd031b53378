"""In-band failures: a stream that ended cleanly at HTTP level while its own events reported failure.

Streaming APIs report a failed run *inside* the stream: AG-UI's ``RUN_ERROR`` event, an OpenAI-style
``error`` event, a Vercel AI SDK error part (``tearline.analysis.evidence.sse_data``). CopilotKit's
runtime does so when the agent or the hop to it fails, then ends the response normally. Such an end is
no ``clean_close``: ``rule_in_band`` names the real cause from the *deepest hop* that shows a failure
between the stream's open and the in-band event (``HOP_AFTER`` s after it at most), with the event as
evidence. Hops are searched, deepest first (``hop_rank``): a proxy's view of the upstream leg (a
capture's server leg, the Caddy log's upstream errors and timers), then other proxy lines, then the
other streams' own ends (a back-end request of the runtime's, on another URL). A fault tearline injected
on a hop is the deepest fact there is (``injected_fault``, with the failure it stands for). With no such
hop, the cause is ``in_band_error`` by the server.

A user's stop is in-band too: CopilotKit's stop button sends another request on the run's route, the
runtime cancels its call to the agent (the hop behind it ends *by its client*: ``Client disconnected``,
Caddy's ``context canceled``) and ends the run stream with ``RUN_ERROR``. ``rule_in_band`` names that
``client_app_close`` by the page (``page_stop``): a request from the page to the stream's host in its
lifetime, before the failure, and no hop failing by itself.

The evidence shows the in-band event (its time, the event's own ``message``/``code`` when the recorder kept
the payload) and the page's console line that reported it (CopilotKit logs ``Error: terminated ...
runtimeErrorCode: INCOMPLETE_STREAM``), when there is one.

Several streams often share one URL (every CopilotKit request goes to one route): the hop is taken
from the other streams by *time* (inside this stream's lifetime), never by URL alone.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from tearline.analysis.diagnose.model import Cause
from tearline.analysis.diagnose.rule_context import Context, browser_initiated, cause, ev
from tearline.analysis.diagnose.signatures import ABRUPT_ERRORS, UNAVAILABLE_STATUSES
from tearline.analysis.evidence.observation import BROWSER_SOURCES, PROXY_SOURCES, Observation
from tearline.analysis.evidence.sse_data import FAILURE_TYPES, is_failure

__all__ = [
    "HOP_AFTER",
    "hop_kind",
    "hop_rank",
    "in_band_failures",
    "in_band_message",
    "page_stop",
    "rule_in_band",
]

HOP_AFTER = 0.5  # seconds: a hop's failure logged this long after the in-band event still explains it
CONSOLE_AFTER = 2.0  # seconds: the page's console line reporting the in-band event follows it this closely
STOP_METHODS = ("POST", "PUT", "PATCH", "DELETE")  # a stop/cancel call changes state: never a GET
HOP_KINDS = (
    "fault",
    "upstream_error",
    "proxy_abort",
    "proxy_timeout",
    "request_failed",
    "response_headers",
    "access",
    "socket_closed",
    "ws_closed",
    "h2_rst_stream",
)


def in_band_failures(ctx: Context) -> list[Observation]:
    """The stream's SSE events whose name or data type reports failure, in time order."""
    return [o for o in ctx.obs("data_received") if is_failure(o.event, o.data_type)]


def hop_kind(o: Observation) -> str | None:
    """The cause kind a failure seen on a hop stands for, None when the observation is no failure."""
    if _client_left(o):
        return None  # the hop's own client (the runtime) hung up, with a FIN or an RST: no failure behind
    if o.kind == "fault":
        return "injected_fault"
    if o.kind == "proxy_timeout":
        return "proxy_timeout"
    if o.status in UNAVAILABLE_STATUSES and o.kind in ("response_headers", "access", "upstream_error"):
        return "upstream_unavailable"
    if o.kind == "upstream_error":
        low = (o.text or "").lower()
        if "reset by peer" in low:
            return "connection_reset"
        if any(w in low for w in ("dial", "refused", "no upstreams")):
            return "upstream_unavailable"
        return "server_abrupt_close"
    if o.error_class == "reset" or o.error == "ERR_CONNECTION_RESET":
        return "connection_reset"
    if o.error_class == "protocol":
        return "protocol_error"
    if o.kind == "proxy_abort" and o.leg != "client":
        # Caddy's "aborting with incomplete response" carries the read error it met on the upstream
        return "connection_reset" if "reset by peer" in (o.text or "").lower() else "server_abrupt_close"
    if o.kind == "request_failed" and (o.error_class == "cut" or o.error in ABRUPT_ERRORS):
        return "server_abrupt_close"
    if o.kind == "ws_closed" and o.code == 1006:
        return "server_abrupt_close"
    if o.kind in ("response_headers", "access") and (o.status or 0) >= 500:
        return "in_band_error"  # the back end answered 500: it failed, the runtime reported it in band
    return None


def hop_rank(o: Observation) -> int:
    """Deepest first: a proxy timer that fired (it ended the hop, whatever made the upstream silent),
    tearline's own fault, a proxy's upstream leg, other proxy lines, then anything else."""
    if o.kind == "proxy_timeout":
        return -2
    if o.kind == "fault":
        return -1
    if o.source in PROXY_SOURCES and o.leg == "server":
        return 0
    if o.source in PROXY_SOURCES:
        return 1
    return 2


def _hops(ctx: Context, until: float) -> list[Observation]:
    start = ctx.opened if ctx.opened is not None else until - 60.0
    own = {id(o) for o in ctx.obs(*HOP_KINDS)}  # the pool holds these kinds only
    pool = [o for s in ctx.others for o in s.obs(*HOP_KINDS)]
    pool += [o for o in ctx.obs(*HOP_KINDS, sources=PROXY_SOURCES) if o.leg == "server"]
    pool += [o for o in ctx.global_obs if o.kind in HOP_KINDS]
    found = []
    for o in pool:
        if not (start <= o.t <= until + HOP_AFTER) or hop_kind(o) is None:
            continue
        if id(o) in own and o.leg != "server":
            continue
        found.append(o)
    return sorted(found, key=lambda o: (hop_rank(o), -o.t))


def _client_left(o: Observation) -> bool:
    """A recorder's connection end on its client leg, by that client: the hop's client (the runtime, for the
    hop behind it) closed or reset it; a reset then says only that it left with data unread."""
    return o.kind == "socket_closed" and o.source == "capture" and o.leg == "client" and o.by == "peer"


def _client_gone(o: Observation) -> bool:
    """A hop's line saying its *client* (the runtime, for the hop behind it) hung up."""
    if o.error_class == "client_gone" or _client_left(o):
        return True
    return o.kind == "proxy_abort" and o.leg == "client" and "context canceled" in (o.text or "").lower()


def page_stop(ctx: Context, until: float) -> tuple[Observation, Observation | None] | None:
    """The page's own stop of an in-band run: a state-changing request from the browser to the stream's
    host, sent in the stream's lifetime before ``until``, and the hop behind that its client then left
    (None when the evidence holds no such hop). None when the page sent no such request."""
    start = ctx.opened
    host = urlsplit(ctx.stream.url or "").netloc
    if start is None or not host:
        return None
    requests = [
        o
        for s in ctx.others
        for o in s.obs("request_start", sources=BROWSER_SOURCES)
        if start < o.t < until
        and urlsplit(o.url or s.url or "").netloc == host
        and (o.text or "").upper() in STOP_METHODS
    ]
    if not requests:
        return None
    stop = min(requests, key=lambda o: o.t)
    # a hop's own words first (its request failed: client gone; Caddy's "context canceled"), else a
    # recorder's view of a stream's connection closed by its client
    for kinds in (("request_failed", "proxy_abort"), ("socket_closed",)):
        left = [
            o
            for s in ctx.others
            for o in s.obs(*kinds)
            if _client_gone(o)
            and stop.t <= o.t <= until + HOP_AFTER
            and (o.kind != "socket_closed" or o.stream_key is not None)
        ]
        if left:
            return stop, min(left, key=lambda o: o.t)
    return stop, None


def in_band_message(ctx: Context, f: Observation) -> str | None:
    """What the failure said: the event's ``message``/``code`` when its payload was kept, else the page's
    console error that reported it (its first line)."""
    if f.payload:
        try:
            obj = json.loads(f.payload)
        except ValueError:
            obj = None
        if isinstance(obj, dict):
            inner = obj.get("error")
            err: dict[str, object] = inner if isinstance(inner, dict) else obj
            bits = [v for k in ("message", "errorText", "code") if isinstance(v := err.get(k), str)]
            if bits:
                return " / ".join(bits)[:200]
    lines = [
        o
        for o in ctx.global_obs
        if o.kind == "console"
        and o.level == "error"
        and f.t - 0.1 <= o.t <= f.t + CONSOLE_AFTER
        and "404" not in (o.text or "")
    ]
    if lines:
        text = " ".join((min(lines, key=lambda o: o.t).text or "").split("\n", 1)[0].split())
        text = text.split(" at ", 1)[0]  # a stack trace follows
        head, sep, _ = text.partition(" Error: ")  # "... error: X Error: X": the error repeated
        return (head if sep and head else text)[:200] or None
    return None


def _what(o: Observation) -> str:
    what = o.text or o.error or (f"status {o.status}" if o.status else o.kind)
    where = f"{o.source}" + (f" {o.leg} leg" if o.leg else "")
    url = f" {o.url}" if o.url else ""
    return f"{where}{url}: {what}"


def rule_in_band(ctx: Context) -> list[Cause]:
    failures = in_band_failures(ctx)
    if not failures:
        return []
    f = failures[0]
    initiated = browser_initiated(ctx)
    if initiated is not None and initiated.t < f.t:
        return []  # the page had already ended it
    label = FAILURE_TYPES.get(f.data_type or "", f"an SSE '{f.event}' event")
    message = in_band_message(ctx, f)
    in_band = ev(
        f,
        f"in-band failure: {label}"
        + (f" (event {f.event!r})" if f.event not in (None, "message") else "")
        + (f": {message}" if message else ""),
    )
    hops = _hops(ctx, f.t)
    if hops:
        h = hops[0]
        kind = hop_kind(h) or "in_band_error"
        actor = {"injected_fault": "tearline", "proxy_timeout": "proxy"}.get(kind, "server")
        stands_for = next((hop_kind(x) for x in hops[1:] if hop_kind(x) != "injected_fault"), None)
        injected = next((x for x in hops if x.kind == "fault"), None)
        if kind == "injected_fault":
            why = f"tearline injected a fault on the hop behind it ({h.text or 'see the capture'})" + (
                f", which that hop saw as {stands_for}" if stands_for else ""
            )
        else:
            why = f"the hop behind it shows why: {_what(h)}"
            if injected is not None:
                why += f" (tearline's fault on that hop first: {injected.text or 'see the capture'})"
        return [
            cause(
                kind,
                actor,
                f"The stream ended normally at HTTP level, but it reported a failure inside it ({label}); "
                f"{why}.",
                0.93 if kind == "injected_fault" else 0.91,
                [ev(h, _what(h)), in_band],
                in_band=f.data_type or f.event,
                message=message,
                hop=f"{h.source}" + (f" {h.leg} leg" if h.leg else ""),
                hop_kind=stands_for if kind == "injected_fault" else None,
                timer=h.timer,
                injected=injected.text if injected is not None and kind != "injected_fault" else None,
                mechanism="in-band failure event",
            )
        ]
    stopped = page_stop(ctx, f.t)
    if stopped is not None:
        stop, left = stopped
        evidence = [
            ev(stop, f"the page sent {stop.text or 'a request'} {stop.url or ''} while the run streamed")
        ]
        if left is not None:
            evidence.append(ev(left, f"then the hop behind it was left by its client: {_what(left)}"))
        return [
            cause(
                "client_app_close",
                "page",
                "The page stopped the run: it sent another request to the stream's server while the run "
                "streamed (a stop button), "
                + (
                    "the hop behind the server was then cut by its client, "
                    if left is not None
                    else "(no hop behind the server is in the evidence) "
                )
                + f"and the server ended the stream normally reporting the cancelled run inside it ({label}).",
                0.92 if left is not None else 0.8,
                [*evidence, in_band],
                in_band=f.data_type or f.event,
                message=message,
                hop=(f"{left.source}" + (f" {left.leg} leg" if left.leg else ""))
                if left is not None
                else None,
                mechanism="page stop, in-band failure event",
            )
        ]
    behind = any(p.source in PROXY_SOURCES for p in ctx.stream.parts)
    why = (
        "the hops behind it show no failure: the back end reported its own"
        if behind
        else "no deeper hop in the evidence shows why (add the back end's leg: a capture or its proxy's log)"
    )
    return [
        cause(
            "in_band_error",
            "server",
            f"The stream ended normally at HTTP level, but it reported a failure inside it ({label}); {why}.",
            0.88,
            [in_band],
            in_band=f.data_type or f.event,
            message=message,
            mechanism="in-band failure event",
        )
    ]
