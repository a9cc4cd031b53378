"""Matching parts from different files into clusters: the same stream as each source saw it.

A part (``parts.py``) joins the cluster with the same URL path (hosts differ between legs: a reverse proxy
rewrites them) whose open time is closest to its own, within ``MATCH_WINDOW`` seconds, and that holds no
other part of the same file. Parts of the most trusted source go first (``source_priority``), so each
cluster grows around the browser's view. A CORS preflight (OPTIONS) never joins the POST it precedes.

Lines of an unkeyed source (a Caddy access log) carry no stream id: each joins the cluster with the same
path whose lifetime contains it, or whose open matches the line's own (its time minus its logged duration:
a proxy may log a WebSocket's end seconds after the browser's, once the upstream let go).

Used twice, on one clock each time: by ``align.py`` on the coarsely shifted clock (to measure each source's
fine offset) and by ``streams.py`` on the aligned clock (to build the streams). It only groups: what a
cluster is (its kind, whether it is noise) is ``streams.py``'s business.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from tearline.analysis.diagnose.parts import SourcePart, url_path
from tearline.analysis.evidence.observation import source_priority

__all__ = ["LIFETIME_SLACK", "MATCH_WINDOW", "cluster_open", "match_parts"]

MATCH_WINDOW = 3.0  # seconds: two sources' open times of the same stream differ by less than this
LIFETIME_SLACK = 1.0  # seconds: an access line this long before a cluster's open may still belong to it

Cluster = list[SourcePart]


def cluster_open(parts: Sequence[SourcePart]) -> float | None:
    """When a cluster opened: the earliest keyed part's open, else any part's (an access line's own open)."""
    times = [t for p in parts if not p.unkeyed and (t := p.opened_at) is not None]
    if not times:
        times = [t for p in parts if (t := p.opened_at) is not None]
    return min(times) if times else None


def _join(
    part: SourcePart,
    best: Cluster | None,
    path: str | None,
    clusters: list[Cluster],
    by_path: dict[str | None, list[Cluster]],
) -> None:
    """Add ``part`` to the cluster ``best``, or open a new cluster (indexed by ``path``) when there is none."""
    if best is None:
        clusters.append([part])
        by_path.setdefault(path, []).append(clusters[-1])
    else:
        best.append(part)


def _keyed_match(part: SourcePart, candidates: list[Cluster]) -> Cluster | None:
    """The same-path cluster whose open is closest to ``part``'s, within ``MATCH_WINDOW``."""
    best: Cluster | None = None
    best_gap = MATCH_WINDOW
    t = part.opened_at
    if t is None:
        return None
    for cl in candidates:
        if any(p.record == part.record for p in cl):
            continue
        methods = {m for p in cl if (m := p.method)}
        if part.method and methods and part.method not in methods:
            continue  # a CORS preflight (OPTIONS) is not the POST it precedes
        ct = min((x for p in cl if (x := p.opened_at) is not None), default=None)
        if ct is None:
            continue
        gap = abs(ct - t)
        if gap < best_gap:
            best, best_gap = cl, gap
    return best


def _unkeyed_match(part: SourcePart, candidates: list[Cluster]) -> Cluster | None:
    """The same-path cluster whose lifetime contains the line, or whose open matches the line's own."""
    t = part.obs[0].t
    own_open = part.opened_at
    best: Cluster | None = None
    best_gap = math.inf
    for cl in candidates:
        start = min((x for p in cl if (x := p.opened_at) is not None), default=t)
        ends = [x for p in cl if (x := p.ended_at) is not None]
        end = max(ends) if ends else math.inf
        gaps = []
        if start - LIFETIME_SLACK <= t <= end + MATCH_WINDOW:
            gaps.append(abs(t - end) if ends else t - start)
        keyed = [x for p in cl if not p.unkeyed and (x := p.opened_at) is not None]
        if own_open is not None and keyed and abs(min(keyed) - own_open) < MATCH_WINDOW:
            gaps.append(abs(min(keyed) - own_open))
        if gaps and min(gaps) < best_gap:
            best, best_gap = cl, min(gaps)
    return best


def match_parts(parts: Sequence[SourcePart]) -> list[Cluster]:
    """Group ``parts`` (from ``source_parts``) into clusters, in the order each cluster was started."""
    ordered = sorted(
        (p for p in parts if not p.unkeyed),
        key=lambda p: (source_priority(p.source), p.opened_at or 0.0),
    )
    clusters: list[Cluster] = []
    by_path: dict[str | None, list[Cluster]] = {}  # index: only same-path clusters are candidates
    for part in ordered:
        path = url_path(part.url)
        candidates = by_path.get(path, []) if path is not None else []
        _join(part, _keyed_match(part, candidates), path, clusters, by_path)
    # lines that know their own open (access lines) first: the others (an abort) then join by lifetime
    for part in sorted((p for p in parts if p.unkeyed), key=lambda p: p.opened_at is None):
        path = url_path(part.url)
        _join(part, _unkeyed_match(part, by_path.get(path, [])), path, clusters, by_path)
    return clusters
