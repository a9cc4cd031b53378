"""Stress workloads against a real mitmdump with tearline's recorder (all on 127.0.0.1).

``concurrency``  N WebSockets x M messages plus K SSE streams x E events at once; the capture must
                 hold every message and event, in order, with the right content.
``churn``        connect/disconnect cycles that vanish mid-handshake, reset, or half-send a request;
                 file descriptors, threads and asyncio tasks of the mitmdump process before and after.
``kill9``        ``kill -9`` under WebSocket load: what the capture lost, in time, against what the
                 clients had received.

Each returns a dict of measured figures; ``python -m tests.stress.run`` prints them as JSON.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import struct
import time
import urllib.request
from collections import defaultdict
from typing import Any

from websockets.asyncio.client import connect

from tearline.capture import read_capture
from tearline.events import HttpRequest, SseEvent, WsMessage, WsStart
from tearline.lab.mitmdump import Mitmdump

__all__ = ["churn", "concurrency", "fd_count", "kill9", "proxy_tasks"]


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def thread_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def proxy_tasks(proxy: Mitmdump) -> int:
    """asyncio tasks alive in mitmdump (``tests/addons/introspect.py`` answers ``/__tasks``)."""
    with urllib.request.urlopen(f"{proxy.url}/__tasks", timeout=30) as r:
        return int(r.read())


# --- concurrency -----------------------------------------------------------------------------------


async def _ws_client(url: str, n: int) -> list[str]:
    got: list[str] = []
    # no keepalive pings: on a loaded machine a late pong is not what this measures
    async with connect(
        url, open_timeout=600, max_size=None, compression=None, close_timeout=10, ping_interval=None
    ) as ws:
        while len(got) < n:
            got.append(str(await asyncio.wait_for(ws.recv(), 600)))
    return got


async def _sse_client(port: int, path: str) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    data = await asyncio.wait_for(reader.read(-1), 1200)
    writer.close()
    return data


async def _concurrent(
    proxy: Mitmdump, n_ws: int, ws_msgs: int, n_sse: int, sse_events: int
) -> dict[str, Any]:
    ws = [
        _ws_client(f"{proxy.ws_base}/ws?n={ws_msgs}&interval_ms=2&size=12&c=w{i}", ws_msgs)
        for i in range(n_ws)
    ]
    sse = [_sse_client(proxy.port, f"/sse?n={sse_events}&interval_ms=2&ids=1&c=s{i}") for i in range(n_sse)]
    t0 = time.monotonic()
    results = await asyncio.gather(*ws, *sse, return_exceptions=True)
    errors = [repr(r) for r in results if isinstance(r, BaseException)]
    ws_ok = sum(
        1
        for r in results[:n_ws]
        if isinstance(r, list) and [m.split(":")[0] for m in r] == [str(i) for i in range(ws_msgs)]
    )
    sse_ok = sum(
        1
        for r in results[n_ws:]
        if isinstance(r, bytes) and r.count(b"\ndata:") + r.startswith(b"data:") >= 0
    )
    return {"client_errors": errors[:5], "client_error_count": len(errors), "ws_clients_ok": ws_ok,
            "sse_clients_done": sse_ok, "seconds": round(time.monotonic() - t0, 1)}  # fmt: skip


def concurrency(proxy: Mitmdump, n_ws: int, ws_msgs: int, n_sse: int, sse_events: int) -> dict[str, Any]:
    """Run the load, stop the proxy, and check the capture: counts, order and content per stream."""
    out = asyncio.run(_concurrent(proxy, n_ws, ws_msgs, n_sse, sse_events))
    proxy.stop(timeout=120)
    cap = read_capture(proxy.capture)  # type: ignore[attr-defined]
    url_of: dict[str, str] = {}
    ws_streams: set[str] = set()
    msgs: dict[str, list[WsMessage]] = defaultdict(list)
    events: dict[str, list[SseEvent]] = defaultdict(list)
    for e in cap.events:
        if isinstance(e, HttpRequest) and e.stream:
            url_of[e.stream] = e.url
        elif isinstance(e, WsStart) and e.stream:
            ws_streams.add(e.stream)
        elif isinstance(e, WsMessage) and e.direction == "server" and e.stream:
            msgs[e.stream].append(e)
        elif isinstance(e, SseEvent) and e.stream:
            events[e.stream].append(e)
    lost = reordered = wrong = 0
    for sid in ws_streams:
        got = msgs.get(sid, [])
        lost += max(0, ws_msgs - len(got))
        reordered += sum(1 for i, m in enumerate(got) if m.index != i)
        wrong += sum(1 for i, m in enumerate(got) if not (m.payload or "").startswith(f"{i}:"))
    sse_streams = [sid for sid, u in url_of.items() if "/sse?" in u]
    sse_lost = sse_reordered = 0
    for sid in sse_streams:
        got_e = [e for e in events.get(sid, []) if not e.partial]
        sse_lost += max(0, sse_events - len(got_e))
        sse_reordered += sum(1 for i, e in enumerate(got_e) if e.index != i or e.id != str(i))
    out.update(
        ws_streams_recorded=len(ws_streams),
        ws_messages_recorded=sum(len(v) for v in msgs.values()),
        ws_messages_expected=n_ws * ws_msgs,
        ws_lost=lost,
        ws_reordered=reordered,
        ws_wrong_content=wrong,
        sse_streams_recorded=len(sse_streams),
        sse_events_recorded=sum(len(events.get(s, [])) for s in sse_streams),
        sse_events_expected=n_sse * sse_events,
        sse_lost=sse_lost,
        sse_reordered=sse_reordered,
        capture_complete=cap.complete,
        capture_dropped=getattr(cap.events[-1], "dropped_events", None) if cap.events else None,
    )
    return out


# --- churn -------------------------------------------------------------------------------------------

_UPGRADE = (
    "GET /ws?n=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


def _rst(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _cycle(port: int, i: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    kind = i % 6
    try:
        if kind == 0:  # vanish at once
            writer.close()
        elif kind == 1:  # half a request line, then FIN
            writer.write(b"GET /length?si")
            await writer.drain()
            writer.close()
        elif kind == 2:  # the upgrade request, then RST before the answer
            writer.write(_UPGRADE.encode())
            await writer.drain()
            _rst(writer)
        elif kind == 3:  # a full handshake, then RST
            writer.write(_UPGRADE.encode())
            await writer.drain()
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
            _rst(writer)
        elif kind == 4:  # a whole request and answer
            writer.write(b"GET /length?size=10 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            await writer.drain()
            await asyncio.wait_for(reader.read(-1), 30)
            writer.close()
        else:  # an SSE stream cut by RST after its first bytes
            writer.write(b"GET /sse?n=50&interval_ms=5 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            await writer.drain()
            await asyncio.wait_for(reader.read(100), 30)
            _rst(writer)
    except (TimeoutError, OSError, asyncio.IncompleteReadError):
        writer.close()


async def _churn(port: int, cycles: int, parallel: int) -> int:
    sem = asyncio.Semaphore(parallel)
    failures = 0

    async def one(i: int) -> None:
        nonlocal failures
        async with sem:
            try:
                await _cycle(port, i)
            except OSError:
                failures += 1

    await asyncio.gather(*(one(i) for i in range(cycles)))
    return failures


def churn(proxy: Mitmdump, cycles: int, parallel: int = 20, settle_s: float = 60.0) -> dict[str, Any]:
    """fds, threads and asyncio tasks of mitmdump before and after ``cycles`` abrupt connections."""
    pid = proxy.pid
    assert pid is not None
    asyncio.run(_churn(proxy.port, 60, parallel))  # warm up: TLS-free paths, imports, pools
    time.sleep(2)
    before = {"fds": fd_count(pid), "threads": thread_count(pid), "tasks": proxy_tasks(proxy)}
    t0 = time.monotonic()
    failures = asyncio.run(_churn(proxy.port, cycles, parallel))
    took = time.monotonic() - t0
    deadline = time.monotonic() + settle_s
    while time.monotonic() < deadline and fd_count(pid) > before["fds"]:
        time.sleep(0.5)
    after = {"fds": fd_count(pid), "threads": thread_count(pid), "tasks": proxy_tasks(proxy)}
    return {"cycles": cycles, "connect_failures": failures, "seconds": round(took, 1), "before": before,
            "after": after, "alive": proxy.returncode is None}  # fmt: skip


# --- kill -9 -----------------------------------------------------------------------------------------


async def _listen(url: str, seen: dict[int, float], stop: asyncio.Event) -> None:
    try:
        async with connect(url, open_timeout=60, compression=None, ping_interval=None) as ws:
            while not stop.is_set():
                m = str(await asyncio.wait_for(ws.recv(), 60))
                seen[int(m.split(":")[0])] = time.time()
    except Exception:
        return


async def _kill_run(proxy: Mitmdump, streams: int, run_s: float) -> tuple[list[dict[int, float]], float]:
    seen: list[dict[int, float]] = [{} for _ in range(streams)]
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(
            _listen(f"{proxy.ws_base}/ws?n=1000000&interval_ms=5&size=12&c=k{i}", seen[i], stop)
        )
        for i in range(streams)
    ]
    await asyncio.sleep(run_s)
    killed_at = time.time()
    assert proxy.proc is not None
    os.kill(proxy.proc.pid, signal.SIGKILL)
    stop.set()
    await asyncio.gather(*tasks)
    return seen, killed_at


def kill9(proxy: Mitmdump, streams: int = 20, run_s: float = 3.0) -> dict[str, Any]:
    """Lost messages at ``kill -9``: those the clients had but the capture lacks, as a time window."""
    seen, killed_at = asyncio.run(_kill_run(proxy, streams, run_s))
    proxy.wait_exit()
    cap = read_capture(proxy.capture)  # type: ignore[attr-defined]
    url_of = {e.stream: e.url for e in cap.events if isinstance(e, HttpRequest) and e.stream}
    recorded: dict[str, set[int]] = defaultdict(set)
    for e in cap.events:
        if isinstance(e, WsMessage) and e.direction == "server" and e.stream:
            recorded[e.stream].add(e.index)
    worst = 0.0
    lost = received = not_prefix = 0
    for sid, url in url_of.items():
        i = int(url.rsplit("c=k", 1)[1].split("&")[0]) if "c=k" in url else None
        if i is None:
            continue
        got = seen[i]
        rec = recorded.get(sid, set())
        received += len(got)
        missing = [k for k in got if k not in rec]
        lost += len(missing)
        if rec and sorted(rec) != list(range(len(rec))):
            not_prefix += 1
        if missing:
            worst = max(worst, killed_at - min(got[k] for k in missing))
    return {"streams": streams, "received_by_clients": received, "recorded": sum(len(v) for v in recorded.values()),
            "lost": lost, "lost_window_ms": round(worst * 1000, 1), "not_a_prefix": not_prefix,
            "warnings": cap.warnings[:3]}  # fmt: skip
