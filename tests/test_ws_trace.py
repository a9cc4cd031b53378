"""The recorder against real parts: a real mitmdump (reverse mode) running addons/ws_trace.py
in front of the real lab servers, with real WebSocket and raw-socket HTTP clients."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tearline.capture import read_capture
from tearline.events import (
    BodyChunk,
    BodyEnd,
    ConnClose,
    ConnOpen,
    Event,
    HttpRequest,
    HttpResponse,
    SseEvent,
    WsClose,
    WsMessage,
)
from tearline.lab.mitmdump import MitmdumpFailed
from tearline.lab.servers import message_text, sse_event_bytes
from tests.fixtures_proxy import http_get, ws_session

# query parameters the lab server ignores here (the recorder must redact token= and keep keep=)
LAB_EXTRA_PARAMS = {"token", "keep"}

pytestmark = pytest.mark.timeout(180)


def events_of(path: Path, *types: type[Event], stream: str | None = None) -> list[Any]:
    cap = read_capture(path)
    return [e for e in cap.events if isinstance(e, types) and (stream is None or e.stream == stream)]


def wait_for(pred: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    return pred()


def stream_of(path: Path, route: str) -> str:
    reqs = [e for e in events_of(path, HttpRequest) if route in e.url]
    assert len(reqs) == 1, reqs
    return reqs[0].stream


# --- WebSocket --------------------------------------------------------------------------------


def test_ws_client_close_records_every_message_in_order(recorder, lab_server):
    proxy = recorder()
    res = asyncio.run(
        ws_session(
            f"{proxy.ws_base}/ws?n=3&interval_ms=30&size=40",
            send=["a", "bb", "ccc"],
            close=(4001, "done"),
            expect=6,
        )
    )
    assert res["code"] == 4001
    proxy.stop()
    cap = proxy.capture
    sid = stream_of(cap, "/ws?")
    msgs = events_of(cap, WsMessage, stream=sid)
    client = [m for m in msgs if m.direction == "client"]
    server = [m for m in msgs if m.direction == "server"]
    assert [m.size for m in client] == [1, 2, 3]
    assert [m.index for m in client] == [0, 1, 2]
    # 3 scripted 40-byte messages plus 3 echoes, in the order the server sent them
    assert sorted(m.size for m in server) == sorted([40, 40, 40, 1, 2, 3])
    assert len(server) == len(res["received"]) == 6
    assert [m.size for m in server] == [len(x) for x in res["received"]]
    assert all(m.opcode == "text" and not m.injected for m in msgs)
    assert [m.ts for m in msgs] == sorted(m.ts for m in msgs)
    (close,) = events_of(cap, WsClose, stream=sid)
    assert (close.code, close.reason, close.closed_by, close.frame) == (4001, "done", "client", True)
    assert close.answered is True
    assert wait_for(lambda: lab_server.events("ws_close_received"))[0].code == 4001
    assert read_capture(cap).complete


def test_ws_server_close_frame(recorder):
    proxy = recorder()
    res = asyncio.run(
        ws_session(f"{proxy.ws_base}/ws?n=2&interval_ms=20&end=close&code=4000&reason=bye", [], None, 2)
    )
    assert res["code"] == 4000
    proxy.stop()
    sid = stream_of(proxy.capture, "/ws?")
    (close,) = events_of(proxy.capture, WsClose, stream=sid)
    assert (close.code, close.reason, close.closed_by, close.frame) == (4000, "bye", "server", True)
    assert [m.size for m in events_of(proxy.capture, WsMessage, stream=sid)] == [16, 16]


@pytest.mark.parametrize(("end", "how", "errno"), [("fin", "fin", None), ("rst", "rst", 104)])
def test_ws_server_drops_tcp_without_close_frame(recorder, end, how, errno):
    proxy = recorder()
    asyncio.run(ws_session(f"{proxy.ws_base}/ws?n=3&interval_ms=20&end={end}", [], None, 3))
    proxy.stop()
    cap = proxy.capture
    sid = stream_of(cap, "/ws?")
    assert len(events_of(cap, WsMessage, stream=sid)) == 3
    (close,) = events_of(cap, WsClose, stream=sid)
    assert close.frame is False
    assert close.code == 1006
    assert close.closed_by == "server"
    assert close.transport_end == how
    (req,) = [e for e in events_of(cap, HttpRequest) if e.stream == sid]
    server_closes = [e for e in events_of(cap, ConnClose) if e.conn == req.server_conn]
    assert len(server_closes) == 1
    assert (server_closes[0].leg, server_closes[0].by, server_closes[0].how) == ("server", "peer", how)
    assert server_closes[0].errno == errno
    opens = [e for e in events_of(cap, ConnOpen) if e.conn == req.server_conn]
    assert opens[0].client_conn == req.conn


# --- SSE and streamed bodies ------------------------------------------------------------------


def test_sse_split_across_chunks_is_streamed_and_parsed(recorder):
    proxy = recorder()
    t0 = time.time()
    body = http_get(proxy.port, "/sse?n=4&interval_ms=100&split=1&ids=1&event=tick&retry=500")
    assert body.endswith(b"0\r\n\r\n")
    proxy.stop()
    cap = proxy.capture
    sid = stream_of(cap, "/sse?")
    (resp,) = events_of(cap, HttpResponse, stream=sid)
    assert (resp.kind, resp.streamed, resp.status) == ("sse", True, 200)
    chunks = events_of(cap, BodyChunk, stream=sid)
    expected = [sse_event_bytes(i, event="tick", ids=True, retry=500 if i == 0 else None) for i in range(4)]
    assert sum(c.size for c in chunks) == sum(len(e) for e in expected)
    assert len(chunks) >= 5  # split events arrive in several chunks
    evs = events_of(cap, SseEvent, stream=sid)
    assert [(e.event, e.id, e.index, e.partial) for e in evs] == [
        ("tick", str(i), i, False) for i in range(4)
    ]
    assert evs[0].retry == 500
    assert all(e.data_len == 16 for e in evs)
    # recorded live, chunk by chunk, over the ~300 ms the server took (not all at the end)
    assert chunks[-1].ts - chunks[0].ts > 0.2
    assert chunks[0].ts >= t0
    (end,) = events_of(cap, BodyEnd, stream=sid)
    assert (end.complete, end.how, end.chunks) == (True, "terminated", len(chunks))


def test_sse_cut_mid_event_records_partial_event(recorder):
    proxy = recorder()
    body = http_get(proxy.port, "/sse?n=2&interval_ms=20&end=partial")
    assert not body.endswith(b"0\r\n\r\n")
    proxy.stop()
    cap = proxy.capture
    sid = stream_of(cap, "/sse?")
    evs = events_of(cap, SseEvent, stream=sid)
    assert [e.partial for e in evs] == [False, False, True]
    (end,) = events_of(cap, BodyEnd, stream=sid)
    assert (end.complete, end.how) == (False, "cut")
    assert end.error


def test_chunked_stream_and_length_body(recorder):
    proxy = recorder()
    http_get(proxy.port, "/stream?n=3&size=100&interval_ms=20")
    http_get(proxy.port, "/length?size=500")
    proxy.stop()
    cap = proxy.capture
    sid = stream_of(cap, "/stream?")
    (resp,) = events_of(cap, HttpResponse, stream=sid)
    assert (resp.kind, resp.streamed) == ("http-stream", True)
    assert [c.size for c in events_of(cap, BodyChunk, stream=sid)] == [100, 100, 100]
    lid = stream_of(cap, "/length?")
    (lresp,) = events_of(cap, HttpResponse, stream=lid)
    assert (lresp.kind, lresp.streamed, lresp.content_length) == ("http", False, 500)
    (lend,) = events_of(cap, BodyEnd, stream=lid)
    assert (lend.complete, lend.how, lend.total_bytes) == (True, "length", 500)


def test_client_abort_mid_sse_is_recorded_as_client_end(recorder):
    proxy = recorder()
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=30) as s:
        s.sendall(b"GET /sse?n=50&interval_ms=50 HTTP/1.1\r\nHost: x\r\n\r\n")
        got = b""
        while got.count(b"data:") < 2:
            got += s.recv(65536)
    wait_for(lambda: events_of(proxy.capture, BodyEnd), timeout=20)
    proxy.stop()
    cap = proxy.capture
    sid = stream_of(cap, "/sse?")
    (end,) = events_of(cap, BodyEnd, stream=sid)
    assert end.complete is False
    (req,) = [e for e in events_of(cap, HttpRequest) if e.stream == sid]
    (cclose,) = [e for e in events_of(cap, ConnClose) if e.conn == req.conn]
    assert (cclose.leg, cclose.by, cclose.how) == ("client", "peer", "fin")


# --- privacy and payloads ---------------------------------------------------------------------


def test_secrets_are_redacted_by_default_and_configurably(recorder):
    proxy = recorder(options={"trace_redact_headers": "+x-secret"})
    http_get(
        proxy.port,
        "/length?size=10&token=SECRET1&keep=visible",
        headers={"Authorization": "Bearer SECRET2", "Cookie": "sid=SECRET3", "X-Secret": "SECRET4"},
    )
    proxy.stop()
    text = proxy.capture.read_text()
    for secret in ("SECRET1", "SECRET2", "SECRET3", "SECRET4"):
        assert secret not in text
    (req,) = events_of(proxy.capture, HttpRequest)
    assert "token=[redacted]" in req.url and "keep=visible" in req.url
    hdrs = dict(req.headers)
    assert hdrs["Authorization"] == hdrs["X-Secret"] == "[redacted]"


def test_payload_none_by_default_preview_on_request(recorder, tmp_path):
    proxy = recorder(options={"trace_payload": "preview:4"})
    asyncio.run(ws_session(f"{proxy.ws_base}/ws?n=1&size=20", ["hello world"], (1000, ""), 2))
    proxy.stop()
    msgs = events_of(proxy.capture, WsMessage)
    by_dir = {m.direction: m for m in msgs if m.index == 0}
    assert by_dir["client"].payload == "hell" and by_dir["client"].payload_truncated
    assert by_dir["server"].payload == message_text(0, 20)[:4]
    proxy2 = recorder(capture=tmp_path / "none.jsonl")
    asyncio.run(ws_session(f"{proxy2.ws_base}/ws", ["secret-body"], (1000, ""), 1))
    proxy2.stop()
    assert "secret-body" not in (tmp_path / "none.jsonl").read_text()
    assert all(m.payload is None for m in events_of(tmp_path / "none.jsonl", WsMessage))


# --- durability and options -------------------------------------------------------------------


@pytest.mark.slow
def test_kill_9_during_traffic_leaves_a_readable_capture(recorder):
    proxy = recorder()

    async def go() -> int:
        n = 0
        try:
            async with connect(f"{proxy.ws_base}/ws?n=400&interval_ms=10", compression=None) as ws:
                async for _ in ws:
                    n += 1
                    if n == 60:
                        proxy.kill()
        except (ConnectionClosed, OSError):
            pass
        return n

    received = asyncio.run(go())
    assert received >= 60
    cap = read_capture(proxy.capture)
    assert not cap.complete
    assert any("no capture_end footer" in w for w in cap.warnings)
    msgs = [e for e in cap.events if isinstance(e, WsMessage)]
    # at most the last flush interval (100 ms, ~10 messages here) is lost
    assert len(msgs) >= 30
    assert [m.index for m in msgs] == list(range(len(msgs)))


def test_idle_capture_is_flushed_by_the_timer(recorder):
    proxy = recorder()
    http_get(proxy.port, "/length?size=3")
    assert wait_for(lambda: events_of(proxy.capture, BodyEnd), timeout=10)
    proxy.kill()


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("trace_payload", "bogus", ["trace_payload", "none", "preview:N", "full"]),
        ("trace_keep_messages", "-5", ["trace_keep_messages", "-1"]),
        ("trace_stream", "~u (", ["trace_stream", "filter"]),
        ("trace_flush_ms", "0", ["trace_flush_ms", "1 to 1000"]),
    ],
)
def test_bad_option_stops_mitmdump_with_a_clear_message(recorder, option, value, words):
    with pytest.raises(MitmdumpFailed) as err:
        recorder(options={option: value})
    log = err.value.log
    line = next(line for line in log.splitlines() if option in line and value.strip() in line)
    for w in words:
        assert w in line


def test_trace_stream_filter_streams_a_length_response(recorder):
    proxy = recorder(options={"trace_stream": "~u /length"})
    http_get(proxy.port, "/length?size=300")
    proxy.stop()
    (resp,) = events_of(proxy.capture, HttpResponse)
    assert (resp.kind, resp.streamed) == ("http-stream", True)
    assert sum(c.size for c in events_of(proxy.capture, BodyChunk)) == 300
    (end,) = events_of(proxy.capture, BodyEnd)
    assert (end.complete, end.how) == (True, "length")


def test_default_trace_file_goes_to_captures_dir(start_mitmdump, lab_server, tmp_path):
    from tests.fixtures_proxy import WS_TRACE

    proxy = start_mitmdump(scripts=[WS_TRACE], mode=f"reverse:{lab_server.base}")
    http_get(proxy.port, "/length?size=5")
    proxy.stop()
    files = list((tmp_path / "captures").glob("*Z.jsonl"))
    assert len(files) == 1
    assert read_capture(files[0]).complete


# --- other modes and TLS -----------------------------------------------------------------------


def _sse_via_proxy(port: int, server_port: int) -> bytes:
    """An absolute-form request, as a browser configured with --proxy-server sends it."""
    target = f"http://127.0.0.1:{server_port}/sse?n=3&interval_ms=10"
    data = b""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(
            f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{server_port}\r\nConnection: close\r\n\r\n".encode()
        )
        while chunk := s.recv(65536):
            data += chunk
    return data


def test_regular_proxy_mode_records_sse_and_ws(start_mitmdump, lab_server, tmp_path):
    from tests.fixtures_proxy import WS_TRACE

    cap = tmp_path / "regular.jsonl"
    proxy = start_mitmdump(scripts=[WS_TRACE], mode="regular", options={"trace_file": str(cap)})
    assert _sse_via_proxy(proxy.port, lab_server.port).endswith(b"0\r\n\r\n")

    async def ws_via_proxy() -> int | None:
        async with connect(lab_server.ws_url("/ws?n=2"), proxy=proxy.url, compression=None) as ws:
            await ws.recv()
            await ws.recv()
            await ws.close(4005, "via proxy")
        return ws.close_code

    assert asyncio.run(ws_via_proxy()) == 4005
    proxy.stop()
    caps = read_capture(cap)
    assert caps.header["mode"] == ["regular"]
    sid = stream_of(cap, "/sse?")
    assert len(events_of(cap, SseEvent, stream=sid)) == 3
    wid = stream_of(cap, "/ws?")
    assert len(events_of(cap, WsMessage, stream=wid)) == 2
    (close,) = events_of(cap, WsClose, stream=wid)
    assert (close.code, close.closed_by) == (4005, "client")


@pytest.mark.slow
def test_upstream_mode_records_through_a_second_proxy(start_mitmdump, lab_server, tmp_path):
    from tests.fixtures_proxy import WS_TRACE

    parent = start_mitmdump(mode="regular")
    cap = tmp_path / "upstream.jsonl"
    proxy = start_mitmdump(
        scripts=[WS_TRACE], mode=f"upstream:{parent.url}", options={"trace_file": str(cap)}
    )
    assert _sse_via_proxy(proxy.port, lab_server.port).endswith(b"0\r\n\r\n")
    proxy.stop()
    sid = stream_of(cap, "/sse?")
    assert len(events_of(cap, SseEvent, stream=sid)) == 3
    from tearline.analysis.summary.frames import df_streams

    (row,) = df_streams(cap).to_dict("records")
    (server_open,) = [e for e in events_of(cap, ConnOpen) if e.conn == row["server_conn"]]
    assert server_open.peer == f"127.0.0.1:{parent.port}"  # the server leg goes to the parent proxy
    assert row["closed_by"] == "server" and row["server_messages"] == 3


def test_tls_client_leg_is_recorded(recorder):
    import ssl

    from tearline.events import ConnTls

    proxy = recorder()
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    with (
        socket.create_connection(("127.0.0.1", proxy.port), timeout=30) as raw,
        ctx.wrap_socket(raw, server_hostname="tearline.localhost") as s,
    ):
        s.sendall(b"GET /length?size=7 HTTP/1.1\r\nHost: tearline.localhost\r\nConnection: close\r\n\r\n")
        data = b""
        version = s.version()
        while chunk := s.recv(65536):
            data += chunk
    assert data.endswith(message_text(0, 7).encode())
    proxy.stop()
    (tls,) = events_of(proxy.capture, ConnTls)
    assert (tls.leg, tls.tls_version, tls.sni, tls.alpn) == (
        "client",
        version,
        "tearline.localhost",
        "http/1.1",
    )
    (req,) = events_of(proxy.capture, HttpRequest)
    assert req.conn == tls.conn


# --- what a fault did to the traffic --------------------------------------------------------------

FAULTS = Path(__file__).resolve().parent.parent / "addons" / "faults.py"
WS_TRACE = Path(__file__).resolve().parent.parent / "addons" / "ws_trace.py"
SCRIPT_ORDERS = {"recorder-first": [WS_TRACE, FAULTS], "faults-first": [FAULTS, WS_TRACE]}


def faulty_proxy(start_mitmdump, lab_server, tmp_path, order, fault):
    cap = tmp_path / "capture.jsonl"
    proxy = start_mitmdump(
        scripts=SCRIPT_ORDERS[order],
        mode=f"reverse:{lab_server.base}",
        options={"trace_file": str(cap), "trace_payload": "full", "fault": [fault]},
    )
    return proxy, cap


@pytest.mark.parametrize("order", sorted(SCRIPT_ORDERS))
def test_ws_message_a_fault_drops_is_recorded_as_dropped(start_mitmdump, lab_server, tmp_path, order):
    proxy, cap = faulty_proxy(
        start_mitmdump, lab_server, tmp_path, order, "drop:stream=ws,direction=server,regex=^[13]:"
    )
    res = asyncio.run(
        ws_session(f"{proxy.ws_base}/ws?n=5&interval_ms=20&end=close&code=1000", ["hi"], None, 3)
    )
    got = [m[:2] for m in res["received"]]
    assert "1:" not in got and "3:" not in got and "0:" in got and "4:" in got
    proxy.stop()
    sid = stream_of(cap, "/ws?")
    cap_events = [e for e in read_capture(cap).events if getattr(e, "stream", None) == sid]
    server = [e for e in cap_events if isinstance(e, WsMessage) and e.direction == "server"]
    assert [(e.payload[:2], e.dropped) for e in server if e.payload[:2] != "hi"] == [
        ("0:", False),
        ("1:", True),
        ("2:", False),
        ("3:", True),
        ("4:", False),
    ]
    assert [e.index for e in server] == list(range(len(server)))
    client = [e for e in cap_events if isinstance(e, WsMessage) and e.direction == "client"]
    assert [(e.payload, e.dropped, e.injected) for e in client] == [("hi", False, False)]
    # arrival times kept, and the drop's fault_fired right beside its message (before with the
    # fault addon first, after with the recorder first: the order the two were emitted in)
    assert [e.ts for e in server] == sorted(e.ts for e in server)
    kinds = [
        "drop" if isinstance(e, WsMessage) and e.dropped else "fired" if e.type == "fault_fired" else "-"
        for e in cap_events
    ]
    pairs = ["drop", "fired"] if order == "recorder-first" else ["fired", "drop"]
    at = [i for i, k in enumerate(kinds) if k == pairs[0]]
    assert len(at) == 2 and all(kinds[i + 1] == pairs[1] for i in at), kinds


@pytest.mark.parametrize("order", sorted(SCRIPT_ORDERS))
def test_sse_events_a_fault_drops_are_not_recorded_as_forwarded(start_mitmdump, lab_server, tmp_path, order):
    proxy, cap = faulty_proxy(start_mitmdump, lab_server, tmp_path, order, "drop:stream=sse,after_messages=2")
    body = http_get(proxy.port, "/sse?n=5&interval_ms=20&ids=1&split=1", {"Accept": "text/event-stream"})
    assert body.endswith(b"0\r\n\r\n")
    proxy.stop()
    sid = stream_of(cap, "/sse?")
    evs = events_of(cap, SseEvent, stream=sid)
    assert [e.id for e in evs] == ["0", "1"]  # the body the browser got: the recorder sees it
    forwarded = sum(len(sse_event_bytes(i, ids=True)) for i in range(2))
    assert sum(c.size for c in events_of(cap, BodyChunk, stream=sid)) == forwarded
    (end,) = events_of(cap, BodyEnd, stream=sid)
    assert (end.complete, end.total_bytes) == (True, forwarded)


def test_header_records_the_recorder_options_and_mitmproxys_timers(recorder):
    proxy = recorder(options={"tcp_timeout": 42, "trace_payload": "preview:8"})
    proxy.stop()
    header = read_capture(proxy.capture).header
    assert header["options"]["tcp_timeout"] == 42
    assert header["options"]["trace_payload"] == "preview:8"
    assert header["options"]["websocket"] is True
