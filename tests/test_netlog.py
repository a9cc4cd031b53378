"""The NetLog importer on real Chromium NetLogs (complete, killed mid-run, cut at any byte) and on
small hand-written logs for what a loopback recording cannot produce (HTTP/2 resets, RST, network change)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tearline.analysis.evidence.netlog.interpreter import load_netlog
from tearline.analysis.evidence.observation import OBSERVATION_KINDS, Observation

from tearline.errors import InputError
from tests.evidence_recording import of, shared


def one_line(e: pytest.ExceptionInfo[InputError], path: Path) -> str:
    msg = str(e.value)
    assert "\n" not in msg
    assert str(path) in msg
    return msg


# --- real, complete ---------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.slow
def test_real_netlog_streams_and_ends(rec: Any) -> None:
    r = load_netlog(rec.netlog)
    obs = r.observations
    assert r.name == "netlog" and r.clock == "netlog timeTickOffset"
    assert r.meta["capture_mode"] == "Everything" and r.meta["truncated"] is False
    assert r.meta["browser"].startswith("Chromium")
    assert r.warnings == []
    assert all(o.kind in OBSERVATION_KINDS for o in obs)
    # on the wall clock: every observation of our servers lies inside the recording window
    ours = [o for o in obs if "127.0.0.1" in (o.url or "")]
    assert ours and all(rec.started - 1 <= o.t <= rec.ended + 1 for o in ours)
    assert [o.t for o in obs] == sorted(o.t for o in obs)

    # WebSocket closed by the server with 4001 "bye": code and reason decoded from raw bytes
    (received,) = of(obs, "ws_close_received", "/close4001")
    assert (received.code, received.reason, received.direction) == (4001, "bye", "server")
    (sent,) = of(obs, "ws_close_sent", "/close4001")
    assert sent.code == 4001  # Chrome echoes the code
    (closed,) = of(obs, "ws_closed", "/close4001")
    assert (closed.code, closed.text) == (4001, "clean")
    assert len(of(obs, "ws_frame_sent", "/close4001")) == 2
    assert len(of(obs, "ws_frame_received", "/close4001")) == 3
    assert of(obs, "ws_open", "/close4001")[0].status == 101

    # WebSocket dropped by the server without a close frame
    (dropped,) = of(obs, "ws_closed", "/drop")
    assert (dropped.code, dropped.text) == (1006, "unclean")
    assert not of(obs, "ws_close_received", "/drop")

    # ERR_WS_UPGRADE is the success marker, never a failure
    assert not [o for o in obs if o.error == "ERR_WS_UPGRADE"]

    # chunked body cut by the server
    (cut,) = of(obs, "request_failed", "/cut")
    assert (cut.error, cut.code) == ("ERR_INCOMPLETE_CHUNKED_ENCODING", -355)
    # the response's media type rides on response_headers, as CDP's mimeType does
    assert of(obs, "response_headers", "/cut")[0].text == "text/plain"
    assert {o.text for o in of(obs, "response_headers", "/sse?")} == {"text/event-stream"}
    assert of(obs, "response_headers", "/other")[0].text == "text/html"

    # EventSource closed by page code: a cancel, 3 events = 63 body bytes
    (es,) = of(obs, "request_cancelled", "/sse?n=3")
    assert (es.error, es.code) == ("ERR_ABORTED", -3)
    assert sum(o.size or 0 for o in of(obs, "data_received", "/sse?n=3")) == 63

    # the fetch() stream still open when the page navigated away: cancelled at the navigation
    (nav,) = of(obs, "navigation", "/other")
    (stream_end,) = of(obs, "request_cancelled", "/sse?n=1000")
    assert abs(stream_end.t - nav.t) < 2.0
    assert of(obs, "request_start", "/sse?n=1000")[0].text == "POST"

    # a WebSocket to a port nothing listens on
    refused = [o for o in obs if "nothing-listens" in (o.url or "") and o.error == "ERR_CONNECTION_REFUSED"]
    assert refused and refused[0].kind in ("ws_error", "request_failed")

    # sockets carry the request they served
    assert any(o.kind == "socket_closed" and o.stream_key == closed.stream_key for o in obs)


@pytest.mark.browser
@pytest.mark.slow
def test_netlog_clock_matches_cdp_clock(rec: Any) -> None:
    """NetLog timeTickOffset and CDP wallTime - timestamp are the same TimeTicks origin."""
    from tearline.analysis.evidence.cdp import load_cdp

    net, cdp = load_netlog(rec.netlog), load_cdp(rec.cdp)
    assert net.offset == pytest.approx(cdp.offset, abs=0.05)


# --- real, killed or cut ------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.slow
def test_netlog_of_a_killed_chromium_still_loads(killed: Any) -> None:
    text = killed.netlog.read_text()
    assert not text.rstrip().endswith("}")  # really unfinished
    r = load_netlog(killed.netlog)
    assert r.meta["truncated"] is True
    assert len(r.warnings) == 1 and "did not finish writing" in r.warnings[0]
    assert of(r.observations, "ws_close_received", "/close4001")[0].code == 4001
    assert of(r.observations, "request_failed", "/cut")[0].error == "ERR_INCOMPLETE_CHUNKED_ENCODING"


@pytest.mark.browser
@pytest.mark.slow
def test_netlog_cut_at_any_byte_loads_what_is_there(rec: Any, tmp_path: Path) -> None:
    data = rec.netlog.read_bytes()
    events_at = data.index(b'"events": [')
    full = len(load_netlog(rec.netlog).observations)
    counts = []
    # every cut before the closing brace (cutting only the trailing newline leaves a whole file)
    whole = len(data.rstrip())
    for i, cut in enumerate(range(events_at + 20, whole, max(1, (whole - events_at) // 25))):
        p = tmp_path / f"cut{i}.json"
        p.write_bytes(data[:cut])
        r = load_netlog(p)
        assert r.meta["truncated"] is True
        counts.append(len(r.observations))
    assert counts == sorted(counts) and counts[-1] <= full and counts[-1] > 0
    # cut inside the constants block: nothing can be decoded
    p = tmp_path / "constants.json"
    p.write_bytes(data[: events_at // 2])
    with pytest.raises(InputError) as e:
        load_netlog(p)
    assert "constants" in one_line(e, p)


# --- the file's own numbering, clock and layout --------------------------------------------------


def _rewrite(
    src: Path, dst: Path, *, shift: int = 0, offset_as_string: bool = False, events_first: bool = False
) -> None:
    doc = json.loads(src.read_text())
    c = doc["constants"]
    if shift:
        c["logEventTypes"] = {k: v + shift for k, v in c["logEventTypes"].items()}
        c["logSourceType"] = {k: v + shift for k, v in c["logSourceType"].items()}
        for e in doc["events"]:
            e["type"] += shift
            e["source"]["type"] += shift
            dep = (e.get("params") or {}).get("source_dependency")
            if isinstance(dep, dict):
                dep["type"] += shift
    if offset_as_string:
        c["timeTickOffset"] = str(c["timeTickOffset"])
    if events_first:
        doc = {"events": doc["events"], "constants": c}
    dst.write_text(json.dumps(doc))


def _summary(obs: list[Observation]) -> list[tuple[Any, ...]]:
    return [(o.kind, round(o.t, 3), o.url, o.code, o.error, o.size, o.status) for o in obs]


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize(
    "change",
    [{"shift": 1000}, {"offset_as_string": True}, {"events_first": True}],
    ids=["renumbered", "str-offset", "events-first"],
)
def test_numbers_come_from_the_files_own_constants(rec: Any, tmp_path: Path, change: dict[str, Any]) -> None:
    p = tmp_path / "rewritten.json"
    _rewrite(rec.netlog, p, **change)
    assert _summary(load_netlog(p).observations) == _summary(load_netlog(rec.netlog).observations)


@pytest.mark.browser
@pytest.mark.slow
def test_events_are_parsed_incrementally_not_with_json_load(
    rec: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = len(load_netlog(rec.netlog).observations)

    def refuse(*a: Any, **k: Any) -> Any:
        raise AssertionError("json.load/json.loads must not read a whole NetLog")

    monkeypatch.setattr(json, "load", refuse)
    monkeypatch.setattr(json, "loads", refuse)
    assert len(load_netlog(rec.netlog).observations) == expected


# --- hand-written logs for HTTP/2, resets and network changes ------------------------------------

NAMES = [
    "REQUEST_ALIVE", "URL_REQUEST_START_JOB", "HTTP_TRANSACTION_HTTP2_SEND_REQUEST_HEADERS",
    "HTTP_TRANSACTION_READ_RESPONSE_HEADERS", "HTTP_TRANSACTION_READ_BODY", "URL_REQUEST_JOB_FILTERED_BYTES_READ",
    "HTTP2_STREAM_ERROR", "FAILED", "CANCELLED", "HTTP2_SESSION_SEND_HEADERS", "HTTP2_SESSION_RECV_RST_STREAM",
    "HTTP2_SESSION_SEND_RST_STREAM", "HTTP2_SESSION_RECV_GOAWAY", "SOCKET_ALIVE", "SOCKET_READ_ERROR",
    "NETWORK_CHANGED", "WEBSOCKET_UPGRADE_FAILURE", "HTTP_TRANSACTION_SEND_REQUEST_HEADERS",
    "TCP_CONNECT", "SOCKET_IN_USE", "SOCKET_POOL_CLOSING_SOCKET", "HTTP2_SESSION", "HTTP2_SESSION_RECV_DATA",
]  # fmt: skip


def _log(tmp_path: Path, events: list[tuple[str, int, str, int, int, dict[str, Any] | None]]) -> Path:
    """events: (name, phase, source type, source id, time ms, params)."""
    types = {n: 500 + i for i, n in enumerate(NAMES)}
    sources = {"URL_REQUEST": 7, "HTTP2_SESSION": 8, "SOCKET": 9, "NONE": 0}
    constants = {
        "logEventTypes": types,
        "logSourceType": sources,
        "logEventPhase": {"PHASE_BEGIN": 1, "PHASE_END": 2, "PHASE_NONE": 0},
        "netError": {"ERR_ABORTED": -3, "ERR_FAILED": -2, "ERR_CONNECTION_RESET": -101,
                     "ERR_HTTP2_PROTOCOL_ERROR": -337, "ERR_NETWORK_CHANGED": -21},
        "timeTickOffset": 1_700_000_000_000,
        "logCaptureMode": "Default",
    }  # fmt: skip
    lines = []
    for name, phase, stype, sid, t, params in events:
        e: dict[str, Any] = {
            "phase": phase,
            "source": {"id": sid, "start_time": str(t), "type": sources[stype]},
            "time": str(t),
            "type": types[name],
        }
        if params is not None:
            e["params"] = params
        lines.append(json.dumps(e))
    p = tmp_path / "hand.json"
    p.write_text('{"constants":' + json.dumps(constants) + ',\n"events": [\n' + ",\n".join(lines) + "\n]}\n")
    return p


def test_h2_server_reset_mid_stream(tmp_path: Path) -> None:
    url = "https://app.example.test/api/stream"
    p = _log(
        tmp_path,
        [
            ("REQUEST_ALIVE", 1, "URL_REQUEST", 900, 5000, {"url": url}),
            ("URL_REQUEST_START_JOB", 1, "URL_REQUEST", 900, 5000, {"url": url, "method": "POST", "request_type": "other"}),
            ("HTTP_TRANSACTION_HTTP2_SEND_REQUEST_HEADERS", 0, "URL_REQUEST", 900, 5001, {"headers": [":method: POST"]}),
            ("HTTP2_SESSION_SEND_HEADERS", 0, "HTTP2_SESSION", 901, 5001,
             {"stream_id": 5, "headers": [":method: POST", ":scheme: https", ":authority: app.example.test", ":path: /api/stream"]}),
            ("HTTP_TRANSACTION_READ_RESPONSE_HEADERS", 0, "URL_REQUEST", 900, 5100, {"headers": ["HTTP/1.1 200", "content-type: text/event-stream"]}),
            ("URL_REQUEST_JOB_FILTERED_BYTES_READ", 0, "URL_REQUEST", 900, 5200, {"byte_count": 96}),
            ("HTTP2_SESSION_RECV_RST_STREAM", 0, "HTTP2_SESSION", 901, 9000, {"stream_id": 5, "error_code": "2 (INTERNAL_ERROR)"}),
            ("HTTP2_STREAM_ERROR", 0, "URL_REQUEST", 900, 9000,
             {"description": "Server reset stream.", "net_error": "ERR_HTTP2_PROTOCOL_ERROR", "stream_id": 5}),
            ("HTTP_TRANSACTION_READ_BODY", 2, "URL_REQUEST", 900, 9000, {"net_error": -337}),
            ("FAILED", 0, "URL_REQUEST", 900, 9001, {"net_error": -337}),
            ("REQUEST_ALIVE", 2, "URL_REQUEST", 900, 9002, {"net_error": -337}),
        ],
    )  # fmt: skip
    r = load_netlog(p)
    (rst,) = of(r.observations, "h2_rst_stream")
    assert (rst.code, rst.direction, rst.url, rst.stream_key) == (2, "server", url, "900")
    assert rst.t == pytest.approx(1_700_000_009.0)
    (failed,) = of(r.observations, "request_failed")
    assert (failed.error, failed.code, failed.t) == (
        "ERR_HTTP2_PROTOCOL_ERROR",
        -337,
        pytest.approx(1_700_000_009.001),
    )
    assert (
        of(r.observations, "socket_error")[0].error == "ERR_HTTP2_PROTOCOL_ERROR"
    )  # string net_error mapped
    (headers,) = of(r.observations, "response_headers")
    assert (headers.status, headers.text) == (200, "text/event-stream")
    assert not of(r.observations, "request_done")


def test_navigation_cancel_reset_and_network_change(tmp_path: Path) -> None:
    p = _log(
        tmp_path,
        [
            ("REQUEST_ALIVE", 1, "URL_REQUEST", 1, 100, {"url": "https://a.test/run"}),
            ("HTTP2_SESSION_SEND_RST_STREAM", 0, "HTTP2_SESSION", 2, 150, {"stream_id": 3, "error_code": "8 (CANCEL)"}),
            ("CANCELLED", 0, "URL_REQUEST", 1, 150, None),
            ("REQUEST_ALIVE", 2, "URL_REQUEST", 1, 151, None),
            ("SOCKET_ALIVE", 1, "SOCKET", 3, 100, None),
            ("SOCKET_READ_ERROR", 0, "SOCKET", 3, 200, {"net_error": -101, "os_error": 104}),
            ("SOCKET_ALIVE", 2, "SOCKET", 3, 201, None),
            ("NETWORK_CHANGED", 0, "NONE", 4, 300, {"new_connection_type": "WIFI"}),
            ("REQUEST_ALIVE", 1, "URL_REQUEST", 5, 400, {"url": "wss://a.test/ws"}),
            ("WEBSOCKET_UPGRADE_FAILURE", 0, "URL_REQUEST", 5, 410,
             {"net_error": -2, "message": "Error during WebSocket handshake: Unexpected response code: 502"}),
            ("REQUEST_ALIVE", 1, "URL_REQUEST", 6, 500, {"url": "https://a.test/beacon"}),
            ("REQUEST_ALIVE", 2, "URL_REQUEST", 6, 510, {"net_error": -3}),
        ],
    )  # fmt: skip
    obs = load_netlog(p).observations
    assert [o.url for o in of(obs, "request_cancelled")] == ["https://a.test/run", "https://a.test/beacon"]
    assert not of(obs, "request_done") and not of(obs, "request_failed")
    assert of(obs, "h2_rst_stream")[0].code == 8 and of(obs, "h2_rst_stream")[0].direction == "client"
    assert of(obs, "socket_error")[0].error == "ERR_CONNECTION_RESET"
    closed = of(obs, "socket_closed")[0]
    assert (
        closed.text is not None and closed.text.startswith("reset") and closed.error == "ERR_CONNECTION_RESET"
    )
    assert of(obs, "network_changed")[0].text == "WIFI"
    ws = of(obs, "ws_error")[0]
    assert "502" in (ws.text or "") and ws.error == "ERR_FAILED"
    assert of(obs, "ws_created")[0].url == "wss://a.test/ws"


# --- garbage -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content, words",
    [
        ("", "empty"),
        ("hello world", "not a Chrome NetLog"),
        ("[1, 2, 3]", "not a Chrome NetLog"),
        ('{"log": {"entries": []}}', "no 'constants'"),
        ('{"constants": 5, "events": []}', "lacks logEventTypes"),
        ('{"constants": {"logEventTypes": {}}, "events": {"a": 1}}', "not an array"),
        ('{"constants": {"logEventTypes": {}}, "events": [{"a": 1}, @@@, \n{"b": 2}]}', "malformed event"),
        ('{"constants": {"logEventTypes": {}}}', "no 'events'"),
        ('{"constants": {"logEventTypes": {}, "timeTickOffset": "soon"}, "events": []}', "timeTickOffset"),
    ],
)
def test_garbage_is_a_one_line_input_error(tmp_path: Path, content: str, words: str) -> None:
    p = tmp_path / "bad.json"
    p.write_text(content)
    with pytest.raises(InputError) as e:
        load_netlog(p)
    assert words in one_line(e, p)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_netlog(tmp_path / "nope.json")
    with pytest.raises(InputError, match="directory"):
        load_netlog(tmp_path)


@pytest.mark.browser
@pytest.mark.slow
def test_renderer_crash_sends_1001_and_cancels_streams(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The NetLog side of a sad tab: Chrome's network service closes the page's WebSocket with
    1001 and cancels its EventSource, exactly like a navigation (browser-evidence.md fact 10)."""
    crash: Any = shared("crash", tmp_path_factory)
    assert crash.crashed
    obs = load_netlog(crash.netlog).observations
    (sent,) = of(obs, "ws_close_sent", "/echo")
    assert (sent.code, sent.direction) == (1001, "client")
    assert abs(sent.t - crash.crash_t) < 5.0
    assert of(obs, "request_cancelled", "/sse")[0].error == "ERR_ABORTED"


