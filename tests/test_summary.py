"""`tearline summary`: a real recording through mitmdump, read back as text and JSON."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tearline.cli import cli
from tests.fixtures_proxy import http_get, ws_session

pytestmark = pytest.mark.timeout(180)

TEARLINE = str(Path(sys.executable).parent / "tearline")


@pytest.fixture
def recorded(recorder) -> Path:
    """A WS session (client closes 4001), an SSE stream (5 events), a WS the server resets,
    an SSE cut mid-event, and an ordinary request."""
    proxy = recorder()
    asyncio.run(ws_session(f"{proxy.ws_base}/ws?n=2&interval_ms=10&size=10", ["a", "bb"], (4001, "bye"), 4))
    http_get(proxy.port, "/sse?n=5&interval_ms=10&split=1")
    asyncio.run(ws_session(f"{proxy.ws_base}/ws?n=1&end=rst", [], None, 1))
    http_get(proxy.port, "/sse?n=1&end=partial")
    http_get(proxy.port, "/length?size=10")
    proxy.stop()
    return proxy.capture


def test_summary_json_reports_each_stream(recorded):
    res = CliRunner().invoke(cli, ["summary", str(recorded), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["complete"] is True and data["warnings"] == []
    kinds = [s["kind"] for s in data["streams"]]
    assert kinds == ["ws", "sse", "ws", "sse"]  # the ordinary request is left out
    ws1, sse1, ws2, sse2 = data["streams"]
    assert "/ws?n=2" in ws1["url"]
    assert (ws1["client_messages"], ws1["server_messages"]) == (2, 4)  # 2 scripted + 2 echoes
    assert (ws1["close_code"], ws1["closed_by"]) == (4001, "client")
    assert (sse1["client_messages"], sse1["server_messages"], sse1["close_code"], sse1["closed_by"]) == (
        0,
        5,
        None,
        "server",
    )
    assert sse1["body_complete"] is True
    assert (ws2["server_messages"], ws2["close_code"], ws2["closed_by"], ws2["transport_end"]) == (
        1,
        1006,
        "server",
        "rst",
    )
    assert (sse2["server_messages"], sse2["partial_events"], sse2["body_complete"], sse2["closed_by"]) == (
        1,
        1,
        False,
        "server",
    )
    for s in data["streams"]:
        assert s["lifetime_s"] is not None and s["lifetime_s"] >= 0
    every = json.loads(CliRunner().invoke(cli, ["summary", str(recorded), "--json", "--all"]).output)
    assert [s["kind"] for s in every["streams"]][-1] == "http"


def test_summary_text_one_line_per_stream(recorded):
    res = CliRunner().invoke(cli, ["summary", str(recorded)])
    assert res.exit_code == 0
    lines = res.output.strip().splitlines()
    assert len(lines) == 4
    assert lines[0].startswith("ws") and "close 4001 'bye' by client" in lines[0]
    assert "complete (terminated)" in lines[1] and "5 ev" in lines[1]
    assert "no close frame: server rst" in lines[2]
    assert "cut by server fin, 1 partial event" in lines[3]


def test_summary_console_script(recorded):
    out = subprocess.run(
        [TEARLINE, "summary", str(recorded), "--json"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert len(json.loads(out.stdout)["streams"]) == 4


def test_summary_errors_are_one_line(tmp_path):
    res = CliRunner().invoke(cli, ["summary", str(tmp_path / "missing.jsonl")])
    assert res.exit_code == 2 and "Error:" in res.output and "missing.jsonl" in res.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"format": "tearline-capture", "version": 99}\n')
    res = CliRunner().invoke(cli, ["summary", str(bad)])
    assert res.exit_code == 2 and "version 99" in res.output and "Traceback" not in res.output


def test_summary_of_a_torn_capture_warns(recorded, tmp_path):
    torn = tmp_path / "torn.jsonl"
    text = recorded.read_text().splitlines()
    torn.write_text("\n".join(text[:-1]) + '\n{"type":"ws_mess')
    res = subprocess.run([TEARLINE, "summary", str(torn)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0
    assert "torn last line" in res.stderr and "no capture_end footer" in res.stderr
    assert len(res.stdout.strip().splitlines()) == 4
