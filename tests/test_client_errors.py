"""`tearline explain` knows what client libraries say about a cut or reset stream."""

from __future__ import annotations

import pytest
from tearline.analysis.explain.symptoms import explain


@pytest.mark.parametrize(
    ("text", "name_has"),
    [
        ("curl: (18) transfer closed with outstanding read data remaining", "curl (18)"),
        ("curl: (56) Recv failure: Connection reset by peer", "curl (56)"),
        ("curl: (52) Empty reply from server", "curl (52)"),
        ("curl: (92) HTTP/2 stream 1 was not closed cleanly: INTERNAL_ERROR (err 2)", "curl (92)"),
        (
            "httpx.RemoteProtocolError: peer closed connection without sending complete message body "
            "(incomplete chunked read)",
            "httpx",
        ),
        ("httpcore.RemoteProtocolError: Server disconnected without sending a response.", "httpx"),
        ("aiohttp.client_exceptions.ClientPayloadError: Response payload is not completed", "aiohttp"),
        ("aiohttp.client_exceptions.ServerDisconnectedError: Server disconnected", "aiohttp"),
        (
            "requests.exceptions.ChunkedEncodingError: ('Connection broken: IncompleteRead(0 bytes read)')",
            "requests",
        ),
        ("websockets.exceptions.ConnectionClosedError: no close frame received or sent", "websockets"),
        ("websockets.exceptions.ConnectionClosedError: received 1011 (internal error)", "websockets"),
        ("TypeError: terminated [cause]: SocketError: other side closed", "undici"),
        ("TypeError: terminated", "undici"),
        ("Error: socket hang up", "socket hang up"),
        ("Error: read ECONNRESET", "ECONNRESET"),
        ("Error: Invalid WebSocket frame: invalid status code 1005", "ws (Node)"),
        ("Error: WebSocket was closed before the connection was established", "ws (Node)"),
    ],
)
def test_client_messages_are_explained(text, name_has):
    e = explain(text)
    assert e.kind == "client" and name_has in e.name
    assert e.meaning and e.causes


def test_close_code_from_websockets_message_is_named():
    assert "1011" in explain("ConnectionClosedError: received 1011 (internal error)").meaning


def test_browser_symptoms_still_win():
    assert explain("net::ERR_INCOMPLETE_CHUNKED_ENCODING").kind == "net_error"
    assert explain("Error code: 11").kind == "sad_tab"
