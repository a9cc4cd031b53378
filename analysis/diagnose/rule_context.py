"""What a rule sees (``Context``) and the small judgements several rules share.

A ``Context`` is one stream (``tearline.analysis.diagnose.streams.Stream``), the observations
that belong to no stream (navigations, crashes, reloads, console lines), the
known timer values and the end of the recording. The helpers answer the
questions rules keep asking: who closed first, when was the stream
established, which proxy lines blame the upstream. All pure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tearline.analysis.diagnose.model import ACTORS, CAUSE_KINDS, Cause, Evidence
from tearline.analysis.diagnose.signatures import CLIENT_SIDE_TEXTS, NEAR
from tearline.analysis.diagnose.streams import Stream
from tearline.analysis.evidence.observation import BROWSER_SOURCES, PROXY_SOURCES, Observation
from tearline.analysis.evidence.timers import Timer

__all__ = [
    "Context",
    "browser_initiated",
    "cause",
    "describe_end",
    "end_ev",
    "established",
    "ev",
    "handshake_done",
    "proxy_upstream_failures",
    "server_ended",
    "text_of",
]


@dataclass
class Context:
    """What a rule sees: one stream, the stream-less observations, the timers that may have ended it."""

    stream: Stream
    global_obs: list[Observation] = field(default_factory=list)
    timers: list[Timer] = field(default_factory=list)  # every timer that may apply, best-known first
    recording_end: float | None = None  # wall time of the last observation anywhere
    others: list[Stream] = field(default_factory=list)  # the other streams (noise too): hops behind this one

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

    def finished_normally(self) -> bool:
        """The browser saw the stream finish normally: its body completed, or the server closed the
        WebSocket with 1000 (or no code); without a browser source, the capture's view of the same."""
        if self.browser_sources_present():
            done = self.browser("request_done", "ws_close_received", "ws_close_sent", "request_failed")
        else:
            done = self.obs("request_done", "ws_closed", sources=("capture",))
        first = min(done, key=lambda o: o.t, default=None)
        if first is None:
            return False
        if first.kind == "request_done":
            return True
        if first.kind == "ws_closed":
            return first.code == 1000
        return first.kind == "ws_close_received" and first.code in (1000, 1005, None)

    def near_end(self, *kinds: str, before: float = NEAR, after: float = NEAR) -> list[Observation]:
        """Observations of these kinds (stream's own or global) within the window around the end."""
        end = self.ended if self.ended is not None else self.recording_end
        if end is None:
            return []
        pool = self.obs(*kinds) + [o for o in self.global_obs if o.kind in kinds]
        return sorted((o for o in pool if end - before <= o.t <= end + after), key=lambda o: o.t)


def ev(o: Observation, text: str) -> Evidence:
    return Evidence(source=o.source, t=o.t, text=text, where=o.where)


def cause(
    kind: str,
    actor: str,
    summary: str,
    confidence: float,
    evidence: Iterable[Evidence],
    **details: Any,
) -> Cause:
    """A finding; ``details`` are the typed facts behind it (``Cause.details``), None values left out."""
    assert kind in CAUSE_KINDS and actor in ACTORS, (kind, actor)
    return Cause(
        kind=kind,
        actor=actor,
        summary=summary,
        confidence=confidence,
        evidence=tuple(evidence),
        details={k: v for k, v in details.items() if v is not None},
    )


def text_of(o: Observation) -> str:
    return " ".join(x for x in (o.text, o.reason, o.error) if x).lower()


def browser_initiated(ctx: Context) -> Observation | None:
    """The browser-side observation showing the browser/page ended the stream first, if any."""
    frames = ctx.browser("ws_close_sent", "ws_close_received")  # time order, then file order
    if frames and frames[0].kind == "ws_close_sent":
        return frames[0]
    cancelled = ctx.browser("request_cancelled")
    if cancelled:
        return cancelled[0]
    resets = [o for o in ctx.browser("h2_rst_stream") if o.direction == "client" and o.code == 8]
    if resets:
        return resets[0]  # HTTP/2 RST_STREAM CANCEL from the browser
    if frames or ctx.browser("ws_closed", "request_failed", "request_done"):
        return None  # the browser's own view says it did not start the end
    # no browser view: the capture nearest the browser saw the browser's close frame (its client leg)
    captures = sorted(
        (p for p in ctx.stream.parts if p.source in PROXY_SOURCES and not p.unkeyed),
        key=lambda p: p.opened_at if p.opened_at is not None else float("inf"),
    )
    for o in captures[0].of("ws_close_sent") if captures else []:
        if o.leg in (None, "client"):
            return o
    return None


def established(ctx: Context) -> float:
    """When the stream was open for sure (101 or response headers), else when it started: a
    navigation before that is the page that opened it, not one that left it."""
    answered = ctx.stream.first_time("ws_open", "response_headers", "data_received", "ws_frame_received")
    if answered is not None:
        return answered
    return ctx.opened if ctx.opened is not None else float("-inf")


def describe_end(o: Observation) -> str:
    if o.kind == "ws_close_sent":
        return f"browser sent close {o.code}" + (f" {o.reason!r}" if o.reason else "")
    if o.kind == "ws_close_received":
        return f"browser received close {o.code}" + (f" {o.reason!r}" if o.reason else "")
    if o.kind == "request_cancelled":
        return "request cancelled by the browser (ERR_ABORTED)"
    if o.kind == "request_failed":
        what = o.error or o.code or o.text
        return f"request failed with {what}" if what is not None else "request failed"
    if o.kind == "ws_closed":
        return f"WebSocket closed {o.code if o.code is not None else ''} {o.text or ''}".strip()
    return f"{o.kind} {o.text or o.error or ''}".strip()


def end_ev(o: Observation) -> Evidence:
    """Evidence for an observation that ended the stream, in ``describe_end``'s words."""
    return ev(o, describe_end(o))


def server_ended(ctx: Context) -> bool:
    frames = ctx.browser("ws_close_sent", "ws_close_received")
    if frames and frames[0].kind == "ws_close_received":
        return True
    return bool(ctx.browser("request_failed", "request_done"))


def proxy_upstream_failures(ctx: Context) -> list[Observation]:
    """Proxy log lines near the end that blame the upstream.

    Lines that describe the client leaving (``context canceled``, a failed
    write toward the browser) and lines that follow the browser's own close or
    cancel are consequences of the browser's action, not upstream failures.
    """
    initiated = browser_initiated(ctx)
    out = []
    for o in ctx.near_end("proxy_abort", "upstream_error", before=NEAR + 1, after=NEAR):
        if any(w in text_of(o) for w in CLIENT_SIDE_TEXTS):
            continue
        if initiated is not None and initiated.t <= o.t + 0.05:
            continue
        out.append(o)
    return out


def handshake_done(ctx: Context) -> float | None:
    """When both close frames had been seen by the browser (the WebSocket closed properly), else None."""
    sent = ctx.browser("ws_close_sent")
    received = ctx.browser("ws_close_received")
    if sent and received:
        return max(sent[0].t, received[0].t)
    return None
