"""The third step of the diagnosis: one list of streams (every WebSocket, SSE and streaming fetch) on the
aligned clock.

``build_streams`` takes the records once their offsets are applied (``align.py``), groups them into parts
(``parts.py``), matches the parts across sources into clusters (``match.py``) and turns each cluster into
a ``Stream`` whose kind, URL and noise verdict are decided once, before it is built (``classify``).

Background noise is recognised and set aside, never reported as a failure
(``Stream.noise`` names why): failed DNS lookups, refused IPv6 attempts,
``ERR_WS_UPGRADE`` (the marker of a *successful* upgrade), favicons and
ordinary, non-streaming requests (documents, scripts, a JSON fetch).

What the streams know of each source (browser or proxy, how far it is trusted) comes from
``SOURCE_TABLE`` (``analysis/evidence/observation.py``), never from a source's name.

``df_streams(streams)`` is the table as a DataFrame, one row per stream.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from tearline.analysis.diagnose.match import cluster_open, match_parts
from tearline.analysis.diagnose.parts import SourcePart, source_parts, url_path
from tearline.analysis.evidence.observation import (
    BROWSER_SOURCES,
    Observation,
    SourceRecord,
    source_priority,
)
from tearline.analysis.evidence.runs import RUN_KINDS

if TYPE_CHECKING:
    import pandas as pd  # imported where a frame is built: `diagnose --json` never loads pandas

__all__ = [
    "STREAM_COLUMNS",
    "Stream",
    "build_streams",
    "classify",
    "df_streams",
    "end_text",
]

# Net errors that are background noise when a request ends with them.
NOISE_ERRORS: dict[str, str] = {
    "ERR_NAME_NOT_RESOLVED": "failed DNS lookup",
    "ERR_NAME_RESOLUTION_FAILED": "failed DNS lookup",
    "ERR_WS_UPGRADE": "successful WebSocket upgrade marker",
    "ERR_BLOCKED_BY_CLIENT": "blocked by the browser or an extension",
}
# A request that failed with one of these never got its answer: diagnosed even if not a stream.
CONNECTION_ERRORS = (
    "ERR_CONNECTION_REFUSED",
    "ERR_CONNECTION_RESET",
    "ERR_CONNECTION_CLOSED",
    "ERR_EMPTY_RESPONSE",
    "ERR_CONNECTION_TIMED_OUT",
    "ERR_CONNECTION_FAILED",
    "ERR_TIMED_OUT",
)


def _host(url: str | None) -> str:
    if not url:
        return ""
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


@dataclass(frozen=True, eq=False)
class Stream:
    """One stream, matched across sources. Frozen: its id, URL, kind and noise verdict are decided before it
    is built (``classify``) and never change after."""

    id: str
    url: str
    kind: str  # "ws", "sse", "http-stream" (or "http" for noise)
    parts: list[SourcePart] = field(default_factory=list)
    noise: str | None = None  # why it is background noise, None for a real stream
    # obs() by its arguments and the parts it was computed from (a long capture asks thousands of times)
    _obs: dict[tuple[Any, ...], tuple[tuple[SourcePart, ...], list[Observation]]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @property
    def path(self) -> str | None:
        return url_path(self.url)

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.source for p in self.parts))

    def obs(self, *kinds: str, sources: Iterable[str] | None = None) -> list[Observation]:
        """Observations of this stream, time-ordered, filtered by kind and source name."""
        wanted = set(sources) if sources is not None else None
        key = (kinds, None if wanted is None else tuple(sorted(wanted)))
        parts = tuple(self.parts)
        known = self._obs.get(key)
        if known is None or len(known[0]) != len(parts) or any(map(operator.is_not, known[0], parts)):
            known = self._obs[key] = (parts, self._find(kinds, wanted))
        return list(known[1])

    def _find(self, kinds: tuple[str, ...], wanted: set[str] | None) -> list[Observation]:
        folded = not kinds or RUN_KINDS.intersection(kinds)  # the folded messages are asked for
        out = [
            o
            for p in self.parts
            if wanted is None or p.source in wanted
            for o in (p.all_obs() if folded and p.runs else p.obs)
            if not kinds or o.kind in kinds
        ]
        return sorted(out, key=operator.attrgetter("t"))

    def first_time(self, *kinds: str) -> float | None:
        """The earliest time of an observation of these kinds (``obs(*kinds)[0].t``), without
        materialising folded messages."""
        times = [t for p in self.parts if (t := p.first_time(*kinds)) is not None]
        return min(times) if times else None

    def browser_parts(self) -> list[SourcePart]:
        return [p for p in self.parts if p.source in BROWSER_SOURCES]

    @property
    def primary(self) -> SourcePart | None:
        """The part whose view of times and counts is trusted most (browser first)."""
        best = sorted(
            (p for p in self.parts if not p.unkeyed),
            key=lambda p: (source_priority(p.source), -p.count),
        )
        return best[0] if best else (self.parts[0] if self.parts else None)

    @property
    def opened_at(self) -> float | None:
        return cluster_open(self.parts)

    @property
    def trusted_open(self) -> float | None:
        """When the stream opened as the most trusted source saw it (NetLog first). DevTools and HAR stamp a
        fetch when the page called it, before a CORS preflight; the NetLog when its own request started."""
        for source in sorted({p.source for p in self.parts}, key=source_priority):
            times = [
                t
                for p in self.parts
                if p.source == source and not p.unkeyed and (t := p.opened_at) is not None
            ]
            if times:
                return min(times)
        return None

    @property
    def ended_at(self) -> float | None:
        """When the stream ended as the most trusted source saw it (browser first, Caddy last)."""
        for source in sorted({p.source for p in self.parts}, key=source_priority):
            times = [t for p in self.parts if p.source == source and (t := p.ended_at) is not None]
            if times:
                return min(times)
        return None

    def last_activity(self, direction: str) -> float | None:
        """Wall time of the last data message or chunk sent by ``direction`` ("client"/"server")."""
        times = [t for p in self.parts if (t := p.summary(direction).latest) is not None]
        return max(times) if times else None

    def stats(self) -> dict[str, Any]:
        """Counts, bytes and last activity per direction (from the primary source), and each source's end."""
        main = self.primary
        out: dict[str, Any] = {}
        for direction in ("client", "server"):
            data = main.summary(direction) if main else None
            out[f"messages_{direction}"] = data.count if data else 0
            out[f"bytes_{direction}"] = data.bytes if data else 0
            out[f"last_{direction}"] = data.latest if data else None
        out["counted_by"] = main.label if main else None
        out["ends"] = {p.label: end_text(p) for p in self.parts}
        return out


