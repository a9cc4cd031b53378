"""In-band failures: a stream that ended cleanly at HTTP level while its own events reported failure.

Streaming APIs report a failed run *inside* the stream: AG-UI's ``RUN_ERROR`` event, an OpenAI-style
``error`` event, a Vercel AI SDK error part (``tearline.analysis.evidence.sse_data``). CopilotKit's
runtime does so when the agent or the hop to it fails, then ends the response normally. Such an end is
no ``clean_close``: ``rule_in_band`` names the real cause from the *deepest hop* that shows a failure
between the stream's open and the in-band event (``HOP_AFTER`` s after it at most), with the event as
evidence. Hops are searched, deepest first (``hop_rank``): a proxy's view of the upstream leg (a
capture's server leg, the Caddy log's upstream errors and timers), then other proxy lines, then the
other streams' own ends (a back-end request of the runtime's, on another URL). With no such hop, the
cause is ``in_band_error`` by the server.

Several streams often share one URL (every CopilotKit request goes to one route): the hop is taken
from the other streams by *time* (inside this stream's lifetime), never by URL alone.
"""

from __future__ import annotations

from tearline.analysis.diagnose.model import Cause
from tearline.analysis.diagnose.rule_context import Context, browser_initiated, cause, ev
from tearline.analysis.diagnose.signatures import ABRUPT_ERRORS, UNAVAILABLE_STATUSES
from tearline.analysis.evidence.observation import PROXY_SOURCES, Observation
from tearline.analysis.evidence.sse_data import FAILURE_TYPES, is_failure

__all__ = ["HOP_AFTER", "hop_kind", "hop_rank", "in_band_failures", "rule_in_band"]

HOP_AFTER = 0.5  # seconds: a hop's failure logged this long after the in-band event still explains it
HOP_KINDS = (
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
        return "server_abrupt_close"
    if o.kind == "request_failed" and (o.error_class == "cut" or o.error in ABRUPT_ERRORS):
        return "server_abrupt_close"
    if o.kind == "ws_closed" and o.code == 1006:
        return "server_abrupt_close"
    if o.kind in ("response_headers", "access") and (o.status or 0) >= 500:
        return "in_band_error"  # the back end answered 500: it failed, the runtime reported it in band
    return None


def hop_rank(o: Observation) -> int:
    """Deepest first: a proxy's upstream leg, other proxy lines, then anything else."""
    if o.source in PROXY_SOURCES and o.leg == "server":
        return 0
    if o.source in PROXY_SOURCES:
        return 1
    return 2


def _hops(ctx: Context, until: float) -> list[Observation]:
    start = ctx.opened if ctx.opened is not None else until - 60.0
    own = {id(o) for o in ctx.obs()}
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
    in_band = ev(
        f, f"in-band failure: {label}" + (f" (event {f.event!r})" if f.event not in (None, "message") else "")
    )
    hops = _hops(ctx, f.t)
    if hops:
        h = hops[0]
        kind = hop_kind(h) or "in_band_error"
        return [
            cause(
                kind,
                "server",
                f"The stream ended normally at HTTP level, but it reported a failure inside it ({label}); "
                f"the hop behind it shows why: {_what(h)}.",
                0.91,
                [ev(h, _what(h)), in_band],
                in_band=f.data_type or f.event,
                hop=f"{h.source}" + (f" {h.leg} leg" if h.leg else ""),
                mechanism="in-band failure event",
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
            mechanism="in-band failure event",
        )
    ]
