"""The incident's back end: an asyncio imitation of a LangGraph agent behind an AG-UI endpoint.

One plain HTTP/1.1 server (hand-written on asyncio streams, so it can also
break the protocol on purpose) serves:

- ``POST /agent/run`` (also ``GET``): an AG-UI run streamed as SSE over a
  chunked response, the way CopilotKit's ``HttpAgent`` reads it with
  ``fetch``: ``RUN_STARTED``, ``TEXT_MESSAGE_START``, one
  ``TEXT_MESSAGE_CONTENT`` delta every ``interval_ms``, ``TEXT_MESSAGE_END``,
  ``RUN_FINISHED``; only ``data:`` lines, as the Python AG-UI encoder writes.
  A chunked request body (a streamed upload) is read while the answer streams
  (``request body ended`` / ``request body cut`` in the log).
- ``GET /ws``: a WebSocket streaming the same events as text messages.
- ``POST /agent/cancel``: body ``{"runIds": [...]}`` (the page's ``sendBeacon`` on
  ``pagehide``): those runs stop producing, logged as ``run cancelled``.
- ``OPTIONS``: CORS preflight (the page lives on another origin, ``www``).
- anything else: the static pages in ``www/`` (the "Next.js" front end).

How a stream ends is chosen per request by query parameters, so one server
plays every scenario:

``deltas=N``      deltas in a full run (default 40)
``after=K``       deltas sent before ``end`` applies (default: all of them)
``interval_ms``   time between deltas in milliseconds (default 100)
``end=``          ``finish`` (RUN_FINISHED, terminating chunk / close 1000),
                  ``cut`` (SSE: close TCP without the terminating chunk; WS:
                  close TCP with no close frame), ``reset`` (TCP RST),
                  ``going_away`` (WS close 1001), ``stall`` (stop sending, stay
                  open), ``garbage`` (SSE: invalid chunk framing; WS: a frame with
                  reserved opcode 0x3), ``run_error`` (the agent fails: AG-UI
                  ``RUN_ERROR``, then a proper end, as CopilotKit's runtime does).

Every request and every end is logged as a JSON line (``ts`` epoch seconds,
``msg``, fields) to ``log_path``, like an agent runtime's own log: it shows
whether a client's disconnect reached the back end.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import mimetypes
import struct
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qs, urlsplit

from tearline.tcp_end import reset_writer

__all__ = ["END_BEHAVIOURS", "WWW_DIR", "IncidentBackend", "RunPlan", "run_backend"]

WWW_DIR = Path(__file__).with_name("www")
END_BEHAVIOURS = ("finish", "cut", "reset", "going_away", "stall", "garbage", "run_error")
_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_ANSWER_TEXT = (
    "A WebSocket or a streamed fetch ends for one of a handful of reasons: the page left, "
    "the page closed it, the server or a proxy closed it, a timer fired, or the network broke. "
    "Recording both legs and the browser tells them apart."
)
_CORS = (
    b"Access-Control-Allow-Origin: *\r\n"
    b"Access-Control-Allow-Methods: GET, POST, OPTIONS\r\n"
    b"Access-Control-Allow-Headers: content-type, accept\r\n"
)


@dataclass(frozen=True, kw_only=True, slots=True)
class RunPlan:
    """How one streamed run goes, parsed from the query string."""

    deltas: int = 40
    after: int | None = None  # deltas before `end` applies; None = all
    interval: float = 0.1  # seconds between deltas
    end: str = "finish"

    @classmethod
    def from_query(cls, query: str) -> RunPlan:
        q = {k: v[-1] for k, v in parse_qs(query).items()}
        end = q.get("end", "finish")
        if end not in END_BEHAVIOURS:
            end = "finish"
        deltas = int(q.get("deltas", "40"))
        after = int(q["after"]) if "after" in q else None
        return cls(deltas=deltas, after=after, interval=int(q.get("interval_ms", "100")) / 1000, end=end)

    @property
    def sent_before_end(self) -> int:
        return self.deltas if self.after is None else min(self.after, self.deltas)


def agui_events(plan: RunPlan, run_id: str) -> Iterator[dict[str, Any]]:
    """The AG-UI events of a run up to the point where ``plan.end`` applies."""
    yield {"type": "RUN_STARTED", "threadId": "thread-1", "runId": run_id}
    yield {"type": "TEXT_MESSAGE_START", "messageId": f"msg-{run_id}", "role": "assistant"}
    words = _ANSWER_TEXT.split()
    for i in range(plan.sent_before_end):
        word = words[i % len(words)]
        yield {"type": "TEXT_MESSAGE_CONTENT", "messageId": f"msg-{run_id}", "delta": word + " "}
    if plan.end == "finish":
        yield {"type": "TEXT_MESSAGE_END", "messageId": f"msg-{run_id}"}
        yield {"type": "RUN_FINISHED", "threadId": "thread-1", "runId": run_id}
    elif plan.end == "run_error":
        yield {"type": "RUN_ERROR", "message": "the model provider failed", "code": "PROVIDER_ERROR"}


def ws_frame(opcode: int, payload: bytes) -> bytes:
    """An unmasked (server-to-client) WebSocket frame with FIN set."""
    head = bytes([0x80 | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([n])
    elif n < 1 << 16:
        head += bytes([126]) + struct.pack("!H", n)
    else:
        head += bytes([127]) + struct.pack("!Q", n)
    return head + payload


async def read_ws_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """Read one client frame; returns (opcode, unmasked payload)."""
    b0, b1 = await reader.readexactly(2)
    n = b1 & 0x7F
    if n == 126:
        (n,) = struct.unpack("!H", await reader.readexactly(2))
    elif n == 127:
        (n,) = struct.unpack("!Q", await reader.readexactly(8))
    mask = await reader.readexactly(4) if b1 & 0x80 else b"\0\0\0\0"
    data = await reader.readexactly(n)
    return b0 & 0x0F, bytes(c ^ mask[i % 4] for i, c in enumerate(data))


class IncidentBackend:
    """The server. Use ``run_backend()`` to run it on a thread."""

    def __init__(self, log: IO[str] | None = None, www_dir: Path = WWW_DIR) -> None:
        self._log_file = log
        self._www = www_dir
        self._tasks: set[asyncio.Task[None]] = set()
        self._cancelled: set[str] = set()  # run ids a client asked to stop (POST /agent/cancel)

    def log(self, msg: str, **fields: Any) -> None:
        if self._log_file is not None and not self._log_file.closed:
            self._log_file.write(json.dumps({"ts": time.time(), "msg": msg, **fields}) + "\n")
            self._log_file.flush()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await self._one_request(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _one_request(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Serve one request; False when the connection is done."""
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
        body = b""
        if int(headers.get("content-length", "0")):
            body = await reader.readexactly(int(headers["content-length"]))
        url = urlsplit(target)
        if method == "OPTIONS":
            writer.write(b"HTTP/1.1 204 No Content\r\n" + _CORS + b"Content-Length: 0\r\n\r\n")
            await writer.drain()
            return True
        if url.path == "/ws" and headers.get("upgrade", "").lower() == "websocket":
            await self._websocket(reader, writer, headers, RunPlan.from_query(url.query), target)
            return False
        if url.path == "/agent/cancel" and method == "POST":
            await self._cancel(writer, body)
            return True
        if url.path == "/agent/run":
            chunked = "chunked" in headers.get("transfer-encoding", "").lower()
            await self._sse(reader, writer, RunPlan.from_query(url.query), target, chunked)
            return False
        await self._static(writer, url.path)
        return True

    async def _cancel(self, writer: asyncio.StreamWriter, body: bytes) -> None:
        try:
            ids = json.loads(body or b"{}").get("runIds", [])
        except (ValueError, AttributeError):
            ids = []
        ids = [str(i) for i in ids if isinstance(i, str)]
        self._cancelled.update(ids)
        self.log("cancel requested", run_ids=ids)
        writer.write(b"HTTP/1.1 204 No Content\r\n" + _CORS + b"Content-Length: 0\r\n\r\n")
        await writer.drain()

    async def _static(self, writer: asyncio.StreamWriter, path: str) -> None:
        name = path.strip("/") or "index.html"
        file = (self._www / name).resolve()
        if file.parent != self._www.resolve() or not file.is_file():
            body, status, ctype = b"not found\n", "404 Not Found", "text/plain"
        else:
            body, status = file.read_bytes(), "200 OK"
            ctype = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        writer.write(
            f"HTTP/1.1 {status}\r\nContent-Type: {ctype}; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nCache-Control: no-store\r\n\r\n".encode()
            + body
        )
        await writer.drain()

    async def _upload_then_eof(self, reader: asyncio.StreamReader, run_id: str) -> bytes:
        """Read a chunked request body as it arrives (a streamed upload), then wait for the client's EOF.

        Returns b"" when the client (or the proxy) hung up, before or after the body's end."""
        received = 0
        try:
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")  # no trailers: the empty line
                    break
                received += len(await reader.readexactly(size + 2)) - 2
                self.log("request body chunk", run_id=run_id, bytes=size)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, ConnectionError, OSError):
            self.log("request body cut", run_id=run_id, bytes_received=received)
            return b""
        self.log("request body ended", run_id=run_id, bytes_received=received)
        return await reader.read(1)

    async def _sse(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        plan: RunPlan,
        target: str,
        chunked_body: bool = False,
    ) -> None:
        run_id = uuid.uuid4().hex[:8]
        self.log("run started", transport="sse", run_id=run_id, target=target, end=plan.end)
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
            + _CORS
            + b"Transfer-Encoding: chunked\r\n\r\n"
        )
        # done when the client (or proxy) hangs up; a streamed upload is read first
        gone = asyncio.ensure_future(
            self._upload_then_eof(reader, run_id) if chunked_body else reader.read(1)
        )
        sent = 0
        try:
            for event in agui_events(plan, run_id):
                data = f"data: {json.dumps(event, separators=(',', ':'))}\n\n".encode()
                writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                await writer.drain()
                sent += 1
                done, _ = await asyncio.wait({gone}, timeout=plan.interval)
                if done:
                    self.log("client went away", transport="sse", run_id=run_id, events_sent=sent)
                    return
                if run_id in self._cancelled:
                    self.log("run cancelled", transport="sse", run_id=run_id, events_sent=sent)
                    return
            await self._end_sse(writer, plan, gone, run_id, sent)
        except (ConnectionError, OSError):
            self.log("client went away", transport="sse", run_id=run_id, events_sent=sent)
        finally:
            gone.cancel()

    async def _end_sse(
        self, writer: asyncio.StreamWriter, plan: RunPlan, gone: asyncio.Future[bytes], run_id: str, sent: int
    ) -> None:
        self.log("run ending", transport="sse", run_id=run_id, end=plan.end, events_sent=sent)
        if plan.end in ("finish", "run_error"):
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        elif plan.end == "garbage":
            writer.write(b"zz-not-a-chunk-size\r\nthis is not chunked framing\r\n")
            await writer.drain()
            await asyncio.sleep(0.2)
        elif plan.end == "reset":
            reset_writer(writer)
        elif plan.end == "stall":
            await gone  # hold the stream open, silent, until the other side gives up
            self.log("client went away", transport="sse", run_id=run_id, events_sent=sent)
        # "cut" (and anything else): fall through to a plain close without the terminating chunk.

    async def _websocket(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        headers: dict[str, str],
        plan: RunPlan,
        target: str,
    ) -> None:
        key = headers.get("sec-websocket-key", "")
        accept = base64.b64encode(hashlib.sha1((key + _WS_GUID).encode()).digest()).decode()
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + f"Sec-WebSocket-Accept: {accept}\r\n\r\n".encode()
        )
        await writer.drain()
        run_id = uuid.uuid4().hex[:8]
        self.log("run started", transport="ws", run_id=run_id, target=target, end=plan.end)
        closing = asyncio.Event()  # set once we sent our close frame: the client's close is then the answer
        client = asyncio.ensure_future(self._ws_reader(reader, writer, run_id, closing))
        sent = 0
        try:
            for event in agui_events(plan, run_id):
                writer.write(ws_frame(0x1, json.dumps(event, separators=(",", ":")).encode()))
                await writer.drain()
                sent += 1
                done, _ = await asyncio.wait({client}, timeout=plan.interval)
                if done:
                    return
                if run_id in self._cancelled:
                    self.log("run cancelled", transport="ws", run_id=run_id, messages_sent=sent)
                    return
            self.log("run ending", transport="ws", run_id=run_id, end=plan.end, messages_sent=sent)
            if plan.end in ("finish", "going_away", "run_error"):
                code = 1001 if plan.end == "going_away" else 1000
                reason = b"agent restarting" if plan.end == "going_away" else b"run finished"
                closing.set()
                writer.write(ws_frame(0x8, struct.pack("!H", code) + reason))
                await writer.drain()
                await asyncio.wait({client}, timeout=5)  # the close handshake: wait for the answer
            elif plan.end == "garbage":
                writer.write(ws_frame(0x3, b"reserved opcode"))
                await writer.drain()
                await asyncio.wait({client}, timeout=5)
            elif plan.end == "reset":
                reset_writer(writer)
            elif plan.end == "stall":
                await client
        except (ConnectionError, OSError):
            self.log("client went away", transport="ws", run_id=run_id, messages_sent=sent)
        finally:
            client.cancel()

    async def _ws_reader(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, run_id: str, closing: asyncio.Event
    ) -> None:
        """Read client frames until its close frame (answered unless we closed first) or EOF."""
        try:
            while True:
                opcode, payload = await read_ws_frame(reader)
                if opcode == 0x8:
                    code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                    self.log(
                        "close answered" if closing.is_set() else "client closed",
                        transport="ws",
                        run_id=run_id,
                        code=code,
                        reason=payload[2:].decode(errors="replace"),
                    )
                    if not closing.is_set():
                        with contextlib.suppress(ConnectionError, OSError):
                            writer.write(ws_frame(0x8, payload[:2]))
                            await writer.drain()
                    return
                if opcode == 0x9:
                    writer.write(ws_frame(0xA, payload))
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            self.log("client went away", transport="ws", run_id=run_id, close_frame=False)


