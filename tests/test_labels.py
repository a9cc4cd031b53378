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


OPEN_CAPTURE = """\
{"format":"tearline-capture","version":1,"tearline":"0.1.0","started":1767225600,"mono_started":1,"mode":["reverse:http://127.0.0.1:1"],"options":{}}
{"type":"conn_open","ts":1767225600.0,"mono":1.0,"conn":"c","leg":"client"}
{"type":"http_request","ts":1767225600.05,"mono":1.05,"conn":"c","stream":"f","method":"GET","url":"http://127.0.0.1:9090/ws"}
{"type":"ws_start","ts":1767225600.1,"mono":1.1,"conn":"c","stream":"f"}
{"type":"ws_message","ts":1767225600.2,"mono":1.2,"conn":"c","stream":"f","direction":"server","opcode":"text","size":3,"index":0}
"""


def test_diagnosis_of_a_capture_still_being_written(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    path = tmp_path / "open.jsonl"
    path.write_text(OPEN_CAPTURE)
    tearline = str(Path(sys.executable).parent / "tearline")
    out = subprocess.run([tearline, "diagnose", str(path)], capture_output=True, text=True, check=True).stdout
    assert "ws://127.0.0.1:9090/ws  (no end recorded)" in out  # ws://, and no "(normal end)"
    assert "(normal end)" not in out and "may still be recording" in out