def test_websocket_already_open_when_logging_started(tmp_path: Path) -> None:
    """chrome://net-export started while a page had a WebSocket open (Chrome >= 147): the channel's
    synthetic WEBSOCKET_ALIVE BEGIN names the URL; frames follow on the next source id."""
    p = tmp_path / "netexport.json"
    constants = {
        "logEventTypes": {"WEBSOCKET_ALIVE": 3, "WEBSOCKET_STATE_CHANGED": 4, "WEBSOCKET_RECV_FRAME_HEADER": 603,
                          "WEBSOCKET_SENT_FRAME_HEADER": 604, "REQUEST_ALIVE": 2},
        "logSourceType": {"URL_REQUEST": 1, "WEBSOCKET_CHANNEL": 52},
        "logEventPhase": {"PHASE_BEGIN": 1, "PHASE_END": 2, "PHASE_NONE": 0},
        "timeTickOffset": "1779504409228",
    }  # fmt: skip
    frame = {"final": True, "masked": False, "opcode": 9, "payload_length": 0}
    events = [
        {"params": {"state": "CONNECTED", "url": "wss://ws.example.test/subscribe"}, "phase": 1,
         "source": {"id": 558799, "start_time": "210129028", "type": 52}, "time": "210129028", "type": 3},
        {"params": frame, "phase": 0, "source": {"id": 558800, "start_time": "210129028", "type": 1}, "time": "213189200", "type": 603},
        {"params": {**frame, "opcode": 10, "masked": True}, "phase": 0,
         "source": {"id": 558800, "start_time": "210129028", "type": 1}, "time": "213189200", "type": 604},
        {"params": {"new_state": "CLOSED", "old_state": "CONNECTED"}, "phase": 0,
         "source": {"id": 558799, "start_time": "210129028", "type": 52}, "time": "213245473", "type": 4},
    ]  # fmt: skip
    p.write_text(
        '{"constants":'
        + json.dumps(constants)
        + ',\n"events": [\n'
        + ",\n".join(map(json.dumps, events))
        + ",\n"
    )
    r = load_netlog(p)
    obs = r.observations
    (created,) = of(obs, "ws_created")
    assert (
        created.url == "wss://ws.example.test/subscribe"
        and created.time_note == "already open when logging started"
    )
    assert [o.text for o in obs if o.kind.startswith("ws_frame")] == ["ping", "pong"]
    assert all(o.url == created.url for o in obs)
    (closed,) = of(obs, "ws_closed")
    assert closed.code == 1006 and closed.t == pytest.approx((213245473 + 1779504409228) / 1000)
    assert r.meta["truncated"] is True


