"""load_evidence and format sniffing: every real file is recognised, a file given to the wrong flag is
refused with one line naming the right flag, and real recordings flow through to a diagnosis."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from tearline.analysis.evidence.load import FORMATS, load_evidence, sniff

from tearline.capture import CaptureWriter, make_header
from tearline.cli import cli
from tearline.errors import InputError
from tearline.events import HttpRequest

FLAG_KW = {"netlog": "netlog", "cdp": "cdp", "har": "har", "console": "console", "caddy": "caddy_log"}


@pytest.fixture
def small_files(tmp_path: Path) -> dict[str, Path]:
    caddy = tmp_path / "caddy.log"
    caddy.write_text(json.dumps({"level": "info", "ts": 1795655866.5, "logger": "http.log.access.log0",
                                 "msg": "handled request", "request": {"host": "a.test", "uri": "/s"}, "status": 200}) + "\n")  # fmt: skip
    cap = tmp_path / "capture.jsonl"
    w = CaptureWriter(cap, make_header())
    w.write(HttpRequest(ts=1795655866.0, mono=1.0, conn="c", stream="f", method="GET", url="http://a.test/s"))
    w.close()
    return {"caddy": caddy, "capture": cap}


@pytest.mark.browser
@pytest.mark.slow
def test_sniff_real_files(rec: Any, killed: Any, small_files: dict[str, Path]) -> None:
    assert sniff(rec.netlog) == "netlog" and sniff(killed.netlog) == "netlog"
    assert sniff(rec.cdp) == "cdp" and sniff(rec.har) == "har"
    assert sniff(rec.console) == "console" and sniff(killed.stderr_log) == "console"
    assert sniff(small_files["caddy"]) == "caddy" and sniff(small_files["capture"]) == "capture"


@pytest.mark.browser
@pytest.mark.slow
def test_wrong_flag_says_what_the_file_is_and_where_it_goes(rec: Any, small_files: dict[str, Path]) -> None:
    files = {"netlog": rec.netlog, "cdp": rec.cdp, "har": rec.har, "console": rec.console, **small_files}
    for kind, path in files.items():
        for flag_kind, kw in FLAG_KW.items():
            if flag_kind == kind:
                continue
            with pytest.raises(InputError) as e:
                load_evidence(**{kw: path})
            msg = str(e.value)
            assert "\n" not in msg and str(path) in msg
            assert f"looks like {FORMATS[kind][1]}" in msg and FORMATS[kind][0] in msg
        if kind != "capture":
            with pytest.raises(InputError, match="pass it as " + FORMATS[kind][0]):
                load_evidence(captures=[path])


@pytest.mark.browser
@pytest.mark.slow
def test_load_everything_and_diagnose(rec: Any, small_files: dict[str, Path]) -> None:
    records = load_evidence(
        captures=[small_files["capture"]],
        netlog=rec.netlog,
        cdp=rec.cdp,
        har=rec.har,
        console=rec.console,
        caddy_log=small_files["caddy"],
    )
    assert [r.name for r in records] == ["capture", "netlog", "cdp", "har", "console", "caddy"]
    assert all(r.observations for r in records)
    from tearline.analysis.evidence.observation import OBSERVATION_KINDS, SOURCE_NAMES

    for r in records:
        assert r.name in SOURCE_NAMES
        assert all(o.kind in OBSERVATION_KINDS and o.source == r.name for o in r.observations), r.name

    from tearline.analysis.diagnose.diagnosis import diagnose

    d = diagnose(records[1:5])
    urls = {s.url for s in d.streams}
    assert any(u.endswith("/close4001") for u in urls) and any(u.endswith("/drop") for u in urls)


@pytest.mark.browser
@pytest.mark.slow
def test_diagnose_command_refuses_a_har_given_as_netlog(rec: Any) -> None:
    r = CliRunner().invoke(cli, ["diagnose", "--netlog", str(rec.har)])
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert r.exit_code == 2 and len(lines) == 1
    assert "looks like a HAR file" in lines[0] and "--har" in lines[0]


def test_unrecognised_file_goes_to_the_importer(tmp_path: Path) -> None:
    p = tmp_path / "notes.txt"
    p.write_text("just some words\n")
    assert sniff(p) is None
    with pytest.raises(InputError, match="no line starts with a timestamp"):
        load_evidence(console=p)
    with pytest.raises(InputError, match="not a Chrome NetLog"):
        load_evidence(netlog=p)


def test_nothing_given_is_nothing_loaded() -> None:
    assert load_evidence() == []


def test_bounded_netlog_note_and_directory_are_netlogs(tmp_path: Path) -> None:
    note = tmp_path / "netlog.json"
    note.write_text("Logging is in progress writing data to:\n    /gone\n")
    assert sniff(note) == "netlog"
    d = tmp_path / "x.inprogress"
    d.mkdir()
    assert sniff(d) is None
    (d / "constants.json").write_text("{}")
    assert sniff(d) == "netlog"
    with pytest.raises(InputError, match="looks like a Chrome NetLog"):
        load_evidence(har=note)
