"""Small label fixes: report and diagnosis.txt print the same millisecond; net errors by name."""

from __future__ import annotations

import pytest
from tearline.analysis.diagnose.cli import clock as text_clock
from tearline.analysis.diagnose.rules_browser import _how_closed
from tearline.analysis.report.figures import clock as report_clock


@pytest.mark.parametrize(
    "t", [1767225600.0, 1767225600.0004, 1767225600.0005, 1767225600.9996, 1767225600.1239]
)
def test_report_and_text_round_alike(t):
    assert report_clock(t) == text_clock(t)
    assert report_clock(t, date=True).endswith(text_clock(t))


def test_net_error_named_not_close_minus_3():
    assert _how_closed(-3) == "(net::ERR_ABORTED, -3)"
    assert _how_closed(4000) == "(close 4000)"
    assert _how_closed(None) == "(abort)"


def test_capture_without_footer_may_still_be_recording(tmp_path):
    from tearline.capture import CaptureWriter, make_header, read_capture

    path = tmp_path / "live.jsonl"
    w = CaptureWriter(path, make_header())
    w.flush()  # the proxy is still running: no footer yet
    (warning,) = read_capture(path).warnings
    assert "may still be recording" in warning and str(path) in warning
