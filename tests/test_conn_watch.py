"""conn_watch: classifying connection ends (pure) and seeing them through a real mitmdump."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
from collections.abc import Callable

import pytest
from tearline.addons.conn_watch import TLS_CLOSE_NOTIFY, EndReason, reason_from_exception

from tearline.capture import read_capture
from tearline.events import ConnClose, HttpRequest
from tearline.tcp_end import end_socket
from tests.conftest import wait_for
from tests.h2_server import self_signed

# query parameters the lab server ignores here (makes each URL unique)
LAB_EXTRA_PARAMS = {"i"}

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize(
    ("exc", "how", "by", "eno"),
    [
        (None, "fin", "peer", None),
        (ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"), "rst", "peer", errno.ECONNRESET),
        (BrokenPipeError(errno.EPIPE, "Broken pipe"), "rst", "peer", errno.EPIPE),
        (TimeoutError(errno.ETIMEDOUT, "Connection timed out"), "timeout", "peer", errno.ETIMEDOUT),
        (OSError(errno.EHOSTUNREACH, "No route to host"), "error", "peer", errno.EHOSTUNREACH),
        (asyncio.CancelledError("timeout"), "timeout", "proxy", None),
        (asyncio.CancelledError("closed by command"), "closed", "proxy", None),
        (asyncio.CancelledError(), "closed", "proxy", None),
        (
            asyncio.CancelledError("Error sending data: [Errno 104] Connection reset by peer"),
            "rst",
            "peer",
            None,
        ),
        (asyncio.CancelledError("Error sending data: [Errno 113] No route"), "error", "peer", None),
        (ValueError("odd"), "error", "unknown", None),
    ],
)
def test_reason_from_exception(exc, how, by, eno):
    r = reason_from_exception(exc)
    assert isinstance(r, EndReason)
    assert (r.how, r.by, r.errno) == (how, by, eno)
    if exc is not None and str(exc):
        assert r.error


def _client_close(path, route):
    cap = read_capture(path)
    (req,) = [e for e in cap.events if isinstance(e, HttpRequest) and route in e.url]
    closes = {e.conn: e for e in cap.events if isinstance(e, ConnClose)}
    return closes[req.conn], closes.get(req.server_conn)


def _recorded(check: Callable[[], bool]) -> bool:
    """``check()`` on a capture still being written: False while what it looks for is not there yet."""
    try:
        return check()
    except (KeyError, ValueError):
        return False


def test_client_reset_is_seen_as_rst_by_peer(recorder):
    proxy = recorder()
    s = socket.create_connection(("127.0.0.1", proxy.port), timeout=30)
    s.sendall(b"GET /sse?n=100&interval_ms=50 HTTP/1.1\r\nHost: x\r\n\r\n")
    assert s.recv(65536)
    end_socket(s, "rst")
    wait_for(
        lambda: _recorded(lambda: all(_client_close(proxy.capture, "/sse?"))),
        "the client's and the upstream's connection ends in the capture",
        interval=0.1,
    )
    proxy.stop()
    client, server = _client_close(proxy.capture, "/sse?")
    assert (client.leg, client.by, client.how, client.errno) == ("client", "peer", "rst", errno.ECONNRESET)
    assert client.bytes_received and client.bytes_sent
    assert server is not None and server.by == "proxy"


def test_upstream_refused_is_an_error(start_mitmdump, tmp_path):
    from tests.fixtures_proxy import WS_TRACE, http_get

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    cap = tmp_path / "refused.jsonl"
    proxy = start_mitmdump(
        scripts=[WS_TRACE], mode=f"reverse:http://127.0.0.1:{dead}", options={"trace_file": str(cap)}
    )
    http_get(proxy.port, "/x")
    proxy.stop()
    closes = [e for e in read_capture(cap).events if isinstance(e, ConnClose) and e.leg == "server"]
    assert closes and closes[0].how == "error" and closes[0].errno == errno.ECONNREFUSED


@pytest.mark.slow
def test_upstream_reset_right_after_a_message_always_reaches_the_client(recorder):
    """mitmproxy 12.3.1 alone sometimes never closes the client here (its ConnectionClosed is
    lost to a cancellation); conn_watch delivers it. Without the fix ~1 in 20 runs hung."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    from tearline.events import WsClose

    proxy = recorder()

    async def one(i: int) -> bool:
        try:
            async with connect(
                f"{proxy.ws_base}/ws?n=1&end=rst&end_delay_ms=0&i={i}", compression=None
            ) as ws:
                while True:
                    await asyncio.wait_for(ws.recv(), 15)
        except ConnectionClosed:
            return True
        except TimeoutError:
            return False

    async def all_runs() -> list[bool]:
        return [await one(i) for i in range(40)]

    results = asyncio.run(all_runs())
    proxy.stop()
    assert all(results), results.count(False)
    closes = [e for e in read_capture(proxy.capture).events if isinstance(e, WsClose)]
    assert len(closes) == 40
    assert {(c.code, c.closed_by, c.frame, c.transport_end) for c in closes} == {
        (1006, "server", False, "rst")
    }


