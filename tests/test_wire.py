"""tearline.lab.wire: raw clients report how a stream ended, checked against a real LabServer."""

from __future__ import annotations

from tearline.lab.servers import LabServer
from tearline.lab.wire import HttpOutcome, WsOutcome, http_get, parse_response, ws_session

CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"


def test_parse_response_complete_and_cut() -> None:
    assert parse_response(CHUNKED + b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n") == (200, b"abcde", True)
    assert parse_response(CHUNKED + b"3\r\nabc\r\n5\r\nde") == (200, b"abcde", False)
    assert parse_response(CHUNKED + b"3\r\nabc\r\n") == (200, b"abc", False)
    assert parse_response(CHUNKED + b"zz\r\n") == (200, b"", False)
    assert parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab") == (200, b"ab", False)
    assert parse_response(b"HTTP/1.1 204 No Content\r\n\r\n") == (204, b"", True)
    # a body that only the connection's end delimits is never known to be complete
    assert parse_response(b"HTTP/1.1 200 OK\r\n\r\nabc") == (200, b"abc", False)
    assert parse_response(b"garbage") == (0, b"", False)


def test_ws_ends(server: LabServer) -> None:
    assert ws_session(server.port, "/ws?n=2&interval_ms=10&end=fin") == WsOutcome(2, None, "eof")
    assert ws_session(server.port, "/ws?n=2&interval_ms=10&end=rst") == WsOutcome(2, None, "rst")
    got = ws_session(server.port, "/ws?n=1&end=close&code=4000&reason=bye", after_close_timeout=0.5)
    assert (got.messages, got.close) == (1, (4000, "bye"))


def test_ws_client_abort_and_close(server: LabServer) -> None:
    assert ws_session(server.port, "/ws?n=3&interval_ms=10", abort="rst").end == "aborted-rst"
    got = ws_session(server.port, "/ws?n=3&interval_ms=10", close=(4001, "x"), after_close_timeout=0.5)
    assert got.close == (4001, "x")  # the server's answer echoes the code


def test_http_bodies(server: LabServer) -> None:
    ok = http_get(server.port, "/stream?n=2&size=4&interval_ms=10")
    assert ok == HttpOutcome(200, b"0:xx1:xx", True, "eof")
    cut = http_get(server.port, "/stream?n=2&size=4&interval_ms=10&end=rst")
    assert (cut.body, cut.terminated, cut.end) == (b"0:xx1:xx", False, "rst")
    half = http_get(server.port, "/length?size=10&end=cut")
    assert (half.status, half.terminated, len(half.body)) == (200, False, 5)
    assert http_get(server.port, "/sse?n=20&interval_ms=50", abort="fin", abort_after=50).end == "aborted-fin"
