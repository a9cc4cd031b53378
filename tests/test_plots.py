"""plot_swimlanes / plot_zoom on hand-made diagnoses (see tests/report_samples.py).

Real recordings are drawn in tests/test_report.py and tests/test_report_safety.py."""

import io

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.text import Text
from tearline.analysis.report.plots import MAX_TICKS, plot_swimlanes, plot_zoom, stream_window

from tests.report_samples import T0, big_diagnosis, incident


def texts(ax) -> list[str]:
    return [t.get_text() for t in ax.figure.findobj(Text)]


def draw(ax) -> np.ndarray:
    buf = io.BytesIO()
    ax.figure.savefig(buf, format="png")
    buf.seek(0)
    return mpimg.imread(buf)


def test_swimlanes_one_lane_per_stream_and_leg():
    ax = plot_swimlanes(incident())
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["page", "s1 browser", "s1 client leg", "s1 server leg", "s2 browser", "s2 client leg",
                      "s2 server leg", "Caddy log"]  # fmt: skip
    draw(ax)


def test_swimlanes_marks_the_first_abnormal_end_and_its_cause():
    ax = plot_swimlanes(incident())
    all_text = " ".join(texts(ax))
    assert "first fault: s2 at 14:13:25.210 UTC" in all_text
    assert "page went away (85%)" in all_text
    assert "end: clean close" in all_text  # legend names the causes drawn
    lines = [ln for ln in ax.get_lines() if ln.get_xdata()[0] == pytest.approx((T0 + 5.21) / 86400)]
    assert lines, "a vertical line at the first abnormal end"


def test_ticks_go_up_for_the_browser_and_down_for_the_server():
    ax = plot_swimlanes(incident())
    ys = {t.get_text(): y for t, y in zip(ax.get_yticklabels(), ax.get_yticks(), strict=True)}
    ups, downs = 0, 0
    for coll in ax.findobj(LineCollection):
        for seg in coll.get_segments():
            if len(seg) == 2 and seg[0][0] == seg[1][0] and seg[0][1] in ys.values():
                ups += seg[1][1] > seg[0][1]
                downs += seg[1][1] < seg[0][1]
    assert ups == 30  # s1 client leg: 30 frames the browser sent
    assert downs == 30 + 30 + 30 + 60 * 3


def test_wall_clock_axis_has_readable_utc_labels():
    ax = plot_swimlanes(incident())
    ax.figure.canvas.draw()
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert labels and all(lab.startswith("14:13:") for lab in labels)
    assert "UTC" in ax.get_xlabel()


def test_injected_fault_is_a_shaded_span_until_the_stream_ends():
    ax = plot_swimlanes(incident())
    spans = [
        p for p in ax.patches if p.get_facecolor()[:3] == pytest.approx((0xF0 / 255, 0xE4 / 255, 0x42 / 255))
    ]
    assert len(spans) == 1
    x0, x1 = spans[0].get_x(), spans[0].get_x() + spans[0].get_width()
    assert x0 == pytest.approx((T0 + 2.0) / 86400) and x1 == pytest.approx((T0 + 5.21) / 86400)


def test_events_far_from_the_streams_are_left_out_and_counted():
    d = incident()
    far = d.timeline.iloc[[0]].assign(t=T0 + 3600.0, source="caddy", kind="proxy_reload", stream=None)
    d.timeline = pd.concat([d.timeline, far], ignore_index=True)
    ax = plot_swimlanes(d)
    assert ax.get_xlim()[1] < (T0 + 60) / 86400
    assert "(1 events far from the streams not drawn)" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_hostile_text_draws_without_mathtext_or_markup_errors():
    ax = plot_swimlanes(incident())
    img = draw(ax)
    assert img.shape[0] > 100
    joined = " ".join(texts(ax))
    assert "SECRET1" not in joined and "SECRET2" not in joined


def test_draws_on_a_given_axes_and_accepts_a_bare_timeline():
    ax = Figure().add_subplot()
    d = incident()
    assert plot_swimlanes(d.timeline, ax) is ax
    draw(ax)


def test_empty_timeline_says_so():
    d = incident()
    d.timeline = d.timeline.iloc[0:0]
    d.streams = []
    ax = plot_swimlanes(d)
    assert "no events in the timeline" in texts(ax)


def test_a_million_rows_are_aggregated_into_few_artists():
    d = big_diagnosis(1_000_000)
    ax = plot_swimlanes(d)
    bands = {c.get_gid(): c for c in ax.collections if (c.get_gid() or "").startswith("density-")}
    assert set(bands) == {"density-client", "density-server"}
    assert [len(c.get_paths()) for c in bands.values()] == [4 * 3, 4 * 3]  # every lane, both directions
    assert len(ax.collections) < 40 and len(ax.patches) < 60
    draw(ax)


def test_few_ticks_stay_ticks():
    d = big_diagnosis(MAX_TICKS)  # spread over 12 lane-directions: all below the threshold
    ax = plot_swimlanes(d)
    assert not [c for c in ax.collections if (c.get_gid() or "").startswith("density-")]


def test_too_many_streams_are_left_out_abnormal_first():
    d = big_diagnosis(2000, streams=8)
    ax = plot_swimlanes(d, max_streams=3)
    labels = {t.get_text().split()[0] for t in ax.get_yticklabels()}
    assert "s2" in labels  # the abnormal one
    assert len(labels) == 3
    assert "(5 more streams not drawn)" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_zoom_shows_silence_end_and_each_sources_evidence():
    d = incident()
    ax = plot_zoom(d, "s2")
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert {"netlog said", "cdp said", "caddy said", "s2 client leg", "s2 server leg"} <= set(labels)
    assert not any(lab.startswith("s1") for lab in labels)
    joined = " ".join(texts(ax))
    assert "silent 0.96 s" in joined  # browser lane: last chunk at +4.25 s, end at +5.21 s
    assert "seconds relative to the end of s2" in ax.get_xlabel()
    assert ax.get_xlim()[0] < -0.96 < 0 < ax.get_xlim()[1]
    draw(ax)


def test_zoom_window_reaches_back_to_the_last_frames():
    d = incident()
    s2 = d.streams[1]
    start, end, stop = stream_window(d, s2, last_frames=8)
    assert end == s2.ended_at
    assert start == pytest.approx(T0 + 1.28 + 52 * 0.05)  # 8th-last chunk on the earliest leg
    assert stop > end


def test_zoom_of_unknown_stream_is_a_key_error():
    with pytest.raises(KeyError):
        plot_zoom(incident(), "nope")


def test_each_navigation_destination_is_labelled_once():
    """Three sources seeing the page load are one label; the navigation that ended the stream gets its own."""
    import dataclasses

    d = incident()
    start = [
        {"t": T0 + dt, "source": src, "stream": None, "leg": None, "kind": "navigation", "text": "GET",
         "url": "http://app.localhost/chat"}
        for dt, src in ((0.01, "netlog"), (0.02, "cdp"), (0.03, "har"))
    ]  # fmt: skip
    away = {**start[0], "t": T0 + 5.19, "url": "http://app.localhost/docs"}
    tl = pd.concat([d.timeline, pd.DataFrame([*start, away])], ignore_index=True)
    ax = plot_swimlanes(dataclasses.replace(d, timeline=tl))
    shown = texts(ax)
    assert shown.count("→ http://app.localhost/chat") == 1, shown
    assert "→ http://app.localhost/docs" in shown and "GET" not in shown
    draw(ax)