@pytest.mark.browser
@pytest.mark.slow
def test_bounded_mode_log_of_a_killed_chromium(tmp_path_factory: pytest.TempPathFactory) -> None:
    """--net-log-max-size-mb keeps the data in a temp directory until Chrome stops; killed, the
    named file holds only a note. Both the note and the directory load (stitched)."""
    run: Any = shared("bounded", tmp_path_factory)
    assert run.placeholder.read_text().startswith("Logging is in progress")
    from_note, from_dir = load_netlog(run.placeholder), load_netlog(run.directory)
    assert from_note.meta["events"] == from_dir.meta["events"] > 0
    assert any("stitched" in w for w in from_note.warnings) and from_note.meta["truncated"] is True
    assert of(from_note.observations, "navigation", "/other")


def test_bounded_mode_note_whose_directory_is_gone(tmp_path: Path) -> None:
    p = tmp_path / "netlog.json"
    p.write_text(
        "Logging is in progress writing data to:\n    /nonexistent/org.chromium.Chromium.scoped_dir.X\n\n"
        "That data will be stitched into a single file (this one) once logging\nhas stopped.\n"
    )
    with pytest.raises(InputError) as e:
        load_netlog(p)
    assert "never stitched" in one_line(e, p)
    with pytest.raises(InputError, match=r"without constants\.json"):
        load_netlog(tmp_path)


