"""The diagnosis's aligned timeline: every observation (and every folded message) as one row, with the
stream it belongs to. ``Diagnosis.timeline`` builds it when first read (the report draws it; ``diagnose
--json`` never needs it). Columns: ``TIMELINE_COLUMNS`` (documented on ``model.Diagnosis``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from tearline.analysis.diagnose.streams import Stream
from tearline.analysis.evidence.observation import Observation, SourceRecord
from tearline.analysis.evidence.runs import MessageRun, line_of

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["TIMELINE_COLUMNS", "timeline_frame"]

TIMELINE_COLUMNS = ("t", "source", "stream", "leg", "kind", "direction", "size", "code", "text", "url")


# Observation kinds that say a stream ended (for the timeline's choice of which end to draw).
_END_KINDS = frozenset(
    {"request_done", "request_failed", "request_cancelled", "ws_closed", "ws_close_sent", "ws_close_received"}
)


def _time_unknown(o: Observation) -> bool:
    """An end whose source does not know when it happened (a HAR failure with no receive timing)."""
    return o.kind in _END_KINDS and (o.time_note or "").startswith("end time unknown")


def timeline_frame(records: Sequence[SourceRecord], streams: Sequence[Stream]) -> pd.DataFrame:
    """All observations on the aligned clock, with the stream id each belongs to (None for global ones).

    An end whose source does not know its time (``_time_unknown``) is left out of the
    timeline when another source of the same stream saw the end with its time, so the
    picture does not show the end at the wrong moment; it stays in the evidence.
    A record's folded messages (``SourceRecord.runs``) are rows like any observation, built
    from their columns, in the order the unfolded record had them (time, then line).
    """
    import pandas as pd

    owner: dict[int, str] = {}
    run_owner: dict[int, str] = {}
    timed_end: set[str] = set()
    for s in streams:
        for p in s.parts:
            for o in p.obs:
                owner[id(o)] = s.id
                if o.kind in _END_KINDS and not _time_unknown(o):
                    timed_end.add(s.id)
            for r in p.runs:
                run_owner[id(r)] = s.id
    kept: list[Observation] = []
    order_keys: list[tuple[int, int]] = []  # (record, line) of each kept observation
    for i, rec in enumerate(records):
        for o in rec.observations:
            if not (o.kind in _END_KINDS and _time_unknown(o) and owner.get(id(o)) in timed_end):
                kept.append(o)
                order_keys.append((i, line_of(o) if rec.runs else 0))
    runs = [(i, r) for i, rec in enumerate(records) for r in rec.runs if len(r)]
    nan = math.nan
    columns: dict[str, Any] = {  # column by column: a million rows as tuples cost pandas seconds
        "t": np.array([o.t for o in kept], dtype=float),
        "source": [o.source for o in kept],
        "stream": [owner.get(id(o)) for o in kept],
        "leg": [o.leg for o in kept],
        "kind": [o.kind for o in kept],
        "direction": [o.direction for o in kept],
        "size": np.array([nan if o.size is None else o.size for o in kept], dtype=float),
        "code": np.array([nan if o.code is None else o.code for o in kept], dtype=float),
        "text": [o.text if o.text is not None else (o.error or o.reason or o.timer or o.url) for o in kept],
        "url": [o.url for o in kept],
    }
    n = len(kept) + sum(len(r) for _, r in runs)
    if runs:
        columns = _with_runs(columns, runs, run_owner)
        order = _time_order(columns["t"], order_keys, runs)
        columns = {k: v[order] for k, v in columns.items()}
    df = pd.DataFrame(columns if n else [], columns=list(TIMELINE_COLUMNS))
    if len(df) and not runs:
        df = df.sort_values("t", kind="stable").reset_index(drop=True)
    return df


def _time_order(
    t: np.ndarray, order_keys: list[tuple[int, int]], runs: list[tuple[int, MessageRun]]
) -> np.ndarray:
    """The rows' order by time, then as the unfolded records had them (record, line, then the order
    of observations made from one line). Equal times are rare: a stable sort by time alone, unless
    the sorted times hold a tie."""
    order = np.argsort(t, kind="stable")
    if not (np.diff(t[order]) == 0).any():
        return order
    lengths = np.array([len(r) for _, r in runs])
    record = np.concatenate(
        [np.array([k[0] for k in order_keys], dtype=np.int64), np.repeat([i for i, _ in runs], lengths)]
    )
    line = np.concatenate([np.array([k[1] for k in order_keys], dtype=np.int64), *(r.line for _, r in runs)])
    return np.lexsort((np.arange(len(t)), line, record, t))


def _with_runs(
    columns: dict[str, Any], runs: list[tuple[int, MessageRun]], run_owner: dict[int, str]
) -> dict[str, Any]:
    """The timeline's columns with the runs' messages appended (constant columns repeated per run)."""
    lengths = np.array([len(r) for _, r in runs])

    def repeat(values: list[Any]) -> np.ndarray:
        column = np.empty(len(values), dtype=object)
        column[:] = values
        return np.repeat(column, lengths)

    def objects(values: list[Any]) -> np.ndarray:
        column = np.empty(len(values), dtype=object)
        column[:] = values
        return column

    return {
        "t": np.concatenate([columns["t"], *(np.asarray(r.t) for _, r in runs)]),
        "source": np.concatenate([objects(columns["source"]), repeat(["capture"] * len(runs))]),
        "stream": np.concatenate(
            [objects(columns["stream"]), repeat([run_owner.get(id(r)) for _, r in runs])]
        ),
        "leg": np.concatenate([objects(columns["leg"]), repeat([r.leg for _, r in runs])]),
        "kind": np.concatenate([objects(columns["kind"]), repeat([r.kind for _, r in runs])]),
        "direction": np.concatenate([objects(columns["direction"]), repeat([r.direction for _, r in runs])]),
        "size": np.concatenate([columns["size"], *(np.asarray(r.size, dtype=float) for _, r in runs)]),
        "code": np.concatenate([columns["code"], np.full(int(lengths.sum()), math.nan)]),
        "text": np.concatenate([objects(columns["text"]), repeat(["text"] * len(runs))]),
        "url": np.concatenate([objects(columns["url"]), repeat([r.url for _, r in runs])]),
    }