def test_upstream_tls_close_notify_is_a_fin_by_the_peer(start_mitmdump, tmp_path):
    """An upstream that ends TLS with close_notify (as Go's tls.Conn.Close, i.e. Caddy, does) before its FIN.

    mitmproxy's TLS layer reports the alert to the layers as a closed connection at
    once; conn_watch must record it as the peer's orderly end, not as mitmproxy closing it.
    """
    import ssl
    import threading
    import time

    from tests.fixtures_proxy import WS_TRACE

    cert, key = self_signed(tmp_path)  # proxied with ssl_insecure: the name does not matter
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    sent_notify: list[float] = []

    def serve() -> None:
        raw, _ = listener.accept()
        try:
            with ctx.wrap_socket(raw, server_side=True) as tls:
                tls.settimeout(10)
                data = b""
                while b"\r\n\r\n" not in data:
                    data += tls.recv(65536)
                tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                time.sleep(0.3)
                sent_notify.append(time.time())
                tls.settimeout(3)
                with contextlib.suppress(OSError, ssl.SSLError):
                    tls.unwrap()  # close_notify; the proxy never answers with its own
        except OSError:
            pass
        finally:
            raw.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    cap = tmp_path / "notify.jsonl"
    proxy = start_mitmdump(
        scripts=[WS_TRACE],
        mode=f"reverse:https://127.0.0.1:{port}",
        options={"trace_file": str(cap), "ssl_insecure": True},
    )
    try:
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=30) as s:
            s.sendall(b"GET /notify HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")  # keep-alive: the proxy keeps both
            got = b""
            while not got.endswith(b"ok"):
                got += s.recv(65536)
            thread.join(timeout=30)
            wait_for(
                lambda: any(isinstance(e, ConnClose) and e.leg == "server" for e in read_capture(cap).events),
                "the upstream connection's end (its close_notify) in the capture",
            )
        proxy.stop()
    finally:
        listener.close()
    assert got.startswith(b"HTTP/1.1 200") and sent_notify
    cap_events = read_capture(cap).events
    (req,) = [e for e in cap_events if isinstance(e, HttpRequest) and "/notify" in e.url]
    (end,) = [e for e in cap_events if isinstance(e, ConnClose) and e.conn == req.server_conn]
    assert (end.leg, end.by, end.how, end.error) == ("server", "peer", "fin", TLS_CLOSE_NOTIFY)
    assert end.ts >= sent_notify[0]


def test_a_connection_cancelled_before_mitmproxy_closed_it_still_gets_its_tcp_close() -> None:
    """mitmproxy 12.3.1 race (Autobahn 4.1.5/4.2.5 "FAILED BY CLIENT"): the layers close a connection
    (state CLOSED, its task cancelled) while its task waits for the handler's event lock, outside the
    loop that would close the writer. conn_watch's ``handle_connection`` closes it instead: the peer
    gets what was queued (the close frame), then EOF."""
    from types import SimpleNamespace

    from mitmproxy.connection import Client, ConnectionState
    from mitmproxy.proxy.server import ConnectionIO
    from tearline.addons import conn_watch

    async def run() -> tuple[bytes, bool]:
        got: asyncio.Queue[bytes] = asyncio.Queue()

        async def peer(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            await got.put(await r.read())  # everything until EOF
            w.close()

        server = await asyncio.start_server(peer, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        conn = Client(peername=("127.0.0.1", port), sockname=("127.0.0.1", 0), timestamp_start=0.0)
        handler = SimpleNamespace(transports={conn: ConnectionIO(handler=None, reader=reader, writer=writer)})

        async def mitmproxy_handle_connection(_self: object, connection: Client) -> None:
            writer.write(b"close frame")  # the layers' last SendData
            connection.state = ConnectionState.CLOSED  # their CloseConnection ...
            raise asyncio.CancelledError("closed by command")  # ... cancels the task in the lock wait

        wrapped = conn_watch.wrap_handle_connection(mitmproxy_handle_connection)
        with contextlib.suppress(asyncio.CancelledError):
            await wrapped(handler, conn)
        data = await asyncio.wait_for(got.get(), 20)
        server.close()
        return data, conn in handler.transports

    data, still_known = asyncio.run(run())
    assert data == b"close frame"  # flushed, then the TCP close (EOF) the peer waited for
    assert not still_known