@pytest.mark.browser
@pytest.mark.caddy
@pytest.mark.slow
def test_http2_through_a_real_caddy(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Chromium -> Caddy over HTTPS/HTTP/2: the upstream cuts a body, Caddy resets the stream
    (RST_STREAM INTERNAL_ERROR -> ERR_HTTP2_PROTOCOL_ERROR); a navigation cancels another stream
    (Chrome sends RST_STREAM CANCEL). The Caddy log tells the same story from its side."""
    from tearline.analysis.evidence.caddylog import load_caddy_log

    h2: Any = shared("h2", tmp_path_factory)
    obs = load_netlog(h2.netlog).observations
    (rst,) = of(obs, "h2_rst_stream", "/cut")
    assert (rst.code, rst.direction) == (2, "server")
    (failed,) = of(obs, "request_failed", "/cut")
    assert (failed.error, failed.code, failed.stream_key) == (
        "ERR_HTTP2_PROTOCOL_ERROR",
        -337,
        rst.stream_key,
    )
    assert of(obs, "response_headers", "/cut")[0].status == 200
    assert of(obs, "response_headers", "/cut")[0].text == "text/plain"  # HTTP/2: lower-case names
    assert of(obs, "response_headers", "/sse")[0].text == "text/event-stream"
    (cancel,) = of(obs, "h2_rst_stream", "/sse")
    assert (cancel.code, cancel.direction) == (8, "client")
    assert of(obs, "request_cancelled", "/sse")[0].stream_key == cancel.stream_key
    assert abs(cancel.t - of(obs, "navigation", "/other")[0].t) < 2.0

    caddy = load_caddy_log(h2.caddy_log).observations
    (server_abort,) = of(caddy, "proxy_abort", "/cut")
    assert server_abort.leg == "server" and abs(server_abort.t - rst.t) < 1.0
    (client_abort,) = of(caddy, "proxy_abort", "/sse")
    assert client_abort.leg == "client" and abs(client_abort.t - cancel.t) < 1.0
    assert of(caddy, "access", "/cut")[0].text == "GET HTTP/2.0"


@pytest.mark.parametrize(
    ("headers", "want"),
    [
        (["HTTP/1.1 200 OK", "Content-Type: text/event-stream; charset=utf-8"], "text/event-stream"),
        (["HTTP/1.1 200", "content-type: TEXT/Plain"], "text/plain"),
        (["HTTP/1.1 200", "x-content-type: text/html", "cache-control: no-cache"], None),
        (["HTTP/1.1 502", "content-type: "], None),
        (["HTTP/1.1 200", 7, None, "content-type:application/json"], "application/json"),
        ("content-type: text/html", None),
        (None, None),
    ],
)
def test_content_type_of_a_headers_list(headers: Any, want: str | None) -> None:
    from tearline.analysis.evidence.netlog.state import content_type

    assert content_type(headers) == want


def test_a_netlog_only_event_stream_is_an_sse_stream(tmp_path: Path) -> None:
    """With only a NetLog, a fetch() of text/event-stream is diagnosed as ``sse``; text/plain as ``http-stream``."""
    from tearline.analysis.diagnose.diagnosis import diagnose

    rows: list[tuple[str, int, str, int, int, dict[str, Any]]] = []
    for sid, path, ctype in (
        (900, "/agent/run", "text/event-stream; charset=utf-8"),
        (910, "/plain", "text/plain"),
    ):
        url = "http://ai.localhost:8080" + path
        rows += [
            ("REQUEST_ALIVE", 1, "URL_REQUEST", sid, 5000, {"url": url}),
            ("URL_REQUEST_START_JOB", 1, "URL_REQUEST", sid, 5000, {"url": url, "method": "POST", "request_type": "other"}),
            ("HTTP_TRANSACTION_READ_RESPONSE_HEADERS", 0, "URL_REQUEST", sid, 5050, {"headers": ["HTTP/1.1 200 OK", f"Content-Type: {ctype}"]}),
            *[("URL_REQUEST_JOB_FILTERED_BYTES_READ", 0, "URL_REQUEST", sid, 5100 + 100 * i, {"byte_count": 80}) for i in range(5)],
            ("FAILED", 0, "URL_REQUEST", sid, 6000, {"net_error": -355}),
            ("REQUEST_ALIVE", 2, "URL_REQUEST", sid, 6001, {"net_error": -355}),
        ]  # fmt: skip
    d = diagnose([load_netlog(_log(tmp_path, rows))])
    kinds = {s.url.rsplit("/", 1)[1]: s.kind for s in d.streams}
    assert kinds == {"run": "sse", "plain": "http-stream"}


def test_idle_sockets_the_pool_closes(tmp_path: Path) -> None:
    """SOCKET_POOL_CLOSING_SOCKET: Chrome's own idle timers (used / never used) and a server's close of an
    idle keep-alive socket, each with how long the socket sat idle in the pool."""
    p = _log(
        tmp_path,
        [
            # socket 30: used by a request until 1.0 s, then the server closed it; Chrome noticed at 7.5 s
            ("SOCKET_ALIVE", 1, "SOCKET", 30, 0, {}),
            ("TCP_CONNECT", 2, "SOCKET", 30, 10, {"remote_address": "127.0.0.1:8080"}),
            ("SOCKET_IN_USE", 1, "SOCKET", 30, 20, {"source_dependency": {"id": 99, "type": 17}}),
            ("SOCKET_IN_USE", 2, "SOCKET", 30, 1000, None),
            ("SOCKET_POOL_CLOSING_SOCKET", 0, "SOCKET", 30, 7500, {"reason": "Remote side closed connection"}),
            ("SOCKET_ALIVE", 2, "SOCKET", 30, 7500, None),
            # socket 31: preconnected, never used, Chrome's 60 s timer
            ("SOCKET_ALIVE", 1, "SOCKET", 31, 0, {}),
            ("TCP_CONNECT", 2, "SOCKET", 31, 50, {"remote_address": "127.0.0.1:8081"}),
            ("SOCKET_POOL_CLOSING_SOCKET", 0, "SOCKET", 31, 60_300, {"reason": "Idle time limit expired"}),
            ("SOCKET_ALIVE", 2, "SOCKET", 31, 60_300, None),
            # socket 32: used, then Chrome's 5 min timer
            ("SOCKET_ALIVE", 1, "SOCKET", 32, 0, {}),
            ("TCP_CONNECT", 2, "SOCKET", 32, 10, {"remote_address": "127.0.0.1:8082"}),
            ("SOCKET_IN_USE", 1, "SOCKET", 32, 20, {"source_dependency": {"id": 98, "type": 17}}),
            ("SOCKET_IN_USE", 2, "SOCKET", 32, 100, None),
            ("SOCKET_POOL_CLOSING_SOCKET", 0, "SOCKET", 32, 300_200, {"reason": "Idle time limit expired"}),
            ("SOCKET_ALIVE", 2, "SOCKET", 32, 300_200, None),
            # socket 33: the pool went away (the browser closed): neither a timer nor the server
            ("SOCKET_ALIVE", 1, "SOCKET", 33, 0, {}),
            ("TCP_CONNECT", 2, "SOCKET", 33, 10, {"remote_address": "127.0.0.1:8083"}),
            ("SOCKET_POOL_CLOSING_SOCKET", 0, "SOCKET", 33, 900, {"reason": "Socket pool destroyed"}),
            ("SOCKET_ALIVE", 2, "SOCKET", 33, 900, None),
        ],
    )  # fmt: skip
    closed = {
        o.text.rsplit("(", 1)[-1].rstrip(")"): o for o in of(load_netlog(p).observations, "socket_closed")
    }
    peer, unused, used, gone = (closed[f"127.0.0.1:808{i}"] for i in range(4))
    assert (peer.how, peer.by, peer.timer, peer.duration) == ("fin", "peer", None, 6.5)
    assert "Remote side closed connection" in (peer.text or "")
    assert (unused.how, unused.by, unused.duration) == ("timeout", "local", 60.25)
    assert unused.timer == "Chrome unused idle socket timeout (60 s)"
    assert (used.how, used.by, used.duration) == ("timeout", "local", 300.1)
    assert used.timer == "Chrome used idle socket timeout (5 min)"
    assert (gone.how, gone.by, gone.timer) == ("closed", "local", None)


def test_h2_goaway_on_an_idle_session_is_the_servers_idle_close(tmp_path: Path) -> None:
    """GOAWAY NO_ERROR with no stream open: the server's keep-alive timer, idle time from the last data."""
    goaway = {"active_streams": 0, "error_code": "0 (NO_ERROR)", "last_accepted_stream_id": 1}
    busy = {"active_streams": 1, "error_code": "0 (NO_ERROR)", "last_accepted_stream_id": 3}
    p = _log(
        tmp_path,
        [
            ("HTTP2_SESSION", 1, "HTTP2_SESSION", 40, 1000, {"host": "www.example.test:443"}),
            ("HTTP2_SESSION_RECV_DATA", 0, "HTTP2_SESSION", 40, 1200, {"fin": True, "size": 10, "stream_id": 1}),
            ("HTTP2_SESSION_RECV_GOAWAY", 0, "HTTP2_SESSION", 40, 3200, goaway),
            ("HTTP2_SESSION", 1, "HTTP2_SESSION", 41, 1000, {"host": "www.example.test:443"}),
            ("HTTP2_SESSION_RECV_GOAWAY", 0, "HTTP2_SESSION", 41, 3200, busy),
        ],
    )  # fmt: skip
    idle, busy_one = of(load_netlog(p).observations, "h2_goaway")
    assert (idle.how, idle.by, idle.duration, idle.url) == (
        "fin",
        "peer",
        2.0,
        "https://www.example.test:443/",
    )
    assert (busy_one.how, busy_one.by, busy_one.duration) == (None, None, None)  # a stream was open
