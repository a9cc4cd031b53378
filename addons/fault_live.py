"""What the fault addon keeps per live stream, and the stream kind it guesses from headers.

``Live`` is the edge's per-flow state (on the addon, never in ``flow.metadata``):
the flow, its ``StreamFaults``, the timer, the WebSocket re-injection queues
(``addons/ws_inject.py``), stalls, the throttle's resume time. ``request_kind`` and
``response_kind`` are pure: the stream kind seen from a request or a response.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from mitmproxy import http

from tearline.faults.injector import StreamFaults

__all__ = ["Live", "request_kind", "response_kind"]


def request_kind(headers: Any) -> str:
    """Stream kind guessed from request headers (pure): ``ws``, ``sse`` or ``http-stream``."""
    if headers.get("upgrade", "").lower() == "websocket":
        return "ws"
    if "text/event-stream" in headers.get("accept", "").lower():
        return "sse"
    return "http-stream"


def response_kind(status: int, headers: Any) -> str:
    """Stream kind from response headers (pure): ``ws``, ``sse``, ``http-stream`` or ``http``."""
    if status == 101:
        return "ws"
    ctype = headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "text/event-stream":
        return "sse"
    if "chunked" in headers.get("transfer-encoding", "").lower() and "content-length" not in headers:
        return "http-stream"
    return "http"


class Live:
    """What the edge keeps per live stream (on the addon, never in flow.metadata).

    A plain class: it holds mutable asyncio state (timers, queues, events) for one flow.
    """

    def __init__(self, flow: http.HTTPFlow, faults: StreamFaults) -> None:
        self.flow = flow
        self.faults = faults
        self.timer: asyncio.TimerHandle | None = None
        self.queues: dict[bool, asyncio.Queue[Any]] = {}  # to_client -> FIFO of held messages
        self.senders: list[asyncio.Task[None]] = []
        self.pending: dict[bool, int] = {True: 0, False: 0}
        self.reinjecting: dict[bool, int] = {True: 0, False: 0}  # to_client -> injections not yet seen
        self.stalls: dict[tuple[str, str], asyncio.Event] = {}  # (fault id, to) -> set at the stall's end
        self.stall_end: dict[tuple[str, str], Callable[[], None]] = {}
        self.held = b""  # body bytes read during a stall
        self.resume: asyncio.TimerHandle | None = None  # throttle: when upstream reading resumes
        self.resume_at = 0.0
        self.done = False
