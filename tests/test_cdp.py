"""The DevTools Protocol importer on real CDP sessions recorded from headless Chromium (Playwright),
in every envelope users hand us (JSON Lines, JSON array, chromedriver performance log)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tearline.analysis.evidence.cdp import load_cdp, read_messages
from tearline.analysis.evidence.observation import OBSERVATION_KINDS, Observation

from tearline.errors import InputError
from tests.evidence_recording import of


def summary(obs: list[Observation]) -> list[tuple[Any, ...]]:
    return [
        (o.kind, round(o.t, 4), o.stream_key, o.url, o.code, o.error, o.size, o.status, o.text) for o in obs
    ]


@pytest.mark.browser
@pytest.mark.slow
def test_real_cdp_session(rec: Any) -> None:
    r = load_cdp(rec.cdp)
    obs = r.observations
    assert r.clock == "cdp wallTime - timestamp" and r.warnings == []
    assert all(o.kind in OBSERVATION_KINDS for o in obs)
    assert all(rec.started - 1 <= o.t <= rec.ended + 1 for o in obs)

    ws = of(obs, "ws_created", "/close4001")[0].stream_key
    assert [o.kind for o in obs if o.stream_key == ws and o.kind.startswith("ws_")][:3] == [
        "ws_created",
        "ws_handshake_request",
        "ws_open",
    ]
    assert [o.size for o in of(obs, "ws_frame_sent", "/close4001")] == [5, 5]  # "hello", "again"
    assert len(of(obs, "ws_frame_received", "/close4001")) == 3
    closed = of(obs, "ws_closed", "/close4001")[0]
    assert closed.code is None  # CDP never reports close codes

    sse = [o for o in of(obs, "data_received", "/sse?n=3") if (o.text or "").startswith("sse event")]
    assert len(sse) == 3 and sse[0].size == len("event 0")
    assert of(obs, "request_cancelled", "/sse?n=3")[0].error == "ERR_ABORTED"
    assert of(obs, "request_start", "/sse?n=3")[0].resource == "EventSource"

    (cut,) = of(obs, "request_failed", "/cut")
    assert (cut.error, cut.code) == ("ERR_INCOMPLETE_CHUNKED_ENCODING", -355)

    # the console line of the refused WebSocket is a console observation and a ws_error
    assert any("ERR_CONNECTION_REFUSED" in (o.text or "") for o in of(obs, "console"))
    refused = of(obs, "ws_error", "nothing-listens")
    assert refused and refused[0].error == "ERR_CONNECTION_REFUSED"

    navs = [o.url for o in of(obs, "navigation")]
    assert any(u and u.endswith("/other") for u in navs)


@pytest.mark.browser
@pytest.mark.slow
def test_every_envelope_gives_the_same_observations(rec: Any, tmp_path: Path) -> None:
    messages = [json.loads(line) for line in rec.cdp.read_text().splitlines()]
    expected = summary(load_cdp(rec.cdp).observations)

    array = tmp_path / "devtools.json"
    array.write_text(json.dumps([{**m, "sessionId": "ABC"} for m in messages], indent=1))
    assert summary(load_cdp(array).observations) == expected

    perf = tmp_path / "perflog.json"  # chromedriver: double-encoded message strings
    perf.write_text(
        json.dumps(
            [
                {"level": "INFO", "timestamp": 1, "message": json.dumps({"message": m, "webview": "W"})}
                for m in messages
            ]
        )
    )
    assert summary(load_cdp(perf).observations) == expected

    objects = tmp_path / "perflog-objects.jsonl"
    objects.write_text("\n".join(json.dumps({"message": {"message": m}}) for m in messages) + "\n")
    assert summary(load_cdp(objects).observations) == expected


@pytest.mark.browser
@pytest.mark.slow
def test_torn_last_line_is_dropped_with_a_warning(rec: Any, tmp_path: Path) -> None:
    text = rec.cdp.read_text()
    p = tmp_path / "torn.jsonl"
    p.write_text(text.rstrip("\n")[:-15])
    r = load_cdp(p)
    assert any("torn last line" in w for w in r.warnings)
    assert len(r.observations) >= len(load_cdp(rec.cdp).observations) - 3


@pytest.mark.browser
@pytest.mark.slow
def test_renderer_crash_is_a_page_crash(crash: Any) -> None:
    assert crash.crashed
    r = load_cdp(crash.cdp)
    (c,) = of(r.observations, "page_crash")
    assert c.text == "renderer crashed"
    assert abs(c.t - crash.crash_t) < 5.0
    # the open WebSocket and EventSource were seen before it
    assert of(r.observations, "ws_open", "/echo") and of(r.observations, "request_start", "/sse")


def test_clock_per_request_and_median(tmp_path: Path) -> None:
    msgs = [
        {"method": "Network.requestWillBeSent", "params": {"requestId": "1", "timestamp": 100.0, "wallTime": 1_700_000_100.0,
                                                            "request": {"url": "https://a.test/s", "method": "POST"}, "type": "Fetch"}},
        {"method": "Network.requestWillBeSent", "params": {"requestId": "2", "timestamp": 200.0, "wallTime": 1_700_000_200.5,
                                                            "request": {"url": "https://a.test/t", "method": "GET"}, "type": "Fetch"}},
        {"method": "Network.dataReceived", "params": {"requestId": "1", "timestamp": 101.0, "dataLength": 10}},
        {"method": "Network.loadingFailed", "params": {"requestId": "9", "timestamp": 300.0, "errorText": "net::ERR_HTTP2_PROTOCOL_ERROR"}},
        {"method": "Log.entryAdded", "params": {"entry": {"level": "error", "text": "x", "timestamp": 1_700_000_150_000.0}}},
        {"method": "Target.targetCrashed", "params": {"targetId": "T", "status": "crashed", "errorCode": 11}},
        {"method": "Network.loadingFailed", "params": {"requestId": "2", "timestamp": 201.0, "errorText": "", "canceled": True}},
    ]  # fmt: skip
    p = tmp_path / "cdp.jsonl"
    p.write_text("\n".join(json.dumps(m) for m in msgs) + "\n")
    r = load_cdp(p)
    by = {(o.kind, o.stream_key): o for o in r.observations}
    assert by[("data_received", "1")].t == pytest.approx(1_700_000_101.0)
    assert by[("request_failed", "9")].t == pytest.approx(
        300.0 + r.offset
    )  # median of 1_700_000_000.0 and .5
    assert by[("request_failed", "9")].code == -337
    assert by[("console", None)].t == pytest.approx(1_700_000_150.0)
    crash = by[("page_crash", None)]
    assert crash.code == 11 and "error code 11" in (crash.text or "")
    assert by[("request_cancelled", "2")].error == "ERR_ABORTED"


def test_without_wall_time_it_warns(tmp_path: Path) -> None:
    p = tmp_path / "cdp.json"
    p.write_text(
        json.dumps(
            [
                {
                    "method": "Network.loadingFailed",
                    "params": {"requestId": "1", "timestamp": 5.0, "errorText": "net::ERR_FAILED"},
                }
            ]
        )
    )
    r = load_cdp(p)
    assert "monotonic" in r.clock and r.warnings


@pytest.mark.parametrize(
    "content, words",
    [
        ("", "empty"),
        ("garbage", "not JSON"),
        ("[1, 2", "not valid JSON"),
        ('{"a": 1}\n{"b": 2}\n', "no DevTools Protocol events"),
        ('{"method": "Network.x"}\n{oops}\n{"method": "Page.y"}\n', "not valid JSON"),
        (
            '[{"method": "Network.responseReceived", "params": {"response": {"status": "x"}, "timestamp": "y"}}]',
            "",
        ),
    ],
)
def test_garbage(tmp_path: Path, content: str, words: str) -> None:
    p = tmp_path / "bad.json"
    p.write_text(content)
    try:
        load_cdp(p)
    except InputError as e:
        assert "\n" not in str(e) and str(p) in str(e) and words in str(e)
    else:
        assert words == ""  # odd params are tolerated, not fatal


def test_read_messages_skips_command_responses(tmp_path: Path) -> None:
    p = tmp_path / "mixed.jsonl"
    p.write_text(
        '{"id": 1, "result": {}}\n{"method": "Network.webSocketClosed", "params": {"requestId": "1", "timestamp": 1}}\n'
    )
    msgs, warnings = read_messages(p)
    assert [m for _, m, _ in msgs] == ["Network.webSocketClosed"] and warnings


def test_iframe_documents_are_not_page_navigations(tmp_path: Path) -> None:
    def doc(rid: str, frame: str, url: str, ts: float) -> dict[str, Any]:
        return {"method": "Network.requestWillBeSent", "params": {
            "requestId": rid, "loaderId": rid, "frameId": frame, "type": "Document", "timestamp": ts,
            "wallTime": 1_700_000_000 + ts, "request": {"url": url, "method": "GET"}}}  # fmt: skip

    msgs = [
        doc("A", "TOP", "https://a.test/", 1.0),
        {"method": "Page.frameNavigated", "params": {"frame": {"id": "TOP", "url": "https://a.test/"}}},
        doc("B", "CHILD", "https://ads.test/frame", 2.0),
        {
            "method": "Page.frameNavigated",
            "params": {"frame": {"id": "CHILD", "parentId": "TOP", "url": "https://ads.test/frame"}},
        },
        doc("C", "TOP", "https://a.test/next", 3.0),
    ]
    p = tmp_path / "cdp.jsonl"
    p.write_text("\n".join(json.dumps(m) for m in msgs) + "\n")
    navs = [o.url for o in load_cdp(p).observations if o.kind == "navigation"]
    assert "https://ads.test/frame" not in navs and "https://a.test/next" in navs
