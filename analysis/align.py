"""One clock: refine each source's wall-clock offset by matching the same stream in two sources.

Every importer already put its file on the wall clock by its own rule (NetLog
``timeTickOffset``, CDP ``wallTime - timestamp``, HAR and log times). Those
rules can disagree: a proxy on another host, a NetLog whose offset was taken
before the machine slept. ``estimate_offsets`` compares *anchor* times of
the same stream (same URL path) seen by a reference source and by each other
source: the stream's open (request start, WebSocket creation or handshake)
and, for Caddy logs (written when a request finishes), its end.

The offset of a source is the median difference over the densest cluster of
candidate pairs (pairs within ``CLUSTER_WIDTH`` seconds of each other), so a
reconnect to the same URL does not drag it. Offsets smaller than
``APPLY_THRESHOLD`` are reported but not applied: on one host the sources share
one clock and such a difference is the one-way latency between browser and
proxy, not skew. ``residual_skew`` is the largest disagreement left after the
offset (seconds), or None when no stream was seen by both sources.

All times are seconds.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace

from analysis.observation import SourceRecord
from analysis.streams import SOURCE_PRIORITY, SourcePart, source_parts, url_path

__all__ = ["APPLY_THRESHOLD", "CLUSTER_WIDTH", "Alignment", "apply_offsets", "estimate_offsets"]

CLUSTER_WIDTH = 1.0  # seconds: candidate pair differences this close are one cluster
APPLY_THRESHOLD = 0.05  # seconds: smaller offsets are latency, not skew
MAX_PAIRS = 5000  # candidate pairs per source considered (guards against quadratic blow-up)


@dataclass(frozen=True)
class Alignment:
    """Per record (index in the list given): the offset applied and the skew left."""

    reference: int | None  # index of the reference record (offset 0 by definition)
    offsets: tuple[float, ...]  # seconds added to every observation of each record
    measured: tuple[float | None, ...]  # the median difference measured (applied or not)
    residual_skew: tuple[float | None, ...]  # seconds, None when unmatched
    pairs: tuple[int, ...]  # matched anchor pairs per record


def _anchors(part: SourcePart) -> list[tuple[str, float]]:
    """(what, time) pairs this part offers for alignment."""
    path = url_path(part.url)
    if path is None:
        return []
    if part.source == "caddy":
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


def estimate_offsets(records: Sequence[SourceRecord]) -> Alignment:
    """Measure each record's offset against the reference record (the most trusted browser source)."""
    parts, _ = source_parts(records)
    by_record: dict[int, list[SourcePart]] = {}
    for p in parts:
        by_record.setdefault(p.record, []).append(p)
    candidates = [
        i
        for i in sorted(by_record, key=lambda i: SOURCE_PRIORITY.get(records[i].name, 9))
        if records[i].name != "caddy"
    ]
    n = len(records)
    if not candidates:
        return Alignment(None, (0.0,) * n, (None,) * n, (None,) * n, (0,) * n)
    ref = candidates[0]
    ref_anchors: dict[str, list[tuple[str, float]]] = {}
    for p in by_record[ref]:
        path = url_path(p.url)
        if path is None:
            continue
        t_open = p.opened_at
        if t_open is not None:
            ref_anchors.setdefault(path, []).append(("open", t_open))
        t_end = p.ended_at
        if t_end is not None:
            ref_anchors.setdefault(path, []).append(("end", t_end))
    offsets = [0.0] * n
    measured: list[float | None] = [None] * n
    residual: list[float | None] = [None] * n
    pairs = [0] * n
    residual[ref] = 0.0
    measured[ref] = 0.0
    for i in range(n):
        if i == ref or i not in by_record:
            continue
        diffs: list[float] = []
        for p in by_record[i]:
            path = url_path(p.url)
            for what, t in _anchors(p):
                for rwhat, rt in ref_anchors.get(path or "", ()):
                    if rwhat == what and len(diffs) < MAX_PAIRS:
                        diffs.append(rt - t)
        if not diffs:
            continue
        cluster = _densest(diffs)
        med = statistics.median(cluster)
        measured[i] = med
        applied = med if abs(med) >= APPLY_THRESHOLD else 0.0
        offsets[i] = applied
        residual[i] = max(abs(d - applied) for d in cluster)
        pairs[i] = len(cluster)
    return Alignment(ref, tuple(offsets), tuple(measured), tuple(residual), tuple(pairs))


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
            )
        )
    return out
