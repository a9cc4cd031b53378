"""The console-log importer on the page console recorded through Playwright (ISO times) and on
Chromium's own ``--enable-logging=stderr`` output of a run killed mid-way; plus every line format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tearline.analysis.evidence.console import classify, load_console, parse_line
from tearline.analysis.evidence.observation import Observation

from tearline.errors import InputError


def texts(obs: list[Observation], kind: str = "console") -> list[str]:
    return [o.text or "" for o in obs if o.kind == kind]


@pytest.mark.browser
@pytest.mark.slow
def test_real_page_console(rec: Any) -> None:
    r = load_console(rec.console)
    assert r.meta["formats"] == ["iso"] and r.warnings == []
    lines = texts(r.observations)
    assert "ws close 4001 bye clean=true" in lines and "drop close 1006 clean=false" in lines
    assert all(rec.started - 1 <= o.t <= rec.ended + 1 for o in r.observations)
    (ws_err,) = [o for o in r.observations if o.kind == "ws_error"]
    assert ws_err.url is not None and ws_err.url.endswith("/nothing-listens")
    assert (ws_err.error, ws_err.code) == ("ERR_CONNECTION_REFUSED", -102)
    errors = [o for o in r.observations if o.kind == "console" and o.level == "error"]
    assert any(o.error == "ERR_INCOMPLETE_CHUNKED_ENCODING" for o in errors)


@pytest.mark.browser
@pytest.mark.slow
def test_real_chrome_enable_logging_output(killed: Any, rec: Any) -> None:
    r = load_console(killed.stderr_log)
    assert "chrome" in r.meta["formats"]
    assert any("no year or time zone" in w for w in r.warnings)
    lines = texts(r.observations)
    assert "ws close 4001 bye clean=true" in lines  # the quoted message, unwrapped
    assert all(o.url and o.url.startswith("http://127.0.0.1") for o in r.observations if o.kind == "console")
    # Chrome's own diagnostics (dbus, GPU) are not console messages
    assert not any("dbus" in t for t in lines)


@pytest.mark.browser
@pytest.mark.slow
def test_chrome_log_times_agree_with_the_netlog(killed: Any) -> None:
    """Both come from the same run: the console line of the WebSocket close lies within a second of
    the NetLog's close frame (Chrome logs local time; this machine's zone is applied)."""
    from tearline.analysis.evidence.netlog.interpreter import load_netlog

    net = load_netlog(killed.netlog).observations
    close = next(o for o in net if o.kind == "ws_close_received")
    line = next(
        o for o in load_console(killed.stderr_log).observations if (o.text or "").startswith("ws close")
    )
    assert abs(line.t - close.t) < 1.0


@pytest.mark.parametrize(
    "line, t, level, text",
    [
        ("2026-11-26T01:17:46.036Z [error] boom", 1795655866.036, "error", "boom"),
        ("2026-11-26 02:17:46,5+01:00 warning: w", 1795655866.5, "warning", "w"),
        ("[2026-11-26T01:17:46Z] plain", 1795655866.0, None, "plain"),
        ("1795655866.25 [info] epoch seconds", 1795655866.25, "info", "epoch seconds"),
        ("1795655866250 epoch ms", 1795655866.25, None, "epoch ms"),
        ("[1795655866] bracketed", 1795655866.0, None, "bracketed"),
    ],
)
def test_line_formats(line: str, t: float, level: str | None, text: str) -> None:
    p = parse_line(line, year=2026, local_offset=0.0)
    assert p is not None
    assert p.t == pytest.approx(t) and p.level == level and p.text == text


def test_chrome_line_format_old_and_new() -> None:
    new = parse_line(
        '[9668:9668:1126/011747.755053:INFO:CONSOLE:4] "sse event 0", source: http://a.test/ (4)',
        year=2026,
        local_offset=3600,
    )
    old = parse_line(
        '[1:2:1126/011747.755053:INFO:CONSOLE(4)] "sse event 0", source: http://a.test/ (4)',
        year=2026,
        local_offset=3600,
    )
    assert new is not None and old is not None
    assert new.text == old.text == "sse event 0" and new.url == "http://a.test/"
    assert new.t == pytest.approx(1795655867.755053 - 3600)


def test_mixed_file_continuations_and_time_only(tmp_path: Path) -> None:
    p = tmp_path / "console.txt"
    p.write_text(
        "header without time\n"
        "2026-11-26T01:17:46Z [error] WebSocket connection to 'wss://a.test/ws' failed: "
        "Error during WebSocket handshake: Unexpected response code: 502\n"
        "    at connect (app.js:1)\n"
        "01:17:47.5 the renderer process crashed\n"
        "2026-11-26T01:17:48 naive\n"
    )
    r = load_console(p)
    kinds = [o.kind for o in r.observations]
    assert kinds.count("console") == 3 and "ws_error" in kinds and "page_crash" in kinds
    ws = next(o for o in r.observations if o.kind == "ws_error")
    assert ws.status == 502 and ws.url == "wss://a.test/ws"
    assert "at connect" in (next(o for o in r.observations if o.kind == "console").text or "")
    assert len(r.warnings) == 3  # skipped header, naive ISO read as UTC, time-only placed on the file's date


def test_classify() -> None:
    assert classify("nothing here") == []
    ((kind, fields),) = classify(
        "WebSocket connection to 'ws://h/x' failed: Error in connection establishment: net::ERR_CONNECTION_RESET"
    )
    assert kind == "ws_error" and fields["code"] == -101


@pytest.mark.parametrize("content", ["", "no timestamps\nat all\n", "\x00\x01\x02binary"])
def test_garbage(tmp_path: Path, content: str) -> None:
    p = tmp_path / "bad.log"
    p.write_text(content)
    with pytest.raises(InputError) as e:
        load_console(p)
    assert "\n" not in str(e.value) and str(p) in str(e.value)


def test_lab_console_lines_crash_and_pageerror(tmp_path: Path) -> None:
    """tearline.lab.browser writes "[crash] page crashed" and "[pageerror] ..." lines."""
    p = tmp_path / "console.log"
    p.write_text(
        "2026-11-26T01:34:03.100000Z [pageerror] TypeError: network error\n"
        "2026-11-26T01:34:03.200000Z [crash] page crashed\n"
        "2026-11-26T01:34:03.300000Z error connecting is just text\n"
    )
    obs = load_console(p).observations
    assert [(o.kind, o.level) for o in obs] == [
        ("console", "pageerror"),
        ("console", "crash"),
        ("page_crash", None),
        ("console", None),
    ]
