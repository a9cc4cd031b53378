import io

from matplotlib.text import Text
from PIL import Image
from tearline.analysis.report.figures import (
    clock,
    headline,
    overview_figure,
    png_bytes,
    swimlane_figure,
    zoom_figure,
)
from tearline.analysis.report.plot_style import plain

from tests.report_samples import T0, incident


def texts(fig) -> str:
    return " ".join(t.get_text() for t in fig.findobj(Text))


def test_overview_has_headline_timeline_and_first_zoom():
    d = incident()
    fig = overview_figure(d, "Incident 42")
    joined = texts(fig)
    assert "Incident 42" in joined
    assert plain(headline(d.streams[1]), 150) in joined
    assert "The page navigated to /other" in joined
    assert "Zoom on the end of s2" in joined
    img = Image.open(io.BytesIO(png_bytes(fig)))
    img.verify()
    assert img.size[0] >= 1200


def test_overview_without_faults_says_so():
    d = incident()
    d.streams = [d.streams[0]]
    assert "0 faults, 1 ended as expected: no fault." in texts(overview_figure(d))


def test_zoom_figure_lists_numbered_evidence_beside_the_lanes():
    fig = zoom_figure(incident(), "s2")
    joined = texts(fig)
    assert "1 netlog -0.010 s" in joined and "2 cdp +0.000 s" in joined and "3 caddy +0.010 s" in joined
    assert "loadingFailed net::ERR_ABORTED canceled=true" in joined
    Image.open(io.BytesIO(png_bytes(fig))).verify()


def test_swimlane_figure_grows_with_lanes():
    assert swimlane_figure(incident()).get_figheight() > 4


def test_clock_and_headline():
    assert clock(T0 + 5.21) == "14:13:25.210"
    assert clock(None) == "-"
    assert headline(incident().streams[1]).startswith("s2 (sse http://api.localhost/api/copilotkit")
    assert "ended at 14:13:25.210 UTC: page went away (85%)" in headline(incident().streams[1])
