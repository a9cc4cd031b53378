"""tearline.lab.incident.backend: the AG-UI agent imitation, against real clients on 127.0.0.1."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import time
from pathlib import Path

import pytest
import websockets

from tearline.lab.incident.backend import RunningBackend, RunPlan, agui_events, read_ws_frame, ws_frame


def test_run_plan_from_query() -> None:
    assert RunPlan.from_query("") == RunPlan()
    plan = RunPlan.from_query("end=cut&deltas=9&after=4&interval_ms=20")
    assert (plan.end, plan.deltas, plan.after, plan.interval, plan.sent_before_end) == ("cut", 9, 4, 0.02, 4)
    assert RunPlan.from_query("end=bogus").end == "finish"


def test_agui_events_finish_only_on_a_clean_run() -> None:
    full = [e["type"] for e in agui_events(RunPlan(deltas=2), "r1")]
    assert full == [
        "RUN_STARTED",
        "TEXT_MESSAGE_START",
        "TEXT_MESSAGE_CONTENT",
        "TEXT_MESSAGE_CONTENT",
        "TEXT_MESSAGE_END",
        "RUN_FINISHED",
    ]
    cut = [e["type"] for e in agui_events(RunPlan(deltas=5, after=1, end="cut"), "r1")]
    assert cut == ["RUN_STARTED", "TEXT_MESSAGE_START", "TEXT_MESSAGE_CONTENT"]


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536])
def test_ws_frame_lengths_round_trip(size: int) -> None:
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    frame = ws_frame(0x2, payload)

    async def read() -> tuple[int, bytes]:
        reader = asyncio.StreamReader()
        reader.feed_data(frame)
        reader.feed_eof()
        return await read_ws_frame(reader)

    assert asyncio.run(read()) == (0x2, payload)


def sse_post(port: int, query: str) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    conn.request("POST", f"/agent/run?{query}", body=b"{}", headers={"Content-Type": "application/json"})
    return conn.getresponse()


def data_events(body: bytes) -> list[str]:
    return [json.loads(b[5:])["type"] for b in body.split(b"\n\n") if b.startswith(b"data:")]


def test_sse_finish_is_a_complete_chunked_body(incident_backend: RunningBackend) -> None:
    resp = sse_post(incident_backend.port, "deltas=3&interval_ms=10")
    assert resp.status == 200 and resp.getheader("Content-Type") == "text/event-stream"
    assert resp.getheader("Transfer-Encoding") == "chunked"
    events = data_events(resp.read())
    assert events[0] == "RUN_STARTED" and events[-1] == "RUN_FINISHED" and len(events) == 7


def test_sse_cut_ends_without_terminating_chunk(incident_backend: RunningBackend) -> None:
    resp = sse_post(incident_backend.port, "deltas=10&after=2&end=cut&interval_ms=10")
    with pytest.raises(http.client.IncompleteRead) as err:
        resp.read()
    assert (
        data_events(err.value.partial) == ["RUN_STARTED", "TEXT_MESSAGE_START"] + ["TEXT_MESSAGE_CONTENT"] * 2
    )


def test_sse_reset_is_a_tcp_rst(incident_backend: RunningBackend) -> None:
    resp = sse_post(incident_backend.port, "deltas=10&after=1&end=reset&interval_ms=10")
    with pytest.raises(ConnectionResetError):
        while resp.read(1):
            pass


def test_sse_garbage_breaks_chunk_framing(incident_backend: RunningBackend) -> None:
    resp = sse_post(incident_backend.port, "deltas=10&after=1&end=garbage&interval_ms=10")
    with pytest.raises((http.client.IncompleteRead, ValueError)):
        resp.read()


def test_sse_stall_stays_open_and_logs_when_the_client_leaves(incident_backend: RunningBackend) -> None:
    sock = socket.create_connection(("127.0.0.1", incident_backend.port), timeout=10)
    sock.sendall(
        b"POST /agent/run?deltas=10&after=1&end=stall&interval_ms=10 HTTP/1.1\r\nHost: x\r\n"
        b"Content-Length: 2\r\n\r\n{}"
    )
    sock.settimeout(1.0)
    received = b""
    with pytest.raises(TimeoutError):  # open and silent
        while chunk := sock.recv(4096):
            received += chunk
    assert b"TEXT_MESSAGE_CONTENT" in received and b"RUN_FINISHED" not in received
    sock.close()
    msgs: list[str] = []
    for _ in range(100):
        msgs = [json.loads(x)["msg"] for x in incident_backend.log_path.read_text().splitlines()]
        if "client went away" in msgs:
            break
        time.sleep(0.05)
    assert msgs[-1] == "client went away"


def backend_log(backend: RunningBackend, until: str) -> list[dict[str, object]]:
    """The back end's log lines once one says ``until`` (polled: the server writes from its own thread)."""
    lines: list[dict[str, object]] = []
    for _ in range(200):
        lines = [json.loads(x) for x in backend.log_path.read_text().splitlines()]
        if any(d["msg"] == until for d in lines):
            return lines
        time.sleep(0.05)
    raise AssertionError(f"no {until!r} in the back end's log: {lines}")


