"""Swimlane timelines of a diagnosis: ``plot_swimlanes`` and ``plot_zoom``.

Both follow the ``plot_*(data, ax=None) -> Axes`` convention: they draw on the
Axes they are given (or on a new figure's) and return it, so callers can
overlay more. Figures for the report are composed in ``analysis/report/figures.py``.

Drawing stays cheap however large the timeline: every lane and direction of
message ticks is ONE ``LineCollection``, and past ``MAX_TICKS`` ticks a lane
becomes a density band (a histogram drawn as one filled step line); markers of
one kind are one scatter, binned to screen resolution when there are many. A
million rows therefore cost a few numpy passes, never a million artists.

Times: the swimlane's x axis is wall-clock UTC (matplotlib date numbers, days
since 1970-01-01); the zoom's is seconds relative to the stream's end.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib import dates as mdates
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter
from tearline.analysis.diagnose.model import Diagnosis, StreamDiagnosis
from tearline.analysis.report.lanes import (
    GROUP_GAP,
    df_drawable,
    df_lanes,
    lane_of_rows,
    normalize_timeline,
    tick_direction,
)
from tearline.analysis.report.plot_marks import MARKS, mark_category
from tearline.analysis.report.plot_style import DIRECTION_STYLE, PALETTE, cause_label, cause_style, plain

__all__ = [
    "MAX_TICKS",
    "chosen_streams",
    "plot_swimlanes",
    "plot_zoom",
    "stream_window",
    "to_datenum",
    "zoom_rows",
]

MAX_TICKS = 400  # per lane and direction; more than this become a density band
MAX_MARKERS = 1500  # per marker kind; more than this are binned to screen resolution
TICK_HEIGHT = 0.36  # lane units
BINS = 600  # density band / marker binning resolution across the x range


def to_datenum(t: np.ndarray | float) -> np.ndarray:
    """Epoch seconds to matplotlib date numbers (days since 1970-01-01 UTC)."""
    return np.asarray(t, dtype=float) / 86400.0


def _clock_label(xlim: tuple[float, float]) -> Callable[[float, int | None], str]:
    """Tick labels as UTC clock time, with as many decimals of a second as the span needs."""
    span_s = (xlim[1] - xlim[0]) * 86400.0
    cut = -7 if span_s >= 60 else (-5 if span_s >= 6 else (-4 if span_s >= 0.6 else -3))

    digits = {-7: 0, -5: 1, -4: 2, -3: 3}[cut]

    quantum = 10 ** (6 - digits)  # microseconds

    def label(x: float, _pos: int | None = None) -> str:
        us = round(x * 86400e6 / quantum) * quantum  # integer microseconds: no float 12.5999...
        stamp = pd.Timestamp(us, unit="us", tz="UTC").strftime("%H:%M:%S.%f")
        return stamp[:cut]

    return label


def _new_ax(height: float) -> Axes:
    fig = Figure(figsize=(12.0, height), layout="constrained")
    return fig.add_subplot()


def _band_polygon(edges: np.ndarray, tops: np.ndarray, base: float) -> np.ndarray:
    """The outline of a step histogram from ``base`` to ``tops`` over ``edges``, as (x, y) vertices."""
    xs = np.concatenate([[edges[0]], np.repeat(edges, 2)[1:-1], [edges[-1]]])
    ys = np.concatenate([[base], np.repeat(tops, 2), [base]])
    return np.column_stack([xs, ys])


def _draw_ticks(ax: Axes, x: np.ndarray, y: np.ndarray, dirs: np.ndarray, xlim: tuple[float, float]) -> bool:
    """Message ticks above (client) / below (server) each lane; returns True when a band was drawn.

    Each lane and direction is one ``LineCollection`` of ticks, or past ``MAX_TICKS``
    a band (a square-root scaled histogram); all bands of one direction are ONE
    ``PolyCollection`` (gid ``density-client`` / ``density-server``)."""
    is_tick = (dirs != "") & np.isfinite(y)
    if not is_tick.any():
        return False
    frame = pd.DataFrame({"x": x[is_tick], "y": y[is_tick], "d": dirs[is_tick]})
    edges = np.linspace(xlim[0], xlim[1], BINS + 1)
    bands: dict[str, list[np.ndarray]] = {}
    xs_all = frame["x"].to_numpy()
    groups: dict[tuple[float, str], np.ndarray] = frame.groupby(["y", "d"], sort=False).indices  # type: ignore[assignment]
    for (lane_y, direction), idx in groups.items():
        color, sign, _ = DIRECTION_STYLE[direction]
        xs = xs_all[idx]
        if len(xs) <= MAX_TICKS:
            ax.vlines(xs, lane_y, lane_y + sign * TICK_HEIGHT, colors=color, linewidth=0.9, alpha=0.9)
            continue
        counts, _ = np.histogram(xs, bins=edges)
        if counts.max() == 0:
            continue
        heights = TICK_HEIGHT * np.sqrt(counts / counts.max())
        bands.setdefault(direction, []).append(_band_polygon(edges, lane_y + sign * heights, float(lane_y)))
    for direction, polys in bands.items():
        color = DIRECTION_STYLE[direction][0]
        coll = PolyCollection(polys, facecolors=color, edgecolors="none", alpha=0.55, zorder=2)
        coll.set_gid(f"density-{direction}")
        ax.add_collection(coll, autolim=False)
    return bool(bands)


def _bin_points(x: np.ndarray, y: np.ndarray, xlim: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """At most one point per screen bin and lane, when there are too many to draw."""
    if len(x) <= MAX_MARKERS:
        return x, y
    width = (xlim[1] - xlim[0]) / (BINS * 2) or 1.0
    keys = pd.DataFrame({"b": np.floor((x - xlim[0]) / width), "y": y}).drop_duplicates()
    return xlim[0] + (keys["b"].to_numpy() + 0.5) * width, keys["y"].to_numpy()


@dataclass(frozen=True, slots=True)
class _Label:
    """A text to write beside a mark; placed later so that labels on one lane do not overlap."""

    x: float
    y: float
    text: str
    color: str
    bold: bool = False


def _place_labels(ax: Axes, labels: list[_Label], xlim: tuple[float, float], levels: int = 3) -> int:
    """Write labels above their marks, stacking up to ``levels`` rows per lane and
    dropping what still does not fit; bold labels are placed first. Returns how many were written."""
    fig = ax.get_figure(root=True)
    width_pt = (fig.get_figwidth() if fig is not None else 12.0) * 72 * ax.get_position().width
    per_pt = (xlim[1] - xlim[0]) / max(width_pt, 1.0)
    written = 0
    by_lane: dict[float, list[_Label]] = {}
    for lab in labels:
        by_lane.setdefault(lab.y, []).append(lab)
    for lane_labels in by_lane.values():
        taken: list[list[tuple[float, float]]] = [[] for _ in range(levels)]
        said: dict[str, float] = {}  # text -> x where it is already written on this lane
        for lab in sorted(lane_labels, key=lambda lb: (not lb.bold, lb.x)):
            size = 8.5 if lab.bold else 7.0
            w = (len(lab.text) * size * 0.62 + 8) * per_pt
            if lab.text in said and abs(said[lab.text] - lab.x) < w:
                continue  # the same words close by (two sources saying the same thing)
            said[lab.text] = lab.x
            left = lab.x + w > xlim[1]
            span = (lab.x - w, lab.x) if left else (lab.x, lab.x + w)
            for level, used in enumerate(taken):
                if all(span[1] <= a or span[0] >= b for a, b in used):
                    used.append(span)
                    ax.annotate(
                        lab.text,
                        (lab.x, lab.y),
                        xytext=(-5 if left else 5, 4 + 11 * level),
                        textcoords="offset points",
                        ha="right" if left else "left",
                        fontsize=size,
                        fontweight="bold" if lab.bold else "normal",
                        color=lab.color,
                        zorder=7,
                    )
                    written += 1
                    break
    return written


_METHOD = re.compile(r"[A-Z]{3,7}")


def _mark_text(tl: pd.DataFrame, i: int) -> str:
    """What to write beside mark ``i``: its URL for navigations (when the timeline has
    a ``url`` column), else its text unless that is a bare HTTP method, else its kind."""
    kind = str(tl["kind"].iat[i])
    url = tl["url"].iat[i] if "url" in tl.columns else None
    if kind == "navigation" and isinstance(url, str) and url:
        return f"→ {url}"
    text = tl["text"].iat[i]
    if isinstance(text, str) and text and not _METHOD.fullmatch(text):
        return text
    return kind.replace("_", " ")


def _draw_marks(
    ax: Axes, tl: pd.DataFrame, x: np.ndarray, y: np.ndarray, xlim: tuple[float, float], labels: list[_Label]
) -> set[str]:
    """Markers for non-tick rows (opens, closes, errors, navigations, Caddy lines); returns
    the categories drawn and adds the texts of the first few annotated marks per lane to ``labels``."""
    cats = mark_category(tl)
    drawn: set[str] = set()
    ok = np.isfinite(y)
    for cat, style in MARKS.items():
        sel = ok & (cats == cat)
        if not sel.any():
            continue
        px, py = _bin_points(x[sel], y[sel], xlim)
        ax.scatter(px, py, marker=style.marker, s=style.size, c=style.color, zorder=4, linewidths=1.2)
        drawn.add(cat)
        if style.annotate:
            _annotate_first(tl, np.flatnonzero(sel), x, y, style.color, labels)
    return drawn


def _annotate_first(
    tl: pd.DataFrame,
    idx: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    color: str,
    labels: list[_Label],
    per_lane: int = 3,
    most: int = 40,
) -> None:
    """Labels for the first ``per_lane`` marks of each lane that say something new: the same
    navigation seen by three sources is one label, so the next destination gets one too."""
    said: dict[float, set[str]] = {}
    lanes = len(np.unique(y[idx]))
    full = 0
    added = 0
    for i in idx:
        lane = float(y[i])
        texts = said.setdefault(lane, set())
        if len(texts) >= per_lane:
            continue
        text = plain(_mark_text(tl, i), 40)
        if text in texts:
            continue
        texts.add(text)
        labels.append(_Label(float(x[i]), lane, text, color))
        added += 1
        full += len(texts) == per_lane
        if added >= most or full == lanes:
            return


def _page_lines(ax: Axes, tl: pd.DataFrame, x: np.ndarray) -> None:
    """Navigations and crashes as faint vertical lines across every lane."""
    cats = mark_category(tl)
    for cat in ("navigation", "crash"):
        xs = x[cats == cat][:20]
        for xv in xs:
            ax.axvline(xv, color=MARKS[cat].color, linestyle=":", linewidth=1.0, alpha=0.7, zorder=1)


def _fault_spans(
    ax: Axes, tl: pd.DataFrame, x_of: Callable[[np.ndarray], np.ndarray], ends: dict[str, float], span: float
) -> bool:
    """Injected faults as shaded spans from the moment they fired to the end of their stream."""
    faults = tl[tl["kind"] == "fault"].head(50)
    for _, row in faults.iterrows():
        start = float(row["t"])
        stop = ends.get(str(row["stream"]), start) if isinstance(row["stream"], str) else start
        stop = max(stop, start + span * 0.006)
        x0, x1 = x_of(np.array([start, stop]))
        ax.axvspan(x0, x1, color=PALETTE["yellow"], alpha=0.35, zorder=0, linewidth=0)
    return not faults.empty


def _stream_lane_ys(lanes: pd.DataFrame, sid: str) -> np.ndarray:
    return lanes.loc[lanes["stream"] == sid, "y"].to_numpy(dtype=float)


def _draw_end(
    ax: Axes, s: StreamDiagnosis, lanes: pd.DataFrame, xv: float, labels: list[_Label] | None
) -> None:
    """The stream's end, marked by cause on each of its lanes; abnormal ends get a bold label."""
    style = cause_style(s.cause.kind)
    ys = _stream_lane_ys(lanes, s.id)
    if not len(ys):
        return
    size = 150 if s.abnormal else 60
    ax.scatter(
        np.full(len(ys), xv), ys, marker=style.marker, s=size, c=style.color, edgecolors="white", zorder=6
    )
    if labels is not None:
        text = plain(f"{cause_label(s.cause.kind)} ({s.cause.confidence:.0%})", 48)
        labels.append(_Label(xv, float(ys.max()), text, style.color, bold=True))


