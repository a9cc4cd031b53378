"""``tearline report`` end to end: real recordings in, a self-contained page and a PNG out.

The recordings come from ``tearline.lab.scenarios.record_scenario`` (real
Chromium, Caddy, the incident back end and tearline's recorder on both legs)
through the ``scenario_bundle`` fixture; bad inputs and outputs are checked
with real files.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from tearline.cli import cli
from tests.report_html import check_self_contained, raw_markup_outside_images


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.browser
@pytest.mark.caddy
@pytest.mark.slow
@pytest.mark.parametrize("scenario", ["client_navigation", "server_abrupt_close"])
def test_report_of_a_real_mid_stream_failure(scenario, scenario_bundle, tmp_path: Path) -> None:
    bundle = scenario_bundle(scenario)
    args = bundle.diagnose_args()
    code, out, err = run("diagnose", "--json", *args)
    assert code == 0, err
    diagnosis = json.loads(out)
    html_path, png_path = tmp_path / "report.html", tmp_path / "timeline.png"
    code, out, err = run("report", *args, "-o", str(html_path), "--png", str(png_path))
    assert code == 0, err
    assert f"wrote {html_path}" in out
    html = html_path.read_text(encoding="utf-8")
    page = check_self_contained(html)
    assert raw_markup_outside_images(html) == []
    text = page.body_text
    assert diagnosis["streams"], "the recording has streams"
    for s in diagnosis["streams"]:
        assert f"stream-{s['id']}" in {a.get("id") for a in page.attrs("div")}
        assert " ".join(s["cause"]["summary"].split()) in text
    first = diagnosis["first_abnormal"]
    counts = diagnosis["counts"]
    assert f"{counts['faults']} fault" in out and f"{counts['expected']} ended as expected" in out
    if scenario == "client_navigation":  # a click-away is an expected end, not a fault
        assert first is None and counts["faults"] == 0, diagnosis
        assert "No fault:" in text and "ended abnormally" not in text
        assert len(page.attrs("img")) == 1  # the timeline, no zoom
        return
    assert first is not None, "a mid-stream failure is a fault"
    assert f"first fault: {first}" in out
    flagged = [a["id"] for a in page.attrs("div") if "first" in (a.get("class") or "").split()]
    assert flagged == [f"stream-{first}"]
    abnormal = [s for s in diagnosis["streams"] if s["abnormal"]]
    assert len(page.attrs("img")) == 1 + min(len(abnormal), 12)  # timeline + one zoom per abnormal end
    img = Image.open(png_path)
    img.verify()
    assert img.size[0] >= 1200


def test_bad_output_directory_is_exit_2_with_one_line(tmp_path: Path) -> None:
    netlog = tmp_path / "n.json"
    netlog.write_text("{}")
    code, _, err = run("report", "--netlog", str(netlog), "-o", str(tmp_path / "no" / "r.html"))
    assert code == 2
    assert err.startswith("Error: ") and err.count("\n") == 1
    assert "-o" in err and "does not exist" in err


def test_png_path_that_is_a_directory_is_exit_2(tmp_path: Path) -> None:
    code, _, err = run("report", "--netlog", "x.json", "-o", str(tmp_path / "r.html"), "--png", str(tmp_path))
    assert code == 2 and "--png" in err and "is a directory" in err


def test_missing_output_option_is_a_usage_error() -> None:
    code, _, err = run("report", "--netlog", "x.json")
    assert code == 2 and "-o" in err


def test_no_evidence_is_exit_2(tmp_path: Path) -> None:
    code, _, err = run("report", "-o", str(tmp_path / "r.html"))
    assert code == 2 and "no evidence given" in err
    assert not (tmp_path / "r.html").exists()


def test_garbage_input_is_exit_2_with_one_line_and_no_report(tmp_path: Path) -> None:
    garbage = tmp_path / "netlog.json"
    garbage.write_bytes(b"\x00\xffnot json at all{{{")
    code, _, err = run("report", "--netlog", str(garbage), "-o", str(tmp_path / "r.html"))
    assert code == 2
    assert err.startswith("Error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "r.html").exists()


def test_report_of_a_real_capture(recorder, tmp_path: Path) -> None:
    """A capture recorded through a real mitmdump, with nothing else, makes a report."""
    import http.client
    import urllib.request

    proxy = recorder()
    with urllib.request.urlopen(f"{proxy.url.rstrip('/')}/sse?n=5&interval_ms=20", timeout=30) as r:
        assert b"data: 4:" in r.read()
    cut = urllib.request.urlopen(f"{proxy.url.rstrip('/')}/stream?n=3&end=cut", timeout=30)
    with cut, pytest.raises(http.client.IncompleteRead):  # the lab server cuts this body before its end
        cut.read()
    proxy.stop(timeout=30)
    out = tmp_path / "r.html"
    code, stdout, err = run("report", str(proxy.capture), "-o", str(out), "--title", "real capture")
    assert code == 0, err
    page = check_self_contained(out.read_text())
    assert "/sse?n=5" in page.body_text and "/stream?n=3" in page.body_text
    assert "2 streams: 1 fault, 1 ended as expected" in stdout