END_TEXT_ORDER: tuple[tuple[str, ...], ...] = (
    ("ws_closed",),
    ("request_failed", "request_cancelled", "request_done"),
    ("ws_close_received", "ws_close_sent", "ws_error"),
    ("proxy_timeout", "proxy_abort", "upstream_error"),
    ("access",),
    ("socket_error", "socket_closed"),
)


def _end_phrase(o: Observation) -> str:
    leg = f" ({o.leg} leg)" if o.leg else ""
    if o.kind == "ws_closed":
        code = f" {o.code}" if o.code is not None else ""
        return f"closed{code}" + (f" {o.text}" if o.text else "") + leg
    if o.kind in ("ws_close_sent", "ws_close_received"):
        return f"close {o.code} {'sent' if o.kind == 'ws_close_sent' else 'received'}{leg}"
    if o.kind == "request_failed":
        return f"failed {o.error or o.text or o.code}{leg}"
    if o.kind == "request_cancelled":
        return "cancelled (ERR_ABORTED)"
    if o.kind == "request_done":
        return "completed"
    if o.kind == "access":
        return f"access status {o.status}"
    return f"{o.kind}: {o.text or o.error or ''}".strip()


def end_text(part: SourcePart) -> str:
    """How one source saw a stream end, in a few words (the most telling observation)."""
    for kinds in END_TEXT_ORDER:
        found = [o for o in part.obs if o.kind in kinds and o.error != "ERR_WS_UPGRADE"]
        if found:
            return _end_phrase(found[-1] if kinds[0] != "request_failed" else found[0])
    return "no end seen"


def _noise(kind: str, parts: list[SourcePart], url: str) -> str | None:
    """Why a stream is background noise, or None when it is a stream worth diagnosing."""
    if not url:
        return "no URL seen (an incomplete record, e.g. a capture cut before the request line)"
    path = (url_path(url) or "").lower()
    if path.endswith("favicon.ico"):
        return "favicon"
    if any(o.kind == "navigation" for p in parts for o in p.obs):
        return "page navigation (a document, not a stream)"
    errors = [o.error for p in parts for o in p.of("request_failed") if o.error]
    if kind != "ws":
        for err in errors:
            if err in NOISE_ERRORS:
                return NOISE_ERRORS[err]
            if err == "ERR_CONNECTION_REFUSED" and ":" in _host(url):
                return "refused IPv6 attempt"
    if kind in ("ws", "sse", "http-stream"):
        return None
    # an ordinary request: stream-like only if several chunks arrived over time, or it is a 5xx on a fetch
    for p in parts:
        chunks = p.data("server")
        if len(chunks) >= 3 and chunks[-1].t - chunks[0].t >= 0.3:
            return None
    statuses = [o.status for p in parts for o in p.obs if o.status]
    if any(s in (502, 503, 504) for s in statuses):
        return None
    if any(e in CONNECTION_ERRORS for e in errors):
        return None  # it never got an answer: worth a diagnosis whatever it was
    return "not a streaming request"


