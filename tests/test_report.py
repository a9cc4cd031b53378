"""render_report on hand-made diagnoses: structure, self-containment, escaping.

Reports of real recordings are tested in tests/test_report_cli.py (Chromium,
Caddy) and tests/test_report_safety.py (mitmdump with hostile traffic)."""

import io
import os

import pytest
from PIL import Image
from tearline.analysis.diagnose.model import Cause, Evidence, StreamDiagnosis
from tearline.analysis.report.page import content_security_policy, render_report, report_context

from tearline.errors import UsageError
from tests.report_html import check_self_contained, parse, raw_markup_outside_images
from tests.report_samples import SCRIPT, big_diagnosis, incident


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    files = render_report(incident(), out / "r.html", png=out / "r.png", title=f"Incident {SCRIPT}")
    return files, files.html.read_text(encoding="utf-8")


def test_every_stream_and_cause_sentence_is_present(report):
    _, html = report
    page = check_self_contained(html)
    text = page.body_text
    d = incident()
    for s in d.streams:
        assert text.count(s.cause.summary) >= 2  # card + findings table
        assert f"stream-{s.id}" in {a.get("id") for a in page.attrs("div")}
    for e in d.streams[1].cause.evidence:
        assert e.text in text
    assert "Caddy aborted the response <script>alert(1)</script>." in text  # alternative, as text


def test_first_abnormal_end_is_the_headline(report):
    _, html = report
    page = parse(html)
    assert "s2 (sse) ended at 14:13:25.210 UTC: page went away" in page.body_text
    first = [a for a in page.attrs("div") if "first" in (a.get("class") or "").split()]
    assert [a["id"] for a in first] == ["stream-s2"]


def test_images_timeline_and_one_zoom_per_abnormal_end(report):
    _, html = report
    page = parse(html)
    assert len(page.attrs("img")) == 2  # timeline + zoom of s2 (s1 ended cleanly)
    assert any("Swimlane timeline" in (a.get("alt") or "") for a in page.attrs("img"))


def test_tables_streams_findings_clocks_sources(report):
    _, html = report
    page = parse(html)
    ids = {a.get("id") for a in page.attrs("table")}
    assert {"streams-table", "clocks", "sources"} <= ids
    text = page.body_text
    assert "+0.0 ms" in text and " 2.0 ms" in text and "-13.0 ms" in text and "unmatched" in text
    assert "netlog timeTickOffset" in text and "1 line unparsable" in text


def test_hostile_strings_are_escaped_and_secrets_redacted(report):
    _, html = report
    assert raw_markup_outside_images(html) == []
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "SECRET1" not in html and "SECRET2" not in html
    assert "token=[redacted]" in html


def test_files_get_ordinary_permissions(report):
    files, _ = report
    mask = os.umask(0o022)
    os.umask(mask)
    assert files.html.stat().st_mode & 0o777 == 0o666 & ~mask
    assert files.png.stat().st_mode & 0o777 == 0o666 & ~mask


def test_png_is_the_overview(report):
    files, _ = report
    img = Image.open(files.png)
    img.verify()
    assert img.size[0] >= 1200 and img.size[1] > img.size[0] * 0.6


def test_context_is_plain_data():
    ctx = report_context(incident(), "t")
    assert ctx["first"]["id"] == "s2"
    assert [s["id"] for s in ctx["streams"]] == ["s1", "s2"]
    assert ctx["csp"] == content_security_policy(ctx["css"])


def test_no_streams_renders_a_page_that_says_so(tmp_path):
    d = incident()
    d.streams = []
    files = render_report(d, tmp_path / "empty.html")
    page = check_self_contained(files.html.read_text())
    assert "No streams were found in the evidence." in page.body_text


@pytest.mark.parametrize(
    ("target", "message"),
    [("missing-dir/r.html", "the directory does not exist"), (".", "is a directory")],
)
def test_bad_output_path_is_a_one_line_usage_error(tmp_path, target, message):
    with pytest.raises(UsageError) as err:
        render_report(incident(), tmp_path / target)
    assert message in str(err.value) and "\n" not in str(err.value) and "-o" in str(err.value)


def test_unwritable_target_is_a_usage_error_and_leaves_no_temp_files(tmp_path):
    with pytest.raises(UsageError, match="--png") as err:
        render_report(incident(), tmp_path / "r.html", png="/proc/tearline-report.png")
    assert "cannot write" in str(err.value)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.slow
def test_a_million_rows_render(tmp_path):
    files = render_report(big_diagnosis(1_000_000), tmp_path / "big.html", png=tmp_path / "big.png")
    check_self_contained(files.html.read_text())
    assert files.bytes_html < 3_000_000
    Image.open(io.BytesIO(files.png.read_bytes())).verify()


def test_odd_values_render_escaped_and_without_error(tmp_path):
    d = incident()
    odd = StreamDiagnosis(
        id='<b id="x">s3</b>',
        url="",
        kind="<i>ws</i>",
        opened_at=None,
        ended_at=None,
        cause=Cause(
            kind="<no_such_kind>",
            actor="unknown",
            summary="$\\frac{1}{0}$ \x1b[31m" + "y" * 5000,
            confidence=1.5,
            evidence=(Evidence(source="<src>", t=None, text=SCRIPT, where=SCRIPT),),
        ),
        abnormal=True,
    )
    d.streams.append(odd)
    files = render_report(d, tmp_path / "odd.html", png=tmp_path / "odd.png")
    html = files.html.read_text()
    page = check_self_contained(html)
    assert raw_markup_outside_images(html) == [] and "<b id" not in html and "<i>" not in html
    assert "(no URL)" in page.body_text and "\\x1b[31m" in page.body_text
    assert "more characters)" in page.body_text  # the 5000-character summary was cut
    Image.open(files.png).verify()
