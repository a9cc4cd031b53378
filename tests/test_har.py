"""The HAR importer on a real Playwright HAR (WebSocket messages in ms) and the same session rewritten the
way Chrome DevTools writes it (seconds, ``_error``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tearline.analysis.evidence.har import load_har
from tearline.analysis.evidence.observation import Observation

from tearline.errors import InputError
from tests.evidence_recording import of


@pytest.mark.browser
@pytest.mark.slow
def test_real_playwright_har(rec: Any) -> None:
    r = load_har(rec.har)
    obs = r.observations
    assert r.meta["creator"].startswith("Playwright") and r.warnings == []
    assert all(rec.started - 1 <= o.t <= rec.ended + 1 for o in obs)
    sent = of(obs, "ws_frame_sent", "/close4001")
    assert [o.size for o in sent] == [5, 5] and all(o.direction == "client" for o in sent)
    assert len(of(obs, "ws_frame_received", "/close4001")) == 3
    assert of(obs, "ws_open", "/close4001")[0].status == 101
    (cut,) = of(obs, "request_failed", "/cut")
    assert (cut.error, cut.code) == ("ERR_INCOMPLETE_CHUNKED_ENCODING", -355)
    assert of(obs, "request_cancelled", "/sse?n=3")[0].error == "ERR_ABORTED"
    assert of(obs, "request_start", "/sse?n=3")[0].resource == "eventsource"
    # Playwright does not know when a failed body ended (receive = -1): the observation says so
    assert "end time unknown" in (of(obs, "request_cancelled", "/sse?n=1000")[0].time_note or "")
    assert of(obs, "request_done", "/other")[0].size == 44
    # frames are on the wall clock: within the HAR entry's lifetime, not 1000x off
    start = of(obs, "ws_created", "/close4001")[0].t
    assert all(0 <= o.t - start < 10 for o in sent)


@pytest.mark.browser
@pytest.mark.slow
def test_chrome_style_seconds_and_error_field(rec: Any, tmp_path: Path) -> None:
    doc = json.loads(rec.har.read_text())
    doc["log"]["creator"] = {"name": "WebInspector", "version": "537.36"}
    for e in doc["log"]["entries"]:
        for m in e.get("_webSocketMessages", []):
            m["time"] = m["time"] / 1000.0
        resp = e["response"]
        if "_failureText" in resp:
            resp["_error"] = resp.pop("_failureText")
    p = tmp_path / "chrome.har"
    p.write_text("\ufeff" + json.dumps(doc))  # Chrome-era files sometimes carry a BOM

    def key(obs: list[Observation]) -> list[tuple[Any, ...]]:
        return [(o.kind, round(o.t, 3), o.url, o.error, o.size) for o in obs]

    assert key(load_har(p).observations) == key(load_har(rec.har).observations)


def test_hand_written_entries(tmp_path: Path) -> None:
    har = {
        "log": {
            "version": "1.2",
            "creator": {"name": "WebInspector", "version": "537.36"},
            "entries": [
                {
                    "startedDateTime": "2026-05-25T14:01:00.100+02:00",
                    "time": 8123.7,
                    "_resourceType": "fetch",
                    "request": {"method": "POST", "url": "https://app.test/run"},
                    "response": {"status": 200, "content": {"size": 4412, "mimeType": "text/event-stream"},
                                 "_error": "net::ERR_HTTP2_PROTOCOL_ERROR"},
                    "timings": {"blocked": 0.6, "dns": -1, "connect": -1, "send": 0.2, "wait": 310.1, "receive": 7812.8},
                },
                {"startedDateTime": "2026-05-25T12:00:00Z", "time": 5, "request": {"method": "GET", "url": "https://app.test/x"},
                 "response": {"status": 0}, "timings": {}},
                {"startedDateTime": "no date", "request": {"url": "https://app.test/y"}, "response": {}},
                {"startedDateTime": "2026-05-25T12:00:00Z", "time": 1, "request": {"url": "wss://app.test/ws"},
                 "response": {"status": 502}, "_webSocketMessages": [{"type": "error", "time": -1, "opcode": -1, "data": "x"}]},
            ],
        }
    }  # fmt: skip
    p = tmp_path / "a.har"
    p.write_text(json.dumps(har))
    r = load_har(p)
    start = 1779710460.1  # 14:01:00.100+02:00
    obs = {(o.kind, o.stream_key): o for o in r.observations}
    assert obs[("request_start", "0")].t == pytest.approx(start)
    assert obs[("response_headers", "0")].t == pytest.approx(start + 0.3109)
    failed = obs[("request_failed", "0")]
    assert failed.t == pytest.approx(start + 8.1237) and failed.code == -337
    assert ("request_done", "1") not in obs and ("response_headers", "1") not in obs  # status 0 = no response
    assert ("request_start", "2") not in obs and "skipped" in r.warnings[0]
    assert obs[("ws_error", "3")].status == 502


@pytest.mark.parametrize(
    "content, words",
    [
        ("", "empty"),
        ("not json", "not valid JSON"),
        ('{"log": {}}', "log.entries"),
        ("[]", "log.entries"),
        ('{"constants": {}}', "not a HAR file"),
    ],
)
def test_garbage(tmp_path: Path, content: str, words: str) -> None:
    p = tmp_path / "bad.har"
    p.write_text(content)
    with pytest.raises(InputError) as e:
        load_har(p)
    assert "\n" not in str(e.value) and str(p) in str(e.value) and words in str(e.value)
