"""Clients and the ``faulty`` fixture shared by the fault addon's tests (real mitmdump, real servers).

The ``faulty`` fixture (``tests/fixtures_proxy.py``) starts mitmdump with the recorder and
``addons/faults.py`` in front of the lab server. The clients run on raw sockets or the ``websockets`` client and report what a real peer saw:
messages and their arrival times (monotonic s), close codes, EOF versus reset.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import os
import socket
import time
from pathlib import Path
from typing import Any

import websockets
from websockets.exceptions import ConnectionClosed

from tearline.capture import read_capture
from tearline.errors import InputError
from tearline.events import event_to_dict
from tearline.lab.servers import LabServer

REPO = Path(__file__).resolve().parent.parent
FAULTS = REPO / "addons" / "faults.py"

__all__ = [
    "FAULTS",
    "arun",
    "dechunk",
    "echo_session",
    "fired",
    "raw_request",
    "server_saw",
    "timed_events",
    "ws_run",
]


def arun(coro: Any) -> Any:
    """Run a client coroutine in its own thread and loop (Playwright's sync API keeps a loop
    running in the main thread while the module's browser is open)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def fired(capture: Path, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The ``fault_fired`` events of a capture (read raw; the recorder flushes every 100 ms, so
    wait for the first one, then a little longer for any that follow)."""

    def read() -> list[dict[str, Any]]:
        try:
            events = read_capture(capture).events
        except InputError:  # not written yet
            return []
        return [event_to_dict(ev) for ev in events if ev.type == "fault_fired"]

    deadline = time.monotonic() + timeout
    while not read() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    return read()


async def ws_run(
    url: str,
    send: list[str] = (),
    gap: float = 0.0,
    timeout: float = 30.0,
    stop_after: int = 0,  # type: ignore[assignment]
) -> dict[str, Any]:
    """Connect, send ``send`` (``gap`` s apart), receive until the socket ends.

    Returns messages, arrival times (monotonic s), the close code/reason received (None when
    no close frame came), the time the end was seen, and the send times.
    """
    got: list[str] = []
    times: list[float] = []
    sent: list[float] = []
    res: dict[str, Any] = {"code": None, "reason": None}
    async with asyncio.timeout(timeout):
        async with websockets.connect(url, compression=None, close_timeout=2) as ws:

            async def sender() -> None:
                for s in send:
                    sent.append(time.monotonic())
                    await ws.send(s)
                    if gap:
                        await asyncio.sleep(gap)

            task = asyncio.create_task(sender())
            try:
                async for m in ws:
                    got.append(m if isinstance(m, str) else m.decode())
                    times.append(time.monotonic())
                    if stop_after and len(got) >= stop_after:
                        break
            except ConnectionClosed as e:
                if e.rcvd is not None:
                    res.update(code=e.rcvd.code, reason=e.rcvd.reason)
            else:
                rcvd = ws.protocol.close_rcvd
                if rcvd is not None:
                    res.update(code=rcvd.code, reason=rcvd.reason)
            task.cancel()
    res.update(messages=got, times=times, sent=sent, end=time.monotonic())
    return res


def server_saw(server: LabServer, what: str, timeout: float = 10.0) -> list[Any]:
    """The server's ``what`` events, waiting up to ``timeout`` s for the first (shared CPU)."""
    deadline = time.monotonic() + timeout
    while True:
        found = [e for e in server.events() if e.what == what]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def raw_request(port: int, path: str, *, ws: bool = False, timeout: float = 30.0) -> tuple[bytes, str, float]:
    """Send a GET (or a WebSocket upgrade) on a raw socket and read until the connection ends.

    Returns (all bytes received, ``"eof"`` or ``"rst"``, seconds until the end).
    """
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    head = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
    if ws:
        key = base64.b64encode(os.urandom(16)).decode()
        head += f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
    if path.startswith("/sse"):
        head += "Accept: text/event-stream\r\n"  # as EventSource sends it
    s.sendall((head + "Connection: close\r\n\r\n").encode())
    t0 = time.monotonic()
    data = b""
    how = "eof"
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except ConnectionResetError:
        how = "rst"
    finally:
        s.close()
    return data, how, time.monotonic() - t0


def dechunk(raw: bytes) -> tuple[bytes, bool]:
    """(body, terminated) of an HTTP/1.1 chunked response; tolerant of a cut body."""
    _, _, rest = raw.partition(b"\r\n\r\n")
    body = b""
    while rest:
        line, sep, rest = rest.partition(b"\r\n")
        if not sep:
            break
        size = int(line.split(b";")[0], 16)
        if size == 0:
            return body, True
        body += rest[:size]
        rest = rest[size + 2 :]
    return body, False


async def echo_session(url: str, sends: list[str]) -> dict[str, Any]:
    got, times, sent = [], [], []
    async with asyncio.timeout(30), websockets.connect(url, compression=None) as ws:
        for s in sends:
            sent.append(time.monotonic())
            await ws.send(s)
            await asyncio.sleep(0.02)
        while len(got) < len(sends):
            m = await ws.recv()
            got.append(m)
            times.append(time.monotonic())
    return {"messages": got, "times": times, "sent": sent}


def timed_events(port: int, path: str) -> tuple[list[float], list[bytes], float]:
    """Read an SSE response on a raw socket: (arrival time of each event end, events, t0), monotonic s."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    t0 = time.monotonic()
    s.sendall(
        f"GET {path} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\nConnection: close\r\n\r\n".encode()
    )
    times, data = [], b""
    try:
        while chunk := s.recv(65536):
            data += chunk
            body, _ = dechunk(data)
            while body.count(b"\n\n") > len(times):
                times.append(time.monotonic())
    finally:
        s.close()
    body, terminated = dechunk(data)
    assert terminated
    return times, [e for e in body.split(b"\n\n") if e], t0