def _side(xv: float, xlim: tuple[float, float]) -> str:
    """Text alignment that keeps a label anchored at ``xv`` inside the axes."""
    where = (xv - xlim[0]) / ((xlim[1] - xlim[0]) or 1.0)
    return "center" if 0.3 < where < 0.7 else ("left" if where <= 0.3 else "right")


def _format_lanes(ax: Axes, lanes: pd.DataFrame) -> None:
    ax.set_yticks(lanes["y"].to_numpy(), [plain(v, 40) for v in lanes["label"]], fontsize=8)
    top = float(lanes["y"].max()) if len(lanes) else 0.0
    # headroom above the top lane for its stacked labels (or the first stream's title)
    ax.set_ylim(-0.7, top + 0.6 + (GROUP_GAP if lanes["stream"].notna().iloc[:1].all() else 0.6))
    ax.hlines(lanes["y"], 0, 1, transform=ax.get_yaxis_transform(), colors=PALETTE["light"], linewidth=0.8)
    # shade alternate streams so a stream's lanes read as one group
    for i, sid in enumerate(dict.fromkeys(s for s in lanes["stream"] if isinstance(s, str))):
        if i % 2 == 0:
            ys = _stream_lane_ys(lanes, sid)
            ax.axhspan(ys.min() - 0.5, ys.max() + 0.5 + GROUP_GAP, color="#F4F4F4", zorder=-1, linewidth=0)
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(axis="y", length=0)