def _cluster_kind(parts: list[SourcePart]) -> str:
    kinds = {p.kind for p in parts}
    for k in ("ws", "sse", "http-stream"):
        if k in kinds:
            return k
    return "http"


def classify(parts: list[SourcePart]) -> tuple[str, str, str | None]:
    """A cluster's ``(url, kind, noise)``, decided once before its ``Stream`` is built.

    The URL is the most trusted source's (``ws://`` for a WebSocket whichever source named it: a capture
    records ``http://``). An ordinary request that is not noise (chunks over time, a 5xx, no answer) is kept
    as an ``http-stream``; one that is noise stays ``http``.
    """
    url = next((u for p in sorted(parts, key=lambda p: source_priority(p.source)) if (u := p.url)), "")
    kind = _cluster_kind(parts)
    if kind == "ws":
        url = re.sub(r"^http(s?)://", r"ws\1://", url)
    noise = _noise(kind, parts, url)
    if noise is None and kind == "http":
        return url, "http-stream", None
    return url, kind, noise


def build_streams(records: Sequence[SourceRecord]) -> tuple[list[Stream], list[Stream], list[Observation]]:
    """Match parts across sources into streams (``records`` on one clock: ``align.apply_offsets``).

    Returns ``(streams, noise, global_observations)``: the streams worth
    diagnosing (ids ``s1``, ``s2``, ... in order of opening), the background
    noise set aside (ids ``n1``, ...), and the observations that belong to no stream.
    """
    parts, global_obs = source_parts(records)
    clusters = sorted(match_parts(parts), key=lambda cl: _open_or_inf(cluster_open(cl)))
    streams: list[Stream] = []
    noise: list[Stream] = []
    for cl in clusters:
        url, kind, noise_why = classify(cl)
        if noise_why is None:
            streams.append(Stream(id=f"s{len(streams) + 1}", url=url, kind=kind, parts=cl))
        else:
            noise.append(Stream(id=f"n{len(noise) + 1}", url=url, kind=kind, parts=cl, noise=noise_why))
    return streams, noise, global_obs


def _open_or_inf(t: float | None) -> float:
    return t if t is not None else math.inf


STREAM_COLUMNS: dict[str, str] = {
    "id": "stream id within the diagnosis (s1, s2, ...)",
    "url": "URL as the browser (or first source) saw it",
    "kind": "ws, sse or http-stream",
    "opened_at": "wall epoch seconds the stream opened (earliest source), NaN if unknown",
    "ended_at": "wall epoch seconds it ended as the browser saw it, NaN if still open",
    "duration": "ended_at - opened_at, seconds",
    "messages_client": "messages/chunks the browser sent (primary source)",
    "messages_server": "messages/chunks/events the browser received (primary source)",
    "bytes_client": "payload bytes the browser sent",
    "bytes_server": "payload bytes the browser received",
    "last_client": "wall epoch seconds of the browser's last message",
    "last_server": "wall epoch seconds of the last message received",
    "sources": "comma-separated sources that saw the stream",
    "ends": "how each source saw it end: 'netlog#0: failed ERR_...; caddy#2: ...'",
}


def df_streams(streams: Iterable[Stream]) -> pd.DataFrame:
    """One row per stream; columns as documented in ``STREAM_COLUMNS`` (times are wall epoch seconds)."""
    import pandas as pd

    rows = []
    for s in streams:
        st = s.stats()
        opened, ended = s.opened_at, s.ended_at
        rows.append(
            {
                "id": s.id,
                "url": s.url,
                "kind": s.kind,
                "opened_at": opened if opened is not None else math.nan,
                "ended_at": ended if ended is not None else math.nan,
                "duration": (ended - opened) if opened is not None and ended is not None else math.nan,
                "messages_client": st["messages_client"],
                "messages_server": st["messages_server"],
                "bytes_client": st["bytes_client"],
                "bytes_server": st["bytes_server"],
                "last_client": st["last_client"] if st["last_client"] is not None else math.nan,
                "last_server": st["last_server"] if st["last_server"] is not None else math.nan,
                "sources": ",".join(s.sources),
                "ends": "; ".join(f"{k}: {v}" for k, v in st["ends"].items()),
            }
        )
    return pd.DataFrame(rows, columns=list(STREAM_COLUMNS))
