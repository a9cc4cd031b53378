"""Parsing mitmproxy's error texts."""

from __future__ import annotations

from tearline.flow_errors import errno_of, h2_goaway, h2_reset


def test_h2_reset():
    assert h2_reset("stream reset by client (CANCEL)") == 8
    assert h2_reset("stream reset by client (REFUSED_STREAM)") == 7
    assert h2_reset("stream reset by client (57)") == 57
    assert h2_reset("stream reset by client (WHATEVER)") == -1
    assert h2_reset("Client disconnected.") is None


def test_h2_goaway():
    msg = (
        "HTTP/2 connection closed: <ConnectionTerminated error_code:11, last_stream_id:5, additional_data:78>"
    )
    assert h2_goaway(msg) == (11, 5)
    assert h2_goaway(
        "HTTP/2 connection closed: <ConnectionTerminated error_code:ErrorCodes.NO_ERROR, last_stream_id:0, additional_data:None>"
    ) == (0, 0)
    assert h2_goaway("stream reset by client (CANCEL)") is None


def test_errno_of():
    assert errno_of("[Errno 111] Connect call failed ('127.0.0.1', 9)") == 111
    assert errno_of("Connection closed by peer.") is None