def chosen_streams(d: Diagnosis | None, max_streams: int) -> list[StreamDiagnosis]:
    if d is None:
        return []
    ordered = sorted(
        d.streams, key=lambda s: (s.opened_at if s.opened_at is not None else float("inf"), s.id)
    )
    abnormal = [s for s in ordered if s.abnormal]
    keep = {s.id for s in abnormal[:max_streams]}
    for s in ordered:
        if len(keep) >= max_streams:
            break
        keep.add(s.id)
    return [s for s in ordered if s.id in keep]


def _legend(ax: Axes, extra: list[Line2D | Patch]) -> None:
    """The legend under the axes, clear of the tick labels and the axis label."""
    handles: list[Line2D | Patch] = [
        Line2D([], [], color=c, marker="|", linestyle="", markersize=9, label=lab)
        for c, _, lab in DIRECTION_STYLE.values()
    ]
    handles += extra
    ax.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        borderaxespad=4.2,  # font sizes below the axes: past the tick labels and the x label
        ncol=5,
        fontsize=7.5,
        frameon=False,
    )


def _focus(tl: pd.DataFrame, chosen: list[StreamDiagnosis]) -> tuple[float, float, int]:
    """The time range to draw: the streams' rows, opens and ends, widened by a quarter
    of their span on each side to take in nearby page and Caddy rows; rows further
    away (a proxy shutting down a minute later) are left out. Returns (start, end,
    rows left out); without streams, every row."""
    t = tl["t"].to_numpy()
    in_streams = t[tl["stream"].notna().to_numpy()]
    times = [float(in_streams.min()), float(in_streams.max())] if len(in_streams) else []
    times += [v for s in chosen for v in (s.opened_at, s.ended_at) if v is not None]
    if not times:
        return (float(t.min()), float(t.max()), 0) if len(t) else (0.0, 1.0, 0)
    lo, hi = min(times), max(times)
    margin = max(0.25 * (hi - lo), 0.5)
    near = t[(t >= lo - margin) & (t <= hi + margin)]
    if len(near):
        lo, hi = min(lo, float(near.min())), max(hi, float(near.max()))
    return lo, hi, int(len(t) - len(near))


