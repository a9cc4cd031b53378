"""Ends inside one HTTP stream, directly and through tearline (``addons/stream_ends.py``).

- A buffered (not streamed) body cut upstream: a raw-socket client sees the headers and
  the bytes that arrived, then the same end (FIN or RST), directly from a real server and
  through ``mitmdump -s addons/ws_trace.py``; mitmdump alone answers with a 502 page.
- An HTTP/2 upstream (``tests/h2_server.py``, the ``h2`` library over TLS on 127.0.0.1)
  resets one of two streams with a chosen RST_STREAM code, before or after its headers: an
  HTTP/2 client (``tests/h2_client.py``) sees the same code on the same stream and the
  sibling completes, directly and through tearline; the capture records the frame
  (``h2_reset`` by ``server`` with the code), and a GOAWAY (``h2_goaway``) likewise. A graceful
  GOAWAY (``NO_ERROR``) lets the streams finish as directly, and new requests go on a new upstream
  connection; one with an error code resets each browser stream with that code.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import h2.config
import h2.connection
import h2.events
import pytest

from tearline.capture import read_capture
from tearline.errors import InputError
from tearline.events import BodyEnd, Event, H2GoAway, H2Reset, Relay
from tearline.lab.mitmdump import Mitmdump
from tearline.lab.servers import LabServer
from tearline.lab.wire import http_get
from tests.conftest import wait_for
from tests.h2_client import h2_streams
from tests.h2_server import H2Server
from tests.raw_server import raw_server

REPO = Path(__file__).resolve().parent.parent
WS_TRACE = REPO / "addons" / "ws_trace.py"
SIBLING = "/ok?n=6"


def _events(path: Path) -> list[Event]:
    try:
        return list(read_capture(path).events)
    except (FileNotFoundError, InputError):  # not written yet (the recorder flushes every 100 ms)
        return []


@contextlib.contextmanager
def _mitmdump(tmp: Path, upstream: str, *, tearline: bool = True) -> Iterator[Mitmdump]:
    options: dict[str, object] = {"ssl_insecure": True}
    if tearline:
        options["trace_file"] = str(tmp / "capture.jsonl")
    p = Mitmdump(
        scripts=[str(WS_TRACE)] if tearline else [],
        mode=f"reverse:{upstream}",
        options=options,
        confdir=tmp / "mitm",
        cwd=REPO,
    )
    p.capture = tmp / "capture.jsonl"  # type: ignore[attr-defined]
    try:
        yield p.start()
    finally:
        p.stop(timeout=20)
        p.kill()


# --- a buffered body cut upstream ---------------------------------------------------------------


def _length_cut_server(how: Literal["fin", "rst"]) -> contextlib.AbstractContextManager[int]:
    """Answers each request with ``Content-Length: 1000``, sends 500 bytes, then ends (FIN or RST)."""
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    return raw_server(head + b"x" * 500, how)


def test_a_buffered_body_cut_upstream_reaches_the_client_as_it_arrived(tmp_path: Path) -> None:
    with LabServer() as server, _mitmdump(tmp_path / "t", server.base) as p:
        path = "/length?size=1000&end=cut"
        direct, proxied = http_get(server.port, path), http_get(p.port, path)
        capture = p.capture  # type: ignore[attr-defined]
        relayed = wait_for(lambda: [e for e in _events(capture) if isinstance(e, Relay)], "relay event")
        ends = wait_for(lambda: [e for e in _events(capture) if isinstance(e, BodyEnd)], "body_end")
    assert direct == proxied
    assert (proxied.status, len(proxied.body), proxied.terminated, proxied.end) == (200, 500, False, "eof")
    assert [(e.leg, e.observed, e.action) for e in relayed] == [("client", "fin", "cut")]
    assert [(e.complete, e.how, e.total_bytes) for e in ends] == [(False, "cut", 500)]


def test_control_mitmdump_alone_answers_a_buffered_cut_with_a_502(tmp_path: Path) -> None:
    with LabServer() as server, _mitmdump(tmp_path, server.base, tearline=False) as p:
        got = http_get(p.port, "/length?size=1000&end=cut")
    assert got.status == 502 and got.terminated


def test_a_buffered_body_reset_upstream_reaches_the_client_as_a_reset(tmp_path: Path) -> None:
    with _length_cut_server("rst") as port, _mitmdump(tmp_path, f"http://127.0.0.1:{port}") as p:
        direct, proxied = http_get(port, "/x"), http_get(p.port, "/x")
        capture = p.capture  # type: ignore[attr-defined]
        relayed = wait_for(lambda: [e for e in _events(capture) if isinstance(e, Relay)], "relay event")
    assert direct.end == proxied.end == "rst"
    assert direct.status == proxied.status == 200  # the headers arrived, then the reset (no 502)
    assert proxied.body == direct.body and not proxied.terminated
    assert [(e.leg, e.observed, e.action) for e in relayed] == [("client", "rst", "rst")]


# --- RST_STREAM and GOAWAY from an HTTP/2 upstream -------------------------------------------------


@pytest.fixture(scope="module")
def h2_upstream() -> Iterator[H2Server]:
    with H2Server() as s:
        yield s


@pytest.fixture(scope="module")
def h2_tearline(tmp_path_factory: pytest.TempPathFactory, h2_upstream: H2Server) -> Iterator[Mitmdump]:
    with _mitmdump(tmp_path_factory.mktemp("h2-up"), f"https://127.0.0.1:{h2_upstream.port}") as p:
        yield p


def _outcome(port: int, victim: str) -> list[tuple[str, int | None, int | None, int]]:
    got = h2_streams(port, [victim, SIBLING], host="localhost")
    return [
        (s.end, s.status, None if s.error_code is None else int(s.error_code), s.body.count(b"\n\n"))
        for s in got
    ]


@pytest.mark.parametrize(
    ("victim", "code"),
    [
        ("/rst?code=7&n=2", 7),  # REFUSED_STREAM after headers and 2 events (mitmproxy: INTERNAL_ERROR)
        ("/rst?code=11&n=-1", 11),  # ENHANCE_YOUR_CALM before any headers (mitmproxy: a 502 page)
        ("/rst?code=8&n=3", 8),  # CANCEL
    ],
)
def test_an_upstream_rst_stream_reaches_the_client_with_its_code(
    h2_upstream: H2Server, h2_tearline: Mitmdump, victim: str, code: int
) -> None:
    direct = _outcome(h2_upstream.port, victim)
    proxied = _outcome(h2_tearline.port, victim)
    assert direct == proxied, (direct, proxied)
    assert proxied[0][0] == "reset" and proxied[0][2] == code
    assert proxied[1] == ("complete", 200, None, 6)  # the sibling on the same connection goes on
    capture = h2_tearline.capture  # type: ignore[attr-defined]
    resets = wait_for(
        lambda: [e for e in _events(capture) if isinstance(e, H2Reset) and e.error_code == code],
        f"h2_reset {code}",
    )
    assert [(e.by, e.stream is not None) for e in resets] == [("server", True)]  # from the frame, once


def test_an_upstream_goaway_with_an_error_ends_each_stream_with_its_code(
    h2_upstream: H2Server, h2_tearline: Mitmdump
) -> None:
    victim = "/goaway?code=11&n=2"  # ENHANCE_YOUR_CALM, then the upstream closes the connection
    direct = _outcome(h2_upstream.port, victim)
    proxied = _outcome(h2_tearline.port, victim)
    assert direct == [("goaway", 200, 11, 2)] * 2  # the client sees the GOAWAY itself
    assert proxied == [("reset", 200, 11, 2)] * 2  # each stream reset with the GOAWAY's code
    capture = h2_tearline.capture  # type: ignore[attr-defined]
    goaways = wait_for(lambda: [e for e in _events(capture) if isinstance(e, H2GoAway)], "h2_goaway")
    assert {(e.by, e.error_code, e.last_stream_id) for e in goaways} == {("server", 11, 3)}
    assert len({e.stream for e in goaways}) == 2  # one per stream live on that connection


def test_a_graceful_upstream_goaway_lets_the_streams_finish_as_directly(
    h2_upstream: H2Server, h2_tearline: Mitmdump
) -> None:
    victim = "/goaway?code=0&n=2"  # NO_ERROR, last stream 3: both streams go on (a reloading server)
    direct = _outcome(h2_upstream.port, victim)
    proxied = _outcome(h2_tearline.port, victim)
    assert direct == proxied == [("complete", 200, None, 2), ("complete", 200, None, 6)]
    capture = h2_tearline.capture  # type: ignore[attr-defined]
    wait_for(
        lambda: [e for e in _events(capture) if isinstance(e, H2GoAway) and e.error_code == 0],
        "h2_goaway NO_ERROR",
    )


def _request_after_a_graceful_goaway(port: int) -> dict[int, str]:
    """On one HTTP/2 connection: a stream the upstream answers with a graceful GOAWAY, then a new one."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["h2"])
    sock = ctx.wrap_socket(
        socket.create_connection(("127.0.0.1", port), timeout=20), server_hostname="localhost"
    )
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()

    def request(path: str) -> int:
        sid = conn.get_next_available_stream_id()
        head = [(":method", "GET"), (":path", path), (":scheme", "https"), (":authority", "localhost")]
        conn.send_headers(sid, head, end_stream=True)
        sock.sendall(conn.data_to_send())
        return sid

    first, ended = request("/goaway?code=0&n=2"), {}
    try:
        while len(ended) < 2:
            data = sock.recv(65536)
            if not data:
                break
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.DataReceived):
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded | h2.events.StreamReset):
                    ended[ev.stream_id] = "complete" if isinstance(ev, h2.events.StreamEnded) else "reset"
                    if ev.stream_id == first:
                        request("/ok?n=2")  # the browser's connection to tearline saw no GOAWAY
            if out := conn.data_to_send():
                sock.sendall(out)
    finally:
        sock.close()
    return ended


def test_after_a_graceful_upstream_goaway_new_requests_get_a_new_upstream_connection(
    h2_tearline: Mitmdump,
) -> None:
    assert _request_after_a_graceful_goaway(h2_tearline.port) == {1: "complete", 3: "complete"}