@dataclass(frozen=True, kw_only=True, slots=True)
class RunningBackend:
    port: int
    log_path: Path
    stop: Any  # () -> None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


@contextmanager
def run_backend(log_path: Path, port: int = 0) -> Iterator[RunningBackend]:
    """Run the back end on 127.0.0.1 (``port`` 0: a free one) in a thread; stop it and every stream on exit."""
    ready = threading.Event()
    state: dict[str, Any] = {}

    async def main() -> None:
        with Path(log_path).open("a", encoding="utf-8") as log:
            backend = IncidentBackend(log)
            conns: set[asyncio.StreamWriter] = set()
            handlers: set[asyncio.Task[Any]] = set()

            async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                conns.add(writer)
                task = asyncio.current_task()
                if task is not None:
                    handlers.add(task)
                try:
                    await backend.handle(reader, writer)
                finally:
                    conns.discard(writer)
                    if task is not None:
                        handlers.discard(task)

            server = await asyncio.start_server(handle, "127.0.0.1", port)
            state["port"] = server.sockets[0].getsockname()[1]
            state["stop"] = asyncio.Event()
            state["loop"] = asyncio.get_running_loop()
            ready.set()
            await state["stop"].wait()
            server.close()
            for w in list(conns):
                w.transport.abort()
            if handlers:  # let every stream log its end before the log closes
                await asyncio.wait(set(handlers), timeout=5)
            await server.wait_closed()

    thread = threading.Thread(target=asyncio.run, args=(main(),), name="incident-backend", daemon=True)
    thread.start()
    if not ready.wait(15):
        raise RuntimeError("incident back end did not start")

    def stop() -> None:
        if thread.is_alive():
            state["loop"].call_soon_threadsafe(state["stop"].set)
            thread.join(10)

    try:
        yield RunningBackend(port=state["port"], log_path=Path(log_path), stop=stop)
    finally:
        stop()


def main() -> None:
    """``python -m tearline.lab.incident.backend [--port N] [--log FILE]``: serve until Ctrl-C."""
    import argparse

    parser = argparse.ArgumentParser(description="The incident's AG-UI back end and static pages.")
    parser.add_argument("--port", type=int, default=8001, help="port on 127.0.0.1 (default 8001)")
    parser.add_argument("--log", type=Path, default=Path("backend.log"), help="JSON lines log file")
    args = parser.parse_args()
    with run_backend(args.log, args.port) as backend:
        print(f"serving http://{backend.address}/chat.html?sse=finish&ws=finish (log: {args.log})")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
