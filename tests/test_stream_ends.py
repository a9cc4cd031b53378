"""Ends inside one HTTP stream, directly and through tearline (``addons/stream_ends.py``).

- A buffered (not streamed) body cut upstream: a raw-socket client sees the headers and
  the bytes that arrived, then the same end (FIN or RST), directly from a real server and
  through ``mitmdump -s addons/ws_trace.py``; mitmdump alone answers with a 502 page.
- An HTTP/2 upstream (``tests/h2_server.py``, the ``h2`` library over TLS on 127.0.0.1)
  resets one of two streams with a chosen RST_STREAM code, before or after its headers: an
  HTTP/2 client (``tests/h2_client.py``) sees the same code on the same stream and the
  sibling completes, directly and through tearline; the capture records the frame
  (``h2_reset`` by ``server`` with the code), and a GOAWAY (``h2_goaway``) likewise.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tearline.capture import read_capture
from tearline.errors import InputError
from tearline.events import BodyEnd, Event, H2GoAway, H2Reset, Relay
from tearline.lab.mitmdump import Mitmdump
from tearline.lab.servers import LabServer
from tearline.lab.wire import http_get
from tearline.tcp_end import end_socket
from tests.conftest import wait_for
from tests.h2_client import h2_streams
from tests.h2_server import H2Server

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


@contextlib.contextmanager
def _length_cut_server(how: str) -> Iterator[int]:
    """Answers each request with ``Content-Length: 1000``, sends 500 bytes, then ends (FIN or RST)."""
    ls = socket.create_server(("127.0.0.1", 0))

    def run() -> None:
        while True:
            try:
                conn, _ = ls.accept()
            except OSError:
                return
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
            conn.sendall(b"x" * 500)
            end_socket(conn, how)

    threading.Thread(target=run, daemon=True).start()
    try:
        yield ls.getsockname()[1]
    finally:
        ls.close()


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


def test_an_upstream_goaway_is_recorded_from_the_frame(h2_upstream: H2Server, h2_tearline: Mitmdump) -> None:
    _outcome(h2_tearline.port, "/goaway?code=11&n=2")
    capture = h2_tearline.capture  # type: ignore[attr-defined]
    goaways = wait_for(lambda: [e for e in _events(capture) if isinstance(e, H2GoAway)], "h2_goaway")
    assert {(e.by, e.error_code, e.last_stream_id) for e in goaways} == {("server", 11, 3)}
    assert len({e.stream for e in goaways}) == 2  # one per stream live on that connection