@pytest.mark.parametrize("finish_body", [True, False], ids=["ended", "cut"])
def test_sse_reads_a_streamed_upload_while_answering(
    incident_backend: RunningBackend, finish_body: bool
) -> None:
    """A chunked request body (a browser's streamed upload) is read as it arrives while the answer streams;
    a body cut off mid-upload (a proxy's read timeout) is logged as cut and ends the run."""
    sock = socket.create_connection(("127.0.0.1", incident_backend.port), timeout=10)
    sock.sendall(
        b"POST /agent/run?deltas=100&interval_ms=20 HTTP/1.1\r\nHost: x\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n"
    )
    first = sock.recv(4096)
    assert first.startswith(b"HTTP/1.1 200") and b"text/event-stream" in first  # answering mid-upload
    backend_log(incident_backend, "request body chunk")
    if finish_body:
        sock.sendall(b"1\r\n \r\n0\r\n\r\n")
        lines = backend_log(incident_backend, "request body ended")
        assert [d.get("bytes_received") for d in lines if d["msg"] == "request body ended"] == [3]
        assert "client went away" not in [d["msg"] for d in lines]  # the run goes on after the body
        sock.close()
        backend_log(incident_backend, "client went away")
    else:
        sock.close()
        lines = backend_log(incident_backend, "client went away")
        assert [d.get("bytes_received") for d in lines if d["msg"] == "request body cut"] == [2]


async def ws_run(port: int, query: str) -> tuple[list[str], int | None, str]:
    types: list[str] = []
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws?{query}", open_timeout=10) as ws:
        try:
            async for m in ws:
                types.append(json.loads(m)["type"])
        except websockets.ConnectionClosed:
            pass
        rcvd = ws.protocol.close_rcvd
        return types, (rcvd.code if rcvd else None), (rcvd.reason if rcvd else "")


@pytest.mark.parametrize(
    ("end", "code", "reason", "last"),
    [
        ("finish", 1000, "run finished", "RUN_FINISHED"),
        ("going_away", 1001, "agent restarting", "TEXT_MESSAGE_CONTENT"),
        ("cut", None, "", "TEXT_MESSAGE_CONTENT"),
        ("reset", None, "", "TEXT_MESSAGE_CONTENT"),
    ],
)
def test_websocket_ends(
    incident_backend: RunningBackend, end: str, code: int | None, reason: str, last: str
) -> None:
    types, got_code, got_reason = asyncio.run(
        ws_run(incident_backend.port, f"deltas=3&after=2&end={end}&interval_ms=10")
    )
    assert (got_code, got_reason) == (code, reason)
    assert types[0] == "RUN_STARTED" and types[-1] == last


def test_websocket_reserved_opcode_fails_the_client(incident_backend: RunningBackend) -> None:
    types, code, _ = asyncio.run(ws_run(incident_backend.port, "deltas=3&after=1&end=garbage&interval_ms=10"))
    assert types == ["RUN_STARTED", "TEXT_MESSAGE_START", "TEXT_MESSAGE_CONTENT"]
    assert code is None  # the client failed the connection itself (it sent 1002)
    log = [json.loads(x) for x in incident_backend.log_path.read_text().splitlines()]
    assert any(e["msg"] == "client closed" and e["code"] == 1002 for e in log)


def test_client_close_is_answered_and_logged(incident_backend: RunningBackend) -> None:
    async def run() -> None:
        async with websockets.connect(f"ws://127.0.0.1:{incident_backend.port}/ws?deltas=100") as ws:
            await ws.recv()
            await ws.close(4000, "bye")
            rcvd = ws.protocol.close_rcvd
            assert rcvd is not None and rcvd.code == 4000

    asyncio.run(run())
    log = [json.loads(x) for x in incident_backend.log_path.read_text().splitlines()]
    assert any(e["msg"] == "client closed" and e["code"] == 4000 and e["reason"] == "bye" for e in log)


def test_static_pages_and_cors_preflight(incident_backend: RunningBackend, tmp_path: Path) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", incident_backend.port, timeout=10)
    conn.request("GET", "/chat.html")
    resp = conn.getresponse()
    assert resp.status == 200 and b"new WebSocket" in resp.read()
    conn.request("OPTIONS", "/agent/run")
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 204 and resp.getheader("Access-Control-Allow-Origin") == "*"
    conn.request("GET", "/../backend.py")
    resp = conn.getresponse()
    assert resp.status == 404 and resp.read() == b"not found\n"