def plot_swimlanes(data: Diagnosis | pd.DataFrame, ax: Axes | None = None, *, max_streams: int = 30) -> Axes:
    """One lane per stream and per recorded leg, on a wall-clock (UTC) axis.

    ``data`` is a ``Diagnosis`` (stream ends are then marked by cause and the first
    abnormal end is highlighted) or a bare timeline DataFrame (columns as in
    ``Diagnosis.timeline``). At most ``max_streams`` streams are drawn, abnormal
    ones first; the Axes' title says how many were left out.
    """
    d = data if isinstance(data, Diagnosis) else None
    tl = df_drawable(d.timeline if d is not None else data)  # type: ignore[arg-type]
    chosen = chosen_streams(d, max_streams)
    order = [s.id for s in chosen]
    if d is not None:
        known = {s.id for s in d.streams}
        left_out = known - set(order)
        if left_out:
            tl = tl[~tl["stream"].isin(list(left_out))].reset_index(drop=True)
    lanes = df_lanes(tl, order)
    if ax is None:
        ax = _new_ax(1.6 + 0.42 * max(len(lanes), 2))
    t0, t1, outside = _focus(tl, chosen)
    span = max(t1 - t0, 1e-3)
    xlim = (float(to_datenum(t0 - 0.03 * span)), float(to_datenum(t1 + 0.10 * span)))
    if lanes.empty:
        ax.text(0.5, 0.5, "no events in the timeline", ha="center", va="center", transform=ax.transAxes)
        return ax
    x = to_datenum(tl["t"].to_numpy())
    y = lane_of_rows(tl, lanes)
    _format_lanes(ax, lanes)
    banded = _draw_ticks(ax, x, y, tick_direction(tl), xlim)
    labels: list[_Label] = []
    cats = _draw_marks(ax, tl, x, y, xlim, labels)
    _page_lines(ax, tl, x)
    ends = {s.id: s.ended_at for s in chosen if s.ended_at is not None}
    faulted = _fault_spans(ax, tl, to_datenum, ends, span)
    first = d.first_abnormal if d is not None else None
    for s in chosen:
        if s.ended_at is not None:
            _draw_end(ax, s, lanes, float(to_datenum(s.ended_at)), labels if s.abnormal else None)
        ys = _stream_lane_ys(lanes, s.id)
        if len(ys):
            ax.text(
                0.002,
                ys.max() + 0.5 + GROUP_GAP * 0.7,
                plain(f"{s.id}  {s.kind}  {s.url}", 110),
                transform=ax.get_yaxis_transform(),
                fontsize=7.5,
                fontweight="bold",
                color="#444444",
                va="center",
                zorder=3,
            )
    if first is not None and first.ended_at is not None and first.id in ends:
        xv = float(to_datenum(first.ended_at))
        ax.axvline(xv, color=PALETTE["vermillion"], linewidth=1.6, alpha=0.8, zorder=2)
        stamp = pd.Timestamp(first.ended_at, unit="s", tz="UTC").strftime("%H:%M:%S.%f")[:-3]
        ax.annotate(
            plain(f"first fault: {first.id} at {stamp} UTC — {cause_label(first.cause.kind)}", 100),
            (xv, 1.0), xycoords=("data", "axes fraction"), xytext=(0, 4), textcoords="offset points",
            ha=_side(xv, xlim), va="bottom", fontsize=9, fontweight="bold", color=PALETTE["vermillion"],
        )  # fmt: skip
    ax.set_xlim(*xlim)
    _place_labels(ax, labels, xlim)
    ax.xaxis.set_major_locator(mdates.AutoDateLocator(tz="UTC", minticks=4, maxticks=9))  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_formatter(FuncFormatter(_clock_label(xlim)))
    day = pd.Timestamp(t0, unit="s", tz="UTC").strftime("%Y-%m-%d")
    ax.set_xlabel(f"wall-clock time, UTC, {day}", fontsize=8)
    extra: list[Line2D | Patch] = []
    if banded:
        extra.append(Patch(color=PALETTE["grey"], alpha=0.55, label="message density (too many to draw)"))
    extra += [MARKS[c].handle() for c in MARKS if c in cats]
    if faulted:
        extra.append(Patch(color=PALETTE["yellow"], alpha=0.35, label="injected fault"))
    for kind in dict.fromkeys(s.cause.kind for s in chosen if s.ended_at is not None):
        st = cause_style(kind)
        extra.append(Line2D([], [], marker=st.marker, color=st.color, linestyle="", markersize=8,
                            label=f"end: {cause_label(kind)}"))  # fmt: skip
    if d is not None and len(d.streams) > len(chosen):
        extra.append(Patch(color="none", label=f"({len(d.streams) - len(chosen)} more streams not drawn)"))
    if outside:
        extra.append(Patch(color="none", label=f"({outside} events far from the streams not drawn)"))
    _legend(ax, extra)
    return ax


