"""One list of streams: every WebSocket, SSE and streaming fetch, matched across sources.

Importers give one ``SourceRecord`` per file; inside a record, observations
that share a ``stream_key`` are one *part* (``SourcePart``): the stream as that
one file saw it. ``build_streams`` matches parts from different files into
one ``Stream`` by URL path (hosts differ between legs: a reverse proxy
rewrites them), and by time (open times within ``MATCH_WINDOW`` seconds; the
closest wins). Caddy log lines carry no stream id: each one joins the stream
with the same path whose lifetime contains it, or whose open matches the
line's own (its time minus its logged duration).

Background noise is recognised and set aside, never reported as a failure
(``Stream.noise`` names why): failed DNS lookups, refused IPv6 attempts,
``ERR_WS_UPGRADE`` (the marker of a *successful* upgrade), favicons and
ordinary, non-streaming requests (documents, scripts, a JSON fetch).

``df_streams(streams)`` is the table as a DataFrame, one row per stream.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
from tearline.analysis.evidence.observation import SOURCE_ROLES, UNKEYED_SOURCES, Observation, SourceRecord

__all__ = [
    "BROWSER_SOURCES",
    "END_KINDS",
    "MATCH_WINDOW",
    "OPEN_KINDS",
    "PROXY_SOURCES",
    "SourcePart",
    "Stream",
    "build_streams",
    "df_streams",
    "source_parts",
    "url_path",
]

BROWSER_SOURCES: tuple[str, ...] = tuple(s for s, role in SOURCE_ROLES.items() if role == "browser")
PROXY_SOURCES: tuple[str, ...] = tuple(s for s, role in SOURCE_ROLES.items() if role == "proxy")
# Order in which a source's view of a stream is preferred for times and counts.
SOURCE_PRIORITY: dict[str, int] = {"netlog": 0, "cdp": 1, "har": 2, "capture": 3, "console": 4, "caddy": 5}
MATCH_WINDOW = 3.0  # seconds: two sources' open times of the same stream differ by less than this
OPEN_KINDS: tuple[str, ...] = ("request_start", "ws_created", "ws_handshake_request")
END_KINDS: tuple[str, ...] = ("ws_closed", "request_done", "request_failed", "request_cancelled")
DATA_KINDS: dict[str, str] = {  # observation kind -> direction (who sent it)
    "data_received": "server",
    "data_sent": "client",
    "ws_frame_received": "server",
    "ws_frame_sent": "client",
}
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
GLOBAL_KINDS = ("navigation", "page_crash", "proxy_reload", "network_changed")
CONTROL_OPCODES = ("ping", "pong", "close", "9", "10", "8")


def url_path(url: str | None) -> str | None:
    """The part of a URL every leg agrees on: path and query, without scheme, host or fragment."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if not parts.scheme and not url.startswith("/"):
        return url
    path = parts.path or "/"
    return path + (f"?{parts.query}" if parts.query else "")


def _host(url: str | None) -> str:
    if not url:
        return ""
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


