"""Which lane of the swimlane timeline each timeline row belongs to (pure pandas).

A *lane* is one viewpoint on one stream:

=========  ==========================================================================
view       rows
=========  ==========================================================================
browser    what the browser saw of the stream (NetLog, DevTools, HAR, console rows
           that carry a stream id)
client     a tearline capture's client leg (browser to proxy)
server     a tearline capture's server leg (proxy to upstream)
page       rows with no stream: navigations, crashes, console messages
caddy      every Caddy log row, on one lane of its own
=========  ==========================================================================

``df_lanes`` lists the lanes top to bottom; ``lane_of_rows`` gives every
timeline row its lane's ``y``. Both are vectorised so that a million rows take
well under a second.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

__all__ = [
    "GROUP_GAP",
    "PAGE_KINDS",
    "TICK_DIRECTION",
    "TIMELINE_COLUMNS",
    "VIEW_LABELS",
    "df_drawable",
    "df_lanes",
    "lane_of_rows",
    "normalize_timeline",
    "tick_direction",
]

# The columns model.Diagnosis.timeline documents.
TIMELINE_COLUMNS: tuple[str, ...] = (
    "t",
    "source",
    "stream",
    "leg",
    "kind",
    "direction",
    "size",
    "code",
    "text",
    "url",
)

# Observation kinds drawn as message/chunk ticks, and the direction a kind implies
# when the row has none ("client" = sent by the browser, "server" = sent by the server).
TICK_DIRECTION: dict[str, str] = {
    "ws_frame_sent": "client",
    "ws_frame_received": "server",
    "data_sent": "client",
    "data_received": "server",
}

# Rows without a stream that are drawn on the page lane; other stream-less rows
# (ordinary requests, background noise) are left out of the picture.
PAGE_KINDS: frozenset[str] = frozenset(
    {"navigation", "page_crash", "console", "request_failed", "socket_error", "h2_goaway", "ws_error"}
)
# Errors that are background noise when no stream owns them (see docs/diagnosis.md).
NOISE_TEXT = r"ERR_NAME_NOT_RESOLVED|ERR_WS_UPGRADE|ERR_ADDRESS_UNREACHABLE"

GROUP_GAP = 0.5  # extra lane units above each stream's lanes, where its title goes

VIEW_LABELS: dict[str, str] = {
    "page": "page",
    "browser": "browser",
    "client": "client leg",
    "server": "server leg",
    "caddy": "Caddy log",
}
_SHARED = (
    "\u2400shared"  # stream key of the lanes all streams share (page, Caddy); not a NUL: numpy strips those
)
_VIEW_ORDER: dict[str, int] = {"browser": 0, "client": 1, "server": 2}


_NORMALIZED = "tearline_normalized"  # DataFrame.attrs flags (kept by pandas through filtering and copies)
_DRAWABLE = "tearline_drawable"


def normalize_timeline(timeline: pd.DataFrame | None) -> pd.DataFrame:
    """The timeline with every documented column present, ``t`` as float and
    rows without a time dropped; sorted by ``t``. Never modifies its input;
    a frame this function returned (or a filtered part of it) comes back as is."""
    if timeline is None:
        timeline = pd.DataFrame()
    if timeline.attrs.get(_NORMALIZED):
        return timeline
    # a shallow copy: pandas' copy-on-write keeps the caller's frame untouched
    tl = timeline.copy(deep=False) if len(timeline.columns) else pd.DataFrame(columns=list(TIMELINE_COLUMNS))
    for col in TIMELINE_COLUMNS:
        if col not in tl.columns:
            tl[col] = np.nan if col in ("t", "size", "code") else None
    if tl["t"].dtype != np.float64:
        tl["t"] = pd.to_numeric(tl["t"], errors="coerce").astype(float)
    finite = np.isfinite(tl["t"].to_numpy())
    if not finite.all():
        tl = tl[finite]
    if not tl["t"].is_monotonic_increasing:
        tl = tl.sort_values("t", kind="stable")
    tl = tl.reset_index(drop=True)
    tl.attrs[_NORMALIZED] = True
    return tl


def _col(tl: pd.DataFrame, name: str) -> np.ndarray:
    """A column as an object array (missing values stay None/NaN); fast to compare."""
    return tl[name].to_numpy(dtype=object)


def df_drawable(timeline: pd.DataFrame | None) -> pd.DataFrame:
    """The normalized timeline without the stream-less rows a person need not see:
    only ``PAGE_KINDS`` stay on the page lane, minus background-noise errors; every
    Caddy row and every row of a stream stays."""
    tl = normalize_timeline(timeline)
    if tl.attrs.get(_DRAWABLE):
        return tl
    loose = pd.isna(_col(tl, "stream")) & (_col(tl, "source") != "caddy")
    keep = np.ones(len(tl), dtype=bool)
    if loose.any():
        idx = np.flatnonzero(loose)
        sub = tl.iloc[idx]
        keep_kind = sub["kind"].isin(list(PAGE_KINDS)).to_numpy()
        noise = (
            sub["text"].astype("string").str.contains(NOISE_TEXT, regex=True, na=False).to_numpy(dtype=bool)
        )
        keep[idx] = keep_kind & ~noise
    # a new frame either way, so the flag never lands on the caller's (copy-on-write shares the data)
    tl = tl.copy(deep=False) if keep.all() else tl[keep].reset_index(drop=True)
    tl.attrs[_DRAWABLE] = True
    return tl


def _views(tl: pd.DataFrame) -> np.ndarray:
    """The view (see module docstring) of every row."""
    leg = _col(tl, "leg")
    is_leg = (leg == "client") | (leg == "server")
    view = np.where(pd.isna(_col(tl, "stream")), "page", np.where(is_leg, leg, "browser"))
    return np.where(_col(tl, "source") == "caddy", "caddy", view).astype(object)


def tick_direction(tl: pd.DataFrame) -> np.ndarray:
    """Per row: ``"client"``/``"server"`` for message ticks, ``""`` for other rows.

    A row's own ``direction`` wins over the one its kind implies."""
    implied = tl["kind"].map(TICK_DIRECTION).to_numpy(dtype=object)
    is_tick = ~pd.isna(implied)
    own = _col(tl, "direction")
    own_ok = (own == "client") | (own == "server")
    return np.where(is_tick, np.where(own_ok, own, implied), "").astype(object)