def stream_window(d: Diagnosis, s: StreamDiagnosis, last_frames: int = 8) -> tuple[float, float, float]:
    """The zoom window around a stream's end: ``(start, end, stop)`` in epoch seconds.

    It reaches back to the ``last_frames``-th last message on any of the stream's
    legs (so the silence before the end is inside it), at least 1 s, and takes in
    the evidence and any rows of the stream after ``end`` that are within a minute of it."""
    tl = normalize_timeline(d.timeline)
    mine = tl[tl["stream"] == s.id]
    end = s.ended_at if s.ended_at is not None else (float(mine["t"].max()) if len(mine) else 0.0)
    ticks = mine[(tick_direction(mine) != "") & (mine["t"].to_numpy() <= end)]
    start = end - 1.0
    if len(ticks):
        tail = ticks.groupby(ticks["leg"].fillna("-"), sort=False).tail(last_frames)
        start = min(start, float(tail["t"].min()))
    near = [float(e.t) for e in s.cause.evidence if e.t is not None and abs(float(e.t) - end) <= 60.0]
    near += [float(t) for t in mine["t"] if end < t <= end + 60.0]
    start = max(min([start, *near]), end - 600.0)
    latest = max([end, *near])
    stop = latest + max(0.12 * (latest - start), 0.25)
    return start, end, stop


