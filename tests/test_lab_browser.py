"""tearline.lab.browser: a real headless Chromium recording NetLog, CDP events, console and HAR."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tearline.capture import read_capture
from tearline.errors import UsageError
from tearline.events import event_to_dict
from tearline.lab.browser import check_chromium
from tearline.lab.incident.backend import RunningBackend
from tearline.lab.mitmdump import Mitmdump
from tests.fixtures_browser import ChromiumSession

pytestmark = pytest.mark.browser

ADDONS = Path(__file__).parents[1] / "addons"
CONSOLE_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z \[[a-z]+\] .*$")


def netlog_events(path: Path) -> list[tuple[str, str, dict[str, Any], int]]:
    """(event type name, phase name, params, source id) of every NetLog event, names from the file's constants."""
    log = json.loads(path.read_text())
    c = log["constants"]
    types = {v: k for k, v in c["logEventTypes"].items()}
    phases = {v: k for k, v in c["logEventPhase"].items()}
    return [
        (types[e["type"]], phases[e["phase"]], e.get("params", {}), e["source"]["id"]) for e in log["events"]
    ]


def test_records_netlog_cdp_console_and_har(
    chromium_session: Callable[..., ChromiumSession], incident_backend: RunningBackend
) -> None:
    session = chromium_session()
    live = session.live
    live.page.goto(f"http://www.localhost:{incident_backend.port}/chat.html?sse=finish&ws=finish&deltas=3")
    live.wait_for_console(("sse done", "sse failed"))
    live.wait_for_console("ws closed")
    session.close()
    rec = live.recording

    # NetLog: complete JSON (Chromium closed cleanly), wall-clock offset, the stream and the WebSocket frames
    events = netlog_events(rec.netlog)
    assert "timeTickOffset" in json.loads(rec.netlog.read_text())["constants"]
    urls = {p["url"] for name, _, p, _ in events if name == "REQUEST_ALIVE" and "url" in p}
    assert any("/agent/run" in u for u in urls) and any(u.startswith("ws://ai.localhost") for u in urls)
    close_frames = [
        p for name, _, p, _ in events if name == "WEBSOCKET_RECV_FRAME_HEADER" and p["opcode"] == 8
    ]
    assert close_frames, "the server's close frame is in the NetLog"

    # CDP: one {"method", "params"} object per line, from the four domains
    cdp = [json.loads(line) for line in rec.cdp.read_text().splitlines()]
    assert all(set(e) == {"method", "params"} for e in cdp)
    methods = {e["method"] for e in cdp}
    assert {
        "Network.requestWillBeSent",
        "Network.responseReceived",
        "Network.webSocketCreated",
        "Network.webSocketFrameReceived",
        "Network.webSocketClosed",
        "Page.frameNavigated",
        "Runtime.consoleAPICalled",
    } <= methods
    assert all("wallTime" in e["params"] for e in cdp if e["method"] == "Network.requestWillBeSent")
    frames = [e for e in cdp if e["method"] == "Network.webSocketFrameReceived"]
    assert len(frames) == 7  # RUN_STARTED, TEXT_MESSAGE_START, 3 deltas, TEXT_MESSAGE_END, RUN_FINISHED

    # console: timestamped lines, the page's own messages in order
    lines = rec.console.read_text().splitlines()
    assert lines and all(CONSOLE_LINE.match(line) for line in lines)
    assert any("[log] sse done after 3 deltas" in line for line in lines)
    assert any("ws closed code=1000 reason=run finished wasClean=true" in line for line in lines)

    # HAR: Playwright's, with the page, the stream and the WebSocket
    har = json.loads(rec.har.read_text())
    entries = har["log"]["entries"]
    har_urls = [e["request"]["url"] for e in entries]
    assert any("/chat.html" in u for u in har_urls) and any("/agent/run" in u for u in har_urls)


def test_proxy_server_sends_loopback_through_mitmdump(
    chromium_session: Callable[..., ChromiumSession], incident_backend: RunningBackend, tmp_path: Path
) -> None:
    capture = tmp_path / "capture.jsonl"
    with Mitmdump(
        scripts=[ADDONS / "ws_trace.py"],
        mode="regular",
        options={"trace_file": str(capture)},
        confdir=tmp_path / "mitm",
    ) as proxy:
        session = chromium_session(proxy=proxy.url)
        # A regular proxy resolves names itself, and only Chromium maps *.localhost: use 127.0.0.1 here.
        origin = f"http://127.0.0.1:{incident_backend.port}"
        page_url = f"{origin}/chat.html?ws=finish&deltas=2&ai={origin}"
        session.live.page.goto(page_url)
        session.live.wait_for_console("ws closed")
        session.close()
    events = [event_to_dict(e) for e in read_capture(capture).events]
    requested = {e["url"] for e in events if e.get("type") == "http_request"}
    assert page_url in requested
    closes = [e for e in events if e.get("type") == "ws_close"]
    assert [(c["code"], c["closed_by"]) for c in closes] == [(1000, "server")]


def test_missing_chromium_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="Chromium not found") as err:
        check_chromium(str(tmp_path / "no-chromium"))
    assert "apt-get install" in str(err.value) and "\n" not in str(err.value)
