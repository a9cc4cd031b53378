"""The lab servers, driven directly by real clients (no proxy)."""

from __future__ import annotations

import asyncio
import socket
import struct
import subprocess
import sys

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tearline.lab.servers import LabServer, message_text, sse_event_bytes
from tearline.sse import SseParser
from tearline.tcp_end import end_socket

pytestmark = pytest.mark.timeout(120)


def raw_get(port: int, target: str) -> tuple[bytes, str | None]:
    """Everything received, and how the connection ended (None = FIN, 'rst')."""
    data = b""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        try:
            while chunk := s.recv(65536):
                data += chunk
        except ConnectionResetError:
            return data, "rst"
    return data, None


def dechunk(body: bytes) -> tuple[list[bytes], bool]:
    chunks, rest = [], body
    while rest:
        size_line, sep, rest = rest.partition(b"\r\n")
        if not sep:
            break
        n = int(size_line, 16)
        if n == 0:
            return chunks, True
        chunks.append(rest[:n])
        rest = rest[n + 2 :]
    return chunks, False


def test_sse_events_split_and_terminated(lab_server):
    data, end = raw_get(lab_server.port, "/sse?n=3&interval_ms=10&split=1&ids=1&event=e&size=30")
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"text/event-stream" in head and b"chunked" in head and end is None
    chunks, terminated = dechunk(body)
    assert terminated and len(chunks) == 6
    assert b"".join(chunks) == b"".join(sse_event_bytes(i, event="e", ids=True, size=30) for i in range(3))
    p = SseParser()
    evs = [e for c in chunks for e in p.feed(c)]
    assert [(e.id, e.data) for e in evs] == [(str(i), message_text(i, 30)) for i in range(3)]


@pytest.mark.parametrize(
    ("end", "how", "terminated"), [("cut", None, False), ("rst", "rst", False), ("partial", None, False)]
)
def test_stream_endings(lab_server, end, how, terminated):
    data, got = raw_get(lab_server.port, f"/sse?n=2&interval_ms=10&end={end}")
    chunks, term = dechunk(data.partition(b"\r\n\r\n")[2])
    assert term is terminated and got == how
    assert len(chunks) == (3 if end == "partial" else 2) or how == "rst"


def test_length_and_plain(lab_server):
    data, _ = raw_get(lab_server.port, "/length?size=100")
    assert b"Content-Length: 100" in data and data.endswith(message_text(0, 100).encode())
    cut, _ = raw_get(lab_server.port, "/length?size=100&end=cut")
    assert len(cut.partition(b"\r\n\r\n")[2]) == 50
    assert raw_get(lab_server.port, "/")[0].endswith(b"ok\n")


async def _ws(url: str, send: list[str] = (), close: tuple[int, str] | None = None):
    got = []
    try:
        async with connect(url, compression=None) as ws:
            for m in send:
                await ws.send(m)
            if close:
                got.append(await ws.recv())
                await ws.close(*close)
            async for m in ws:
                got.append(m)
        return got, ws.close_code, None
    except ConnectionClosed as e:
        return got, e.rcvd.code if e.rcvd else None, str(e)


def test_ws_close_code_and_echo(lab_server):
    got, code, _ = asyncio.run(
        _ws(lab_server.ws_url("/ws?n=2&interval_ms=10&end=close&code=4003&reason=r&end_delay_ms=200"), ["x"])
    )
    assert sorted(got) == sorted([message_text(0, 16), message_text(1, 16), "x"])
    assert code == 4003
    assert [e.size for e in lab_server.events("ws_message")] == [1]


def test_ws_client_close_is_observed(lab_server):
    _, code, _ = asyncio.run(_ws(lab_server.ws_url("/ws?n=1"), close=(4100, "bye")))
    assert code == 4100
    (ev,) = lab_server.events("ws_close_received")
    assert (ev.code, ev.text) == (4100, "bye")


@pytest.mark.parametrize("end", ["fin", "rst"])
def test_ws_drop_without_close_frame(lab_server, end):
    got, code, err = asyncio.run(_ws(lab_server.ws_url(f"/ws?n=2&interval_ms=10&end={end}")))
    assert len(got) == 2 and code is None and "no close frame" in err