def zoom_rows(d: Diagnosis, stream_id: str, start: float, stop: float) -> pd.DataFrame:
    """The drawable rows from ``start`` to ``stop`` (epoch s) of one stream and of no stream."""
    tl = df_drawable(d.timeline)
    t = tl["t"].to_numpy()
    part = tl.iloc[int(np.searchsorted(t, start, side="left")) : int(np.searchsorted(t, stop, side="right"))]
    stream = part["stream"].to_numpy(dtype=object)
    rows: pd.DataFrame = part[(stream == stream_id) | pd.isna(stream)]
    return rows.reset_index(drop=True)


def plot_zoom(
    d: Diagnosis,
    stream_id: str,
    ax: Axes | None = None,
    *,
    last_frames: int = 8,
    window: tuple[float, float, float] | None = None,
) -> Axes:
    """The moments before one stream's end: its lanes, the page and Caddy lanes,
    the silence on each leg before the end, and one lane per source whose
    evidence names the cause (numbered markers; ``figures.zoom_figure`` prints
    the numbered lines beside it). x = seconds relative to the end.
    ``window`` is ``stream_window``'s answer when the caller has it already."""
    s = next((st for st in d.streams if st.id == stream_id), None)
    if s is None:
        raise KeyError(f"no stream {stream_id!r} in this diagnosis")
    start, end, stop = window or stream_window(d, s, last_frames)
    tl = zoom_rows(d, s.id, start, stop)
    lanes = df_lanes(tl, [s.id])
    sources = list(dict.fromkeys(e.source for e in s.cause.evidence if e.t is not None))
    ev_lanes = pd.DataFrame({"stream": None, "view": "said", "label": [f"{src} said" for src in sources],
                             "rows": 0})  # fmt: skip
    lanes = pd.concat([lanes, ev_lanes], ignore_index=True) if sources else lanes
    lanes["y"] = np.arange(len(lanes))[::-1]
    if ax is None:
        ax = _new_ax(1.4 + 0.45 * len(lanes))
    xlim = (start - end - 0.02 * (stop - start), stop - end)
    x = tl["t"].to_numpy() - end
    y = lane_of_rows(tl, lanes[lanes["view"] != "said"])
    _format_lanes(ax, lanes)
    _draw_ticks(ax, x, y, tick_direction(tl), xlim)
    labels: list[_Label] = []
    _draw_marks(ax, tl, x, y, xlim, labels)
    _page_lines(ax, tl, x)
    _fault_spans(ax, tl, lambda a: a - end, {s.id: end}, stop - start)
    # the silence before the end on each leg
    dirs = tick_direction(tl)
    for lane_y in _stream_lane_ys(lanes, s.id):
        ticks = x[(y == lane_y) & (dirs != "") & (x <= 0)]
        if len(ticks) and -ticks.max() > 0.03 * (stop - start):
            last = float(ticks.max())
            ax.fill_between([last, 0], lane_y - 0.3, lane_y + 0.3, facecolor="none", hatch="///",
                            edgecolor=PALETTE["grey"], linewidth=0, zorder=1)  # fmt: skip
            labels.append(_Label(last, float(lane_y), f"silent {-last:.3g} s", "#444444"))
    style = cause_style(s.cause.kind)
    ax.axvline(0, color=style.color, linewidth=1.8, zorder=2)
    _draw_end(ax, s, lanes, 0.0, labels)
    for n, e in enumerate((e for e in s.cause.evidence if e.t is not None), start=1):
        lane_y = float(lanes.loc[lanes["label"] == f"{e.source} said", "y"].iloc[0])
        xv = min(max(float(e.t) - end, xlim[0]), xlim[1])  # type: ignore[arg-type]
        ax.scatter([xv], [lane_y], marker="o", s=170, c=PALETTE["black"], zorder=6)
        ax.text(xv, lane_y, str(n), color="white", ha="center", va="center", fontsize=7, fontweight="bold",
                zorder=7)  # fmt: skip
    ax.set_xlim(*xlim)
    _place_labels(ax, labels, xlim)
    stamp = pd.Timestamp(end, unit="s", tz="UTC").strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    ax.set_xlabel(f"seconds relative to the end of {plain(s.id, 20)} (0 = {stamp} UTC)", fontsize=8)
    return ax