def df_lanes(timeline: pd.DataFrame, stream_order: Iterable[str] = ()) -> pd.DataFrame:
    """The lanes to draw, top to bottom.

    :returns: a DataFrame with one row per lane and columns
        * ``y`` (float): the lane's height on the plot; the top lane has the largest ``y``;
          lanes are 1 apart, with ``GROUP_GAP`` more above each stream's first lane
          (room for the stream's title)
        * ``stream`` (str|None): the stream id, None for the page and Caddy lanes
        * ``view`` (str): ``page``, ``browser``, ``client``, ``server`` or ``caddy``
        * ``label`` (str): what the lane is called on the y axis
        * ``rows`` (int): how many timeline rows fall on it

    Streams come in ``stream_order`` first (streams there without rows still get a
    lane), then any others in order of their first row; the page lane is on top,
    the Caddy lane at the bottom.
    """
    tl = normalize_timeline(timeline)
    keys = pd.DataFrame({"stream": _col(tl, "stream"), "view": _views(tl), "t": tl["t"].to_numpy()})
    grouped = keys.groupby(["view", "stream"], dropna=False, sort=False).agg(
        rows=("t", "size"), first=("t", "min")
    )
    grouped = grouped.reset_index()
    order = list(dict.fromkeys(stream_order))
    firsts = grouped.dropna(subset=["stream"]).groupby("stream")["first"].min().sort_values()
    order += [s for s in firsts.index if s not in order]
    lanes: list[tuple[str | None, str, int]] = []
    page = grouped[grouped["view"] == "page"]["rows"].sum()
    if page:
        lanes.append((None, "page", int(page)))
    for sid in order:
        mine = grouped[(grouped["stream"] == sid) & grouped["view"].isin(list(_VIEW_ORDER))]
        if mine.empty:
            lanes.append((sid, "browser", 0))
            continue
        for view in sorted(mine["view"], key=_VIEW_ORDER.__getitem__):
            lanes.append((sid, view, int(mine[mine["view"] == view]["rows"].sum())))
    caddy = grouped[grouped["view"] == "caddy"]["rows"].sum()
    if caddy:
        lanes.append((None, "caddy", int(caddy)))
    ys: list[float] = []
    y = 0.0
    for i in reversed(range(len(lanes))):  # bottom up
        if i + 1 < len(lanes) and lanes[i + 1][0] != lanes[i][0] and lanes[i + 1][0] is not None:
            y += GROUP_GAP  # the lane below starts a new stream: leave room for its title
        ys.append(y)
        y += 1.0
    return pd.DataFrame(
        {
            "y": ys[::-1],
            "stream": [s for s, _, _ in lanes],
            "view": [v for _, v, _ in lanes],
            "label": [VIEW_LABELS[v] if s is None else f"{s} {VIEW_LABELS[v]}" for s, v, _ in lanes],
            "rows": [r for _, _, r in lanes],
        }
    )


def lane_of_rows(timeline: pd.DataFrame, lanes: pd.DataFrame) -> np.ndarray:
    """The ``y`` of the lane of every row of a *normalized* timeline, NaN for rows
    whose lane is not in ``lanes`` (for example a stream left out of the plot)."""
    views = _views(timeline)
    shared = (views == "page") | (views == "caddy")  # one lane for all streams
    stream_codes, stream_names = pd.factorize(np.where(shared, _SHARED, _col(timeline, "stream")))
    view_codes, view_names = pd.factorize(views)
    stream_index = {name: i for i, name in enumerate(stream_names)}
    view_index = {name: i for i, name in enumerate(view_names)}
    lut = np.full(max(len(stream_names), 1) * max(len(view_names), 1), np.nan)
    for sid, view, y in zip(lanes["stream"], lanes["view"], lanes["y"], strict=True):
        key = sid if isinstance(sid, str) else _SHARED
        if key in stream_index and view in view_index:
            lut[stream_index[key] * len(view_names) + view_index[view]] = y
    combined = stream_codes * len(view_names) + view_codes
    return np.where(combined >= 0, lut[np.maximum(combined, 0)], np.nan)
