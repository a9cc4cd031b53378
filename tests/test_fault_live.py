"""addons/fault_live.py: the stream kind from request and response headers (pure)."""

from __future__ import annotations

import pytest
from mitmproxy.http import Headers
from tearline.addons.fault_live import request_kind, response_kind


@pytest.mark.parametrize(
    ("headers", "kind"),
    [
        ({"Upgrade": "WebSocket", "Connection": "Upgrade"}, "ws"),
        ({"Accept": "text/event-stream"}, "sse"),
        ({"Accept": "*/*"}, "http-stream"),
    ],
)
def test_request_kind(headers: dict[str, str], kind: str) -> None:
    assert request_kind(Headers([(k.encode(), v.encode()) for k, v in headers.items()])) == kind


@pytest.mark.parametrize(
    ("status", "headers", "kind"),
    [
        (101, {"Upgrade": "websocket"}, "ws"),
        (200, {"Content-Type": "text/event-stream; charset=utf-8"}, "sse"),
        (200, {"Transfer-Encoding": "chunked"}, "http-stream"),
        (200, {"Transfer-Encoding": "chunked", "Content-Length": "5"}, "http"),
        (200, {"Content-Type": "text/plain", "Content-Length": "5"}, "http"),
    ],
)
def test_response_kind(status: int, headers: dict[str, str], kind: str) -> None:
    hdrs = Headers([(k.encode(), v.encode()) for k, v in headers.items()])
    assert response_kind(status, hdrs) == kind
