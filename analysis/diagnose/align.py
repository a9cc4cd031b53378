"""One clock: refine each source's wall-clock offset by matching the same stream in two sources.

Every importer already put its file on the wall clock by its own rule (NetLog
``timeTickOffset``, CDP ``wallTime - timestamp``, HAR and log times). Those
rules can disagree: a proxy on another host, a NetLog whose offset was taken
before the machine slept. ``estimate_offsets`` compares *anchor* times of
the same stream (same URL path) seen by a reference source and by each other
source: the stream's open (request start, WebSocket creation or handshake)
and, for Caddy logs (written when a request finishes), its end.

Two passes. A coarse offset per source is the median difference over the
densest cluster of all same-path anchor pairs (pairs within ``CLUSTER_WIDTH``
seconds of each other), so a skew of minutes is found and a reconnect to the
same URL does not drag it. Then the parts are matched (``match.match_parts``) on the coarsely
shifted clock and the fine offset is the median difference over the matched streams.
Offsets smaller than ``APPLY_THRESHOLD`` are reported but not applied: on one
host the sources share one clock and such a difference is the latency between
browser and proxy (a proxy sees a request after the browser sent it) or
logging granularity, not skew; shifting it would break cause and effect.
``residual_skew`` is the median disagreement left after the offset over the
matched streams (robust to one badly timed event such as CDP's
``webSocketCreated``, which carries no timestamp), or None when no stream was
seen by both sources.

Sources from one machine share one clock: when every URL is loopback or ``*.localhost``
(``on_one_machine``), a shift is applied only with strong evidence (``STRONG_PAIRS`` matched streams
agreeing within ``STRONG_SPREAD``), and never when it would put an effect before its cause (a Caddy
access line, written at a request's end, before the stream opened; a stream's open after its end).
``Alignment.refused`` says why a measured shift was not applied; the diagnosis notes it.

All times are seconds.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from tearline.analysis.diagnose.match import cluster_open, match_parts
from tearline.analysis.diagnose.parts import SourcePart, source_parts, url_path
from tearline.analysis.evidence.observation import UNKEYED_SOURCES, SourceRecord, source_priority

__all__ = [
    "APPLY_THRESHOLD",
    "CLUSTER_WIDTH",
    "Alignment",
    "apply_offsets",
    "estimate_offsets",
    "on_one_machine",
]

CLUSTER_WIDTH = 1.0  # seconds: candidate pair differences this close are one cluster
STRONG_PAIRS = 3  # on one machine, a shift needs at least this many matched streams agreeing ...
STRONG_SPREAD = 0.1  # ... within this residual (seconds)
CAUSALITY_SLACK = (
    0.05  # seconds: a shifted end may precede its stream's open by at most this (timestamps' grain)
)
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "[::1]", "localhost")
APPLY_THRESHOLD = 0.5  # seconds: smaller offsets are latency and logging granularity, not skew
MAX_PAIRS = 5000  # candidate pairs per source considered (guards against quadratic blow-up)


@dataclass(frozen=True)
class Alignment:
    """Per record (index in the list given): the offset applied and the skew left."""

    reference: int | None  # index of the reference record (offset 0 by definition)
    offsets: tuple[float, ...]  # seconds added to every observation of each record
    measured: tuple[float | None, ...]  # the median difference measured (applied or not)
    residual_skew: tuple[float | None, ...]  # seconds (median over matched streams), None when unmatched
    pairs: tuple[int, ...]  # matched anchor pairs per record
    refused: tuple[str | None, ...] = ()  # per record: why a measured shift was not applied, None otherwise


def _anchors(part: SourcePart) -> list[tuple[str, float]]:
    """(what, time) pairs this part offers for alignment."""
    path = url_path(part.url)
    if path is None:
        return []
    if part.unkeyed:
        access = part.first("access")
        return [("end", access.t)] if access is not None else []
    t = part.opened_at
    return [("open", t)] if t is not None else []


def _densest(diffs: list[float]) -> list[float]:
    """The largest group of values within CLUSTER_WIDTH of each other (sorted input not required)."""
    values = sorted(diffs)
    best: tuple[int, int] = (0, 0)
    j = 0
    for i in range(len(values)):
        while values[i] - values[j] > CLUSTER_WIDTH:
            j += 1
        if i - j > best[1] - best[0]:
            best = (j, i)
    return values[best[0] : best[1] + 1]


def _reference(records: Sequence[SourceRecord], parts: list[SourcePart]) -> int | None:
    present = {p.record for p in parts}
    candidates = [
        i
        for i in sorted(present, key=lambda i: source_priority(records[i].name))
        if records[i].name not in UNKEYED_SOURCES
    ]
    return candidates[0] if candidates else None


def _coarse(records: Sequence[SourceRecord], parts: list[SourcePart], ref: int) -> list[float]:
    """First pass: every pair of same-path anchors, densest cluster (finds skews of any size)."""
    ref_anchors: dict[str, list[tuple[str, float]]] = {}
    for p in parts:
        if p.record != ref or (path := url_path(p.url)) is None:
            continue
        if (t_open := p.opened_at) is not None:
            ref_anchors.setdefault(path, []).append(("open", t_open))
        if (t_end := p.ended_at) is not None:
            ref_anchors.setdefault(path, []).append(("end", t_end))
    diffs: dict[int, list[float]] = {}
    for p in parts:
        if p.record == ref:
            continue
        found = diffs.setdefault(p.record, [])
        for what, t in _anchors(p):
            for rwhat, rt in ref_anchors.get(url_path(p.url) or "", ()):
                if rwhat == what and len(found) < MAX_PAIRS:
                    found.append(rt - t)
    out = [0.0] * len(records)
    for i, found in diffs.items():
        if found:
            out[i] = statistics.median(_densest(found))
    return out


def estimate_offsets(records: Sequence[SourceRecord]) -> Alignment:
    """Measure each record's offset against the reference record (the most trusted browser source).

    Two passes: a coarse offset from every same-path pair (so a skew of minutes is
    found), then a fine one from the streams matched on the coarsely shifted clock
    (each stream's open, or for Caddy its end, against the reference's).
    """

    n = len(records)
    parts, _ = source_parts(records)
    ref = _reference(records, parts)
    if ref is None:
        return Alignment(None, (0.0,) * n, (None,) * n, (None,) * n, (0,) * n, (None,) * n)
    coarse = _coarse(records, parts, ref)
    shifted = apply_offsets(records, Alignment(ref, tuple(coarse), (), (), ()))
    # one record has no pairs to measure: the second pass would find none (a long capture's cost)
    clusters = sorted(match_parts(source_parts(shifted)[0]), key=_open_order) if n > 1 else []
    diffs: dict[int, list[float]] = {}
    # per record: (the part's anchor on its own clock, the reference stream's open and end) to test causality
    spans: dict[int, list[tuple[bool, float, float | None, float | None]]] = {}
    for cluster in clusters:
        ref_part = next((p for p in cluster if p.record == ref), None)
        if ref_part is None:
            continue
        for p in cluster:
            if p.record == ref:
                continue
            if p.unkeyed:
                access = p.first("access")
                mine, theirs = (access.t if access else None), ref_part.ended_at
            else:
                mine, theirs = p.opened_at, ref_part.opened_at
            if mine is not None and theirs is not None:
                diffs.setdefault(p.record, []).append(coarse[p.record] + theirs - mine)
                own = mine - coarse[p.record]  # on the record's own clock
                spans.setdefault(p.record, []).append((p.unkeyed, own, ref_part.opened_at, ref_part.ended_at))
    offsets = [0.0] * n
    measured: list[float | None] = [None] * n
    residual: list[float | None] = [None] * n
    refused: list[str | None] = [None] * n
    pairs = [0] * n
    measured[ref] = 0.0
    residual[ref] = 0.0
    one_machine = on_one_machine(records)
    for i, found in diffs.items():
        if not found:
            continue
        med = statistics.median(found)
        applied = med if abs(med) >= APPLY_THRESHOLD else 0.0
        spread = statistics.median(abs(d - med) for d in found)
        if applied and one_machine and (len(found) < STRONG_PAIRS or spread > STRONG_SPREAD):
            refused[i] = (
                f"every URL is on this machine (one clock) and only {len(found)} stream(s) within "
                f"{spread * 1000:.0f} ms support a {med:+.3f} s shift"
            )
            applied = 0.0
        if applied and (why := _breaks_causality(spans.get(i, []), applied)):
            refused[i] = why
            applied = 0.0
        measured[i] = med
        offsets[i] = applied
        residual[i] = statistics.median(abs(d - applied) for d in found)
        pairs[i] = len(found)
    return Alignment(ref, tuple(offsets), tuple(measured), tuple(residual), tuple(pairs), tuple(refused))


def _open_order(cluster: list[SourcePart]) -> float:
    t = cluster_open(cluster)
    return t if t is not None else math.inf


def on_one_machine(records: Sequence[SourceRecord]) -> bool:
    """Every URL the records name is on this machine (loopback or ``*.localhost``): they share one clock."""
    urls = {o.url for rec in records for o in rec.observations if o.url and "://" in o.url}
    urls |= {r.url for rec in records for r in rec.runs if r.url and "://" in r.url}
    hosts = {_host(url) for url in urls}  # each URL once: a capture names its URL on every message
    hosts.discard("")
    return bool(hosts) and all(h in LOOPBACK_HOSTS or h.endswith(".localhost") for h in hosts)


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def _breaks_causality(
    spans: list[tuple[bool, float, float | None, float | None]], shift: float
) -> str | None:
    """Why shifting by ``shift`` would put an effect before its cause, or None: an access line (an end)
    before its stream's open, or a stream's open after the reference saw it end."""
    for unkeyed, own, ref_open, ref_end in spans:
        t = own + shift
        if unkeyed and ref_open is not None and t < ref_open - CAUSALITY_SLACK:
            return f"a {shift:+.3f} s shift puts a logged end {ref_open - t:.3f} s before its stream opened"
        if not unkeyed and ref_end is not None and t > ref_end + CAUSALITY_SLACK:
            return f"a {shift:+.3f} s shift puts a stream's open {t - ref_end:.3f} s after it ended"
    return None


def apply_offsets(records: Sequence[SourceRecord], alignment: Alignment) -> list[SourceRecord]:
    """Copies of ``records`` with each record's offset added to its observation times."""
    out = []
    for rec, off in zip(records, alignment.offsets, strict=True):
        if off == 0.0:
            out.append(rec)
            continue
        out.append(
            SourceRecord(
                name=rec.name,
                path=rec.path,
                observations=[replace(o, t=o.t + off) for o in rec.observations],
                clock=rec.clock,
                offset=rec.offset + off,
                warnings=list(rec.warnings),
                meta=dict(rec.meta),
                runs=[r.shifted(off) for r in rec.runs],
            )
        )
    return out
