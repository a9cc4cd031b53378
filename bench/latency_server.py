"""The upstream for the latency bench, in its own process: ``python bench/latency_server.py``.

Two listeners on 127.0.0.1 (ports printed as one JSON line on stdout, then it serves until
killed):

``ws``   a WebSocket echo server (``websockets``, compression off): every message comes back.
``sse``  ``GET /sse?n=N&interval_ms=I&size=S``: ``text/event-stream``, chunked, ``n`` events
         ``interval_ms`` apart, each one chunk ``data: <time.monotonic_ns()> xxx...\\n\\n`` padded
         to about ``size`` bytes. The client subtracts the stamp from its own
         ``time.monotonic_ns()`` when the event is complete: the one-way delay (one machine, one
         monotonic clock for every process).

A separate process, so neither the client's nor the proxy's event loop (or GIL) is shared with it.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, serve


async def echo(ws: ServerConnection) -> None:
    async for msg in ws:
        await ws.send(msg)


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


async def sse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        target = head.split(b" ", 2)[1].decode("ascii", "replace")
        q = {k: v[0] for k, v in parse_qs(urlsplit(target).query).items()}
        n, interval, size = int(q.get("n", 10)), int(q.get("interval_ms", 10)), int(q.get("size", 32))
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        )
        await writer.drain()
        for _ in range(n):
            await asyncio.sleep(interval / 1000)
            stamp = b"data: %d " % time.monotonic_ns()
            pad = max(0, size - len(stamp) - 2)
            writer.write(_chunk(stamp + b"x" * pad + b"\n\n"))
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()
    except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
        pass
    finally:
        writer.close()


async def main() -> None:
    ws_server = await serve(echo, "127.0.0.1", 0, compression=None, max_size=None)
    sse_server = await asyncio.start_server(sse, "127.0.0.1", 0, backlog=1024)
    ports = {
        "ws": ws_server.sockets[0].getsockname()[1],
        "sse": sse_server.sockets[0].getsockname()[1],
    }
    print(json.dumps(ports), flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
