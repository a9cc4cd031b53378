import numpy as np
import pandas as pd
from tearline.analysis.report.lanes import (
    df_drawable,
    df_lanes,
    lane_of_rows,
    normalize_timeline,
    tick_direction,
)

from tests.report_samples import big_timeline, incident_timeline


def test_lanes_top_to_bottom_page_streams_legs_caddy():
    lanes = df_lanes(df_drawable(incident_timeline()), ["s1", "s2"])
    assert list(lanes["label"]) == [
        "page",
        "s1 browser",
        "s1 client leg",
        "s1 server leg",
        "s2 browser",
        "s2 client leg",
        "s2 server leg",
        "Caddy log",
    ]
    # one unit apart, plus GROUP_GAP above each stream's first lane for its title
    assert list(lanes["y"]) == [8.0, 6.5, 5.5, 4.5, 3.0, 2.0, 1.0, 0.0]


def test_every_row_gets_its_lane():
    tl = df_drawable(incident_timeline())
    lanes = df_lanes(tl, ["s1", "s2"])
    y = lane_of_rows(tl, lanes)
    assert not np.isnan(y).any()
    by_label = dict(zip(lanes["label"], lanes["y"], strict=True))
    caddy = tl["source"] == "caddy"
    assert set(y[caddy.to_numpy()]) == {by_label["Caddy log"]}  # Caddy rows of stream s2 too
    nav = (tl["kind"] == "navigation").to_numpy()
    assert set(y[nav]) == {by_label["page"]}
    s2_server = ((tl["stream"] == "s2") & (tl["leg"] == "server")).to_numpy()
    assert set(y[s2_server]) == {by_label["s2 server leg"]}


def test_one_leg_only_gives_one_leg_lane():
    tl = incident_timeline()
    tl = tl[~((tl["stream"] == "s2") & (tl["leg"] == "server"))]
    labels = list(df_lanes(df_drawable(tl), ["s1", "s2"])["label"])
    assert "s2 client leg" in labels and "s2 server leg" not in labels


def test_streams_in_order_given_then_by_first_row():
    lanes = df_lanes(df_drawable(incident_timeline()), ["s2", "s9"])
    streams = [s for s in lanes["stream"] if isinstance(s, str)]
    assert list(dict.fromkeys(streams)) == ["s2", "s9", "s1"]  # s9 has no rows but still a lane


def test_drawable_drops_noise_and_ordinary_requests_but_keeps_page_events():
    tl = df_drawable(incident_timeline())
    loose = tl[tl["stream"].isna() & (tl["source"] != "caddy")]
    assert set(loose["kind"]) == {"navigation", "console", "page_crash"}
    assert not tl["text"].astype(str).str.contains("ERR_NAME_NOT_RESOLVED").any()


def test_normalize_adds_missing_columns_and_sorts():
    tl = normalize_timeline(pd.DataFrame({"t": [3.0, 1.0, float("nan")], "kind": ["a", "b", "c"]}))
    assert list(tl["t"]) == [1.0, 3.0]
    for col in ("source", "stream", "leg", "direction", "size", "code", "text"):
        assert col in tl.columns
    assert normalize_timeline(None).empty


def test_tick_direction_prefers_the_rows_own_direction():
    tl = normalize_timeline(
        pd.DataFrame(
            {
                "t": [1.0, 2.0, 3.0, 4.0],
                "kind": ["ws_frame_sent", "data_received", "data_received", "ws_open"],
                "direction": [None, None, "client", "server"],
            }
        )
    )
    assert list(tick_direction(tl)) == ["client", "server", "client", ""]


def test_lane_assignment_of_a_million_rows_is_vectorised():
    tl = normalize_timeline(big_timeline(1_000_000))
    lanes = df_lanes(tl)
    y = lane_of_rows(tl, lanes)
    assert len(lanes) == 12  # 4 streams x (browser, client, server)
    assert not np.isnan(y).any()
    assert int(lanes["rows"].sum()) == 1_000_000