@dataclass
class SourcePart:
    """One stream as one file saw it (one ``stream_key`` in one ``SourceRecord``)."""

    record: int  # index of the SourceRecord in the list given to build_streams
    source: str  # SourceRecord.name
    key: str | None
    obs: list[Observation] = field(default_factory=list)
    # data() per direction, computed once like the cached properties (obs is complete by then)
    _data: dict[str, list[Observation]] = field(default_factory=dict, init=False, repr=False, compare=False)
    _of: dict[tuple[str, ...], list[Observation]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @cached_property
    def url(self) -> str | None:
        for o in self.obs:
            if o.url:
                return o.url
        return None

    @cached_property
    def method(self) -> str | None:
        """The request method when the source says it (request_start text), upper case."""
        start = self.first("request_start")
        text = (start.text or "").strip().upper() if start is not None else ""
        return text if text.isalpha() and len(text) <= 8 else None

    @property
    def unkeyed(self) -> bool:
        """Lines with no stream id, written when the request finished (an access log)."""
        return self.source in UNKEYED_SOURCES

    @property
    def label(self) -> str:
        return f"{self.source}#{self.record}"

    def of(self, *kinds: str) -> list[Observation]:
        known = self._of.get(kinds)
        if known is None:
            known = self._of[kinds] = [o for o in self.obs if o.kind in kinds]
        return list(known)

    def first(self, *kinds: str) -> Observation | None:
        found = self.of(*kinds)
        return found[0] if found else None

    @cached_property
    def opened_at(self) -> float | None:
        o = self.first(*OPEN_KINDS)
        if o is not None:
            return o.t
        if self.unkeyed:
            for a in self.of("access"):
                if a.duration is not None and math.isfinite(a.duration) and a.duration > 0:
                    return a.t - a.duration
            return None
        return self.obs[0].t if self.obs else None

    @cached_property
    def ended_at(self) -> float | None:
        ends = [o for o in self.of(*END_KINDS) if o.error != "ERR_WS_UPGRADE"]
        if ends:
            return ends[0].t
        if SOURCE_ROLES.get(self.source) == "proxy":
            closes = self.of("access", "ws_closed", "socket_closed", "proxy_abort")
            if closes:
                return closes[0].t
        frames = self.of("ws_close_received", "ws_close_sent", "ws_error")
        if frames:
            return frames[-1].t
        return None

    @cached_property
    def kind(self) -> str:
        """``ws``, ``sse``, ``http-stream`` or ``http`` as far as this part can tell."""
        if any(o.kind.startswith("ws_") for o in self.obs):
            return "ws"
        url = self.url or ""
        if url.startswith(("ws://", "wss://")):
            return "ws"
        for o in self.obs:
            if o.kind in ("response_headers", "request_start", "access"):
                text = (o.text or "").lower()
                if "event-stream" in text or text == "sse":
                    return "sse"
                if "upgrade: websocket" in text or text == "ws" or o.status == 101:
                    return "ws"
                if text == "http-stream":
                    return "http-stream"
        return "http"

    def data(self, direction: str) -> list[Observation]:
        """The messages/chunks sent in ``direction``, control frames left out. A source that reports
        both the body's chunks and the SSE events parsed from them (a capture's ``body_chunk`` and
        ``sse_event``, DevTools' ``dataReceived`` and ``eventSourceMessageReceived``) counts the
        chunks only: each arrival once, keep-alive comments included."""
        known = self._data.get(direction)
        if known is None:
            known = self._data[direction] = self._find_data(direction)
        return list(known)

    def _find_data(self, direction: str) -> list[Observation]:
        out = []
        for o in self.obs:
            d = DATA_KINDS.get(o.kind)
            if d == direction and (o.text or "").lower() not in CONTROL_OPCODES:
                out.append(o)
        events = [o for o in out if o.event is not None]
        if events and len(events) < len(out):
            return [o for o in out if o.event is None]
        return out


def source_parts(records: Sequence[SourceRecord]) -> tuple[list[SourcePart], list[Observation]]:
    """Group each record's observations by stream key.

    Returns the parts and the *global* observations: those with no stream key
    (navigations, crashes, console lines, proxy reloads). Caddy lines with a URL
    become one part each (the log has no stream id); without a URL they are global.
    """
    parts: list[SourcePart] = []
    global_obs: list[Observation] = []
    for i, rec in enumerate(records):
        by_key: dict[str, SourcePart] = {}
        for o in sorted(rec.observations, key=operator.attrgetter("t")):
            if rec.name in UNKEYED_SOURCES:
                if o.url and o.kind in ("access", "proxy_abort", "upstream_error", "proxy_timeout"):
                    key = o.stream_key or f"{rec.name}-{o.where or len(parts)}-{o.t}"
                    part = by_key.get(key)
                    if part is None:
                        part = by_key[key] = SourcePart(record=i, source=rec.name, key=key)
                    part.obs.append(o)
                else:
                    global_obs.append(o)
                continue
            if o.stream_key is None or o.kind in GLOBAL_KINDS:
                global_obs.append(o)
                if o.stream_key is None:
                    continue  # a navigation with a key also stays on its document request
            part = by_key.get(o.stream_key)
            if part is None:
                part = by_key[o.stream_key] = SourcePart(record=i, source=rec.name, key=o.stream_key)
            part.obs.append(o)
        parts.extend(by_key.values())
    global_obs.sort(key=lambda o: o.t)
    return parts, global_obs


@dataclass
class Stream:
    """One stream, matched across sources."""

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
        out = [
            o
            for p in self.parts
            if wanted is None or p.source in wanted
            for o in p.obs
            if not kinds or o.kind in kinds
        ]
        return sorted(out, key=lambda o: o.t)

    def browser_parts(self) -> list[SourcePart]:
        return [p for p in self.parts if p.source in BROWSER_SOURCES]

    @property
    def primary(self) -> SourcePart | None:
        """The part whose view of times and counts is trusted most (browser first)."""
        best = sorted(
            (p for p in self.parts if not p.unkeyed),
            key=lambda p: (SOURCE_PRIORITY.get(p.source, 9), -len(p.obs)),
        )
        return best[0] if best else (self.parts[0] if self.parts else None)

    @property
    def opened_at(self) -> float | None:
        times = [t for p in self.parts if not p.unkeyed and (t := p.opened_at) is not None]
        if not times:
            times = [t for p in self.parts if (t := p.opened_at) is not None]
        return min(times) if times else None

    @property
    def trusted_open(self) -> float | None:
        """When the stream opened as the most trusted source saw it (NetLog first). DevTools and HAR stamp a
        fetch when the page called it, before a CORS preflight; the NetLog when its own request started."""
        for source in sorted({p.source for p in self.parts}, key=lambda s: SOURCE_PRIORITY.get(s, 9)):
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
        for source in sorted({p.source for p in self.parts}, key=lambda s: SOURCE_PRIORITY.get(s, 9)):
            times = [t for p in self.parts if p.source == source and (t := p.ended_at) is not None]
            if times:
                return min(times)
        return None

    def last_activity(self, direction: str) -> float | None:
        """Wall time of the last data message or chunk sent by ``direction`` ("client"/"server")."""
        times = [o.t for p in self.parts for o in p.data(direction)]
        return max(times) if times else None

    def stats(self) -> dict[str, Any]:
        """Counts, bytes and last activity per direction (from the primary source), and each source's end."""
        main = self.primary
        out: dict[str, Any] = {}
        for direction in ("client", "server"):
            data = main.data(direction) if main else []
            out[f"messages_{direction}"] = len(data)
            out[f"bytes_{direction}"] = sum(o.size or 0 for o in data)
            out[f"last_{direction}"] = max((o.t for o in data), default=None)
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


def _join(
    part: SourcePart,
    best: list[SourcePart] | None,
    path: str | None,
    clusters: list[list[SourcePart]],
    by_path: dict[str | None, list[list[SourcePart]]],
) -> None:
    """Add ``part`` to the cluster ``best``, or open a new cluster (indexed by ``path``) when there is none."""
    if best is None:
        clusters.append([part])
        by_path.setdefault(path, []).append(clusters[-1])
    else:
        best.append(part)


def build_streams(records: Sequence[SourceRecord]) -> tuple[list[Stream], list[Stream], list[Observation]]:
    """Match parts across sources into streams.

    Returns ``(streams, noise, global_observations)``: the streams worth
    diagnosing (ids ``s1``, ``s2``, ... in order of opening), the background
    noise set aside, and the observations that belong to no stream.
    """
    parts, global_obs = source_parts(records)
    ordered = sorted(
        (p for p in parts if not p.unkeyed),
        key=lambda p: (SOURCE_PRIORITY.get(p.source, 9), p.opened_at or 0.0),
    )
    clusters: list[list[SourcePart]] = []
    by_path: dict[str | None, list[list[SourcePart]]] = {}  # index: only same-path clusters are candidates
    for part in ordered:
        best: list[SourcePart] | None = None
        best_gap = MATCH_WINDOW
        path = url_path(part.url)
        t = part.opened_at
        for cl in by_path.get(path, []) if path is not None and t is not None else []:
            if any(p.record == part.record for p in cl):
                continue
            methods = {m for p in cl if (m := p.method)}
            if part.method and methods and part.method not in methods:
                continue  # a CORS preflight (OPTIONS) is not the POST it precedes
            ct = min((x for p in cl if (x := p.opened_at) is not None), default=None)
            if ct is None or t is None:
                continue
            gap = abs(ct - t)
            if gap < best_gap:
                best, best_gap = cl, gap
        _join(part, best, path, clusters, by_path)
    # access-log lines: join the stream with the same path whose lifetime contains the line, or whose open
    # matches the line's own open (its time minus its duration: a proxy may log a WebSocket's end seconds
    # after the browser's, once the upstream let go).
    # lines that know their own open (access lines) first: the others (an abort) then join by lifetime
    for part in sorted((p for p in parts if p.unkeyed), key=lambda p: p.opened_at is None):
        path = url_path(part.url)
        t = part.obs[0].t
        own_open = part.opened_at
        best = None
        best_gap = math.inf
        for cl in by_path.get(path, []):
            start = min((x for p in cl if (x := p.opened_at) is not None), default=t)
            ends = [x for p in cl if (x := p.ended_at) is not None]
            end = max(ends) if ends else math.inf
            gaps = []
            if start - 1.0 <= t <= end + MATCH_WINDOW:
                gaps.append(abs(t - end) if ends else t - start)
            keyed = [x for p in cl if not p.unkeyed and (x := p.opened_at) is not None]
            if own_open is not None and keyed and abs(min(keyed) - own_open) < MATCH_WINDOW:
                gaps.append(abs(min(keyed) - own_open))
            if gaps and min(gaps) < best_gap:
                best, best_gap = cl, min(gaps)
        _join(part, best, path, clusters, by_path)
    streams: list[Stream] = []
    noise: list[Stream] = []
    built = []
    for cl in clusters:
        url = next(
            (u for p in sorted(cl, key=lambda p: SOURCE_PRIORITY.get(p.source, 9)) if (u := p.url)), ""
        )
        kind = _cluster_kind(cl)
        if kind == "ws":  # the same scheme whichever source named it (a capture records http://)
            url = re.sub(r"^http(s?)://", r"ws\1://", url)
        noise_why = _noise(kind, cl, url)
        if noise_why is None and kind == "http":
            kind = "http-stream"  # an ordinary request kept as a stream: chunks over time, a 5xx, no answer
        built.append(Stream(id="", url=url, kind=kind, parts=cl, noise=noise_why))
    built.sort(key=lambda s: s.opened_at if s.opened_at is not None else math.inf)
    for s in built:
        if s.noise is None:
            s.id = f"s{len(streams) + 1}"
            streams.append(s)
        else:
            s.id = f"n{len(noise) + 1}"
            noise.append(s)
    return streams, noise, global_obs


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