def test_ws_rst_is_a_real_reset(lab_server):
    """Read the raw socket: the kernel reports ECONNRESET, not EOF."""
    with socket.create_connection(("127.0.0.1", lab_server.port), timeout=30) as s:
        s.sendall(
            b"GET /ws?n=1&end=rst HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        with pytest.raises(ConnectionResetError):
            while s.recv(65536):
                pass


def test_ws_answer_0_does_not_answer_close(lab_server):
    async def go():
        async with connect(lab_server.ws_url("/ws?answer=0"), compression=None, close_timeout=1) as ws:
            await ws.close(1000)
        return ws.close_code

    assert asyncio.run(go()) in (1006, None)
    assert not lab_server.events("ws_close_sent")


def test_observed_client_reset(lab_server):
    s = socket.create_connection(("127.0.0.1", lab_server.port), timeout=30)
    s.sendall(b"GET /sse?n=100&interval_ms=50 HTTP/1.1\r\nHost: x\r\n\r\n")
    s.recv(100)
    end_socket(s, "rst")
    for _ in range(200):
        if lab_server.events("reset") or lab_server.events("error"):
            break
        asyncio.run(asyncio.sleep(0.05))
    assert lab_server.events("reset") or lab_server.events("error")


def test_runs_as_a_subprocess():
    proc = subprocess.Popen(
        [sys.executable, "-m", "tearline.lab.servers", "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("listening at 127.0.0.1:")
        port = int(line.rsplit(":", 1)[1])
        assert raw_get(port, "/")[0].endswith(b"ok\n")
    finally:
        proc.terminate()
        proc.wait(30)


def test_async_api_in_a_running_loop():
    async def go():
        server = await LabServer().start_async()
        try:
            async with connect(server.ws_url("/ws?n=1"), compression=None) as ws:
                return await ws.recv()
        finally:
            await server.stop_async()

    assert asyncio.run(go()) == message_text(0, 16)


def _masked(opcode: int, payload: bytes) -> bytes:
    mask = b"\x01\x02\x03\x04"
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + body


def test_ws_data_and_close_in_one_read_are_both_observed(lab_server):
    """A client that sends a message and its close frame in one segment: the echo server must
    record both and answer the close, not crash echoing into a closing connection."""
    with socket.create_connection(("127.0.0.1", lab_server.port), timeout=30) as s:
        s.sendall(
            b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += s.recv(4096)
        assert head.startswith(b"HTTP/1.1 101")
        s.sendall(_masked(0x1, b"last words") + _masked(0x8, struct.pack("!H", 1000) + b"done"))
        reply = head.split(b"\r\n\r\n", 1)[1]
        while chunk := s.recv(65536):
            reply += chunk
    assert b"\x88" in reply  # the server answered the close frame
    for _ in range(100):
        if lab_server.events("ws_close_received"):
            break
        asyncio.run(asyncio.sleep(0.05))
    assert [e.size for e in lab_server.events("ws_message")] == [10]
    (close,) = lab_server.events("ws_close_received")
    assert (close.code, close.text) == (1000, "done")


@pytest.mark.parametrize(
    ("target", "named"),
    [
        ("/sse?n=3&interval=0.2", "'interval'"),  # interval_ms misspelt: no silent default
        ("/stream?n=three", "n='three'"),
        ("/sse?end=explode", "end='explode'"),
        ("/length?n=3", "'n'"),
        ("/?foo=1", "'foo'"),
    ],
)
def test_unknown_parameters_are_errors(lab_server, target, named):
    data, _ = raw_get(lab_server.port, target)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ") and named.encode() in body
    (err,) = lab_server.events("error")
    assert named in err.text and err.path == target


def test_unknown_websocket_parameter_refuses_the_handshake(lab_server):
    async def go() -> None:
        async with connect(lab_server.ws_url("/ws?n=1&intervl_ms=5"), compression=None):
            pass

    with pytest.raises(Exception, match="400"):
        asyncio.run(go())
    assert "'intervl_ms'" in lab_server.events("error")[0].text
    assert not lab_server.events("ws_open")


def test_extra_parameters_are_declared_and_ignored():
    with LabServer(extra_params={"label"}) as server:
        data, _ = raw_get(server.port, "/length?size=10&label=run-1")
    assert data.startswith(b"HTTP/1.1 200 OK") and data.endswith(message_text(0, 10).encode())
    assert not server.events("error")


def test_keep_alive_serves_requests_in_turn(lab_server):
    with socket.create_connection(("127.0.0.1", lab_server.port), timeout=30) as s:
        s.sendall(
            b"GET /length?size=5 HTTP/1.1\r\nHost: x\r\n\r\nGET /stream?n=1&size=4 HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        data = b""
        while data.count(b"HTTP/1.1 200 OK") < 2 or not data.endswith(b"0\r\n\r\n"):
            data += s.recv(65536)
    assert [e.path for e in lab_server.events("request")] == ["/length?size=5", "/stream?n=1&size=4"]
    assert len({e.conn for e in lab_server.events("request")}) == 1
