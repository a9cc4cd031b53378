"""The first step of the diagnosis: each file's observations grouped into *parts*, one per stream it saw.

Importers give one ``SourceRecord`` per file; inside a record, observations that share a ``stream_key``
are one ``SourcePart``: the stream as that one file saw it, with its own open, end, kind and data.
Lines of an *unkeyed* source (an access log, ``SOURCE_TABLE``) become one part each; observations with no
stream key (navigations, crashes, console lines, proxy reloads) are *global*. Nothing here looks at
another file: matching parts across files is ``match.py``, on a clock ``align.py`` refined.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from urllib.parse import urlsplit

import numpy as np
from tearline.analysis.evidence.observation import SOURCE_ROLES, UNKEYED_SOURCES, Observation, SourceRecord
from tearline.analysis.evidence.runs import RUN_KINDS, MessageRun, line_of, merge_in_order

__all__ = [
    "CONTROL_OPCODES",
    "DATA_KINDS",
    "END_KINDS",
    "GLOBAL_KINDS",
    "OPEN_KINDS",
    "DataSummary",
    "SourcePart",
    "source_parts",
    "url_path",
]

OPEN_KINDS: tuple[str, ...] = ("request_start", "ws_created", "ws_handshake_request")
END_KINDS: tuple[str, ...] = ("ws_closed", "request_done", "request_failed", "request_cancelled")
DATA_KINDS: dict[str, str] = {  # observation kind -> direction (who sent it)
    "data_received": "server",
    "data_sent": "client",
    "ws_frame_received": "server",
    "ws_frame_sent": "client",
}
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


@dataclass(frozen=True)
class DataSummary:
    """A part's data in one direction (``SourcePart.data``) as the rules read it, without one object per
    message: how many, their bytes, their times in data order, and the last one whole."""

    count: int
    bytes: int
    times: np.ndarray  # wall times, in the order of ``SourcePart.data`` (time, then file order)
    last: Observation | None  # the last message or chunk, materialised

    @property
    def latest(self) -> float | None:
        """The latest time of them (``max``, as ``Stream.stats`` reports it)."""
        return float(self.times.max()) if self.count else None


@dataclass
class SourcePart:
    """One stream as one file saw it (one ``stream_key`` in one ``SourceRecord``)."""

    record: int  # index of the SourceRecord in the list given to build_streams
    source: str  # SourceRecord.name
    key: str | None
    obs: list[Observation] = field(default_factory=list)
    runs: list[MessageRun] = field(default_factory=list)  # its folded plain messages (``runs.py``)
    # of() and data() per question, computed once like the cached properties (obs is complete by then)
    _data: dict[str, list[Observation]] = field(default_factory=dict, init=False, repr=False, compare=False)
    _of: dict[tuple[str, ...], list[Observation]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _summary: dict[str, DataSummary] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def count(self) -> int:
        """How many observations the part holds, its folded messages included."""
        return len(self.obs) + sum(len(r) for r in self.runs)

    def all_obs(self) -> list[Observation]:
        """Its observations with the folded messages materialised, in time order (file order among equal times)."""
        return merge_in_order(self.obs, self.runs)

    def first_key(self) -> tuple[float, int]:
        """``(t, line)`` of its first observation in time order, folded messages included."""
        keys = [r.first_key() for r in self.runs]
        if self.obs:
            keys.append((self.obs[0].t, line_of(self.obs[0])))
        return min(keys)

    @cached_property
    def url(self) -> str | None:
        found = next(((o.t, line_of(o), o.url) for o in self.obs if o.url), None)
        for r in self.runs:
            if r.url and (found is None or r.first_key() < found[:2]):
                found = (*r.first_key(), r.url)
        return found[2] if found else None

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
            obs = self.all_obs() if self.runs and RUN_KINDS.intersection(kinds) else self.obs
            known = self._of[kinds] = [o for o in obs if o.kind in kinds]
        return list(known)

    def first_time(self, *kinds: str) -> float | None:
        """The earliest time of an observation of these kinds, folded messages included."""
        times = [o.t for o in self.obs if o.kind in kinds][:1]
        times += [float(r.t.min()) for r in self.runs if r.kind in kinds and len(r)]
        return min(times) if times else None

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
        if self.runs:
            return self.first_key()[0]
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
        if self.runs or any(o.kind.startswith("ws_") for o in self.obs):
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
            known = self._data[direction] = merge_in_order(self._find_data(direction), self._runs(direction))
        return list(known)

    def summary(self, direction: str) -> DataSummary:
        """``data(direction)`` as counts, bytes and times, the folded messages read as columns."""
        known = self._summary.get(direction)
        if known is None:
            known = self._summary[direction] = self._summarise(direction)
        return known

    def _runs(self, direction: str) -> list[MessageRun]:
        return [r for r in self.runs if r.direction == direction and len(r)]

    def _summarise(self, direction: str) -> DataSummary:
        obs, runs = self._find_data(direction), self._runs(direction)
        if not runs:
            times = np.array([o.t for o in obs], dtype=float)
            return DataSummary(len(obs), sum(o.size or 0 for o in obs), times, obs[-1] if obs else None)
        run_t = np.concatenate([np.asarray(r.t) for r in runs])
        t = np.concatenate([np.array([o.t for o in obs], dtype=float), run_t])
        lines = np.concatenate([np.array([line_of(o) for o in obs], dtype=np.int64), *(r.line for r in runs)])
        order = np.lexsort((lines, t))
        last = int(order[-1])
        if last < len(obs):
            last_obs = obs[last]
        else:
            at = last - len(obs)
            for r in runs:
                if at < len(r):
                    last_obs = r.observation(at)
                    break
                at -= len(r)
        total = sum(o.size or 0 for o in obs) + sum(int(np.asarray(r.size).sum()) for r in runs)
        return DataSummary(len(t), total, t[order], last_obs)

    def _find_data(self, direction: str) -> list[Observation]:
        """The data observations in ``direction`` (not the folded messages: ``_runs``)."""
        out = []
        for o in self.obs:
            d = DATA_KINDS.get(o.kind)
            if d == direction and (o.text or "").lower() not in CONTROL_OPCODES:
                out.append(o)
        events = [o for o in out if o.event is not None]
        if events and len(events) < len(out) + sum(len(r) for r in self._runs(direction)):
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
        if rec.runs:
            for run in rec.runs:
                part = by_key.get(run.stream_key)
                if part is None:
                    part = by_key[run.stream_key] = SourcePart(record=i, source=rec.name, key=run.stream_key)
                part.runs.append(run)
            # in the order each stream was first seen, as without the runs
            parts.extend(sorted(by_key.values(), key=SourcePart.first_key))
            continue
        parts.extend(by_key.values())
    global_obs.sort(key=lambda o: o.t)
    return parts, global_obs
