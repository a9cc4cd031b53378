"""Real, scriptable WebSocket, SSE and chunked-HTTP servers on 127.0.0.1.

One ``LabServer`` serves every behaviour; the request's path and query choose
it, so a test (or a browser page) asks for exactly the ending it needs::

    /ws?n=3&interval_ms=50&end=close&code=4000&reason=bye
    /sse?n=5&interval_ms=100&split=1&end=cut
    /stream?n=4&size=100&end=rst
    /length?size=1000

Routes and query parameters (times in milliseconds, sizes in bytes):

``/ws``      WebSocket (no extensions negotiated). ``n`` messages of ``size``
             bytes (default 16; text ``"<i>:xxx..."``, ``binary=1`` for binary)
             every ``interval_ms`` (default 50) after ``delay_ms``; ``echo=1``
             (default) echoes client messages. Then ``end``: ``wait`` (default:
             stay until the client closes; answers its close frame unless
             ``answer=0``), ``close`` (close frame ``code``/``reason``, default
             1000), ``fin`` (TCP FIN, no close frame), ``rst`` (TCP RST via
             SO_LINGER 0), ``hang`` (stop sending, never close) after ``end_delay_ms``
             (default 0, but 50 for ``fin``/``rst``: mitmproxy 12.3.1 sometimes never closes the
             client when the upstream's end arrives together with the last message; pass
             ``end_delay_ms=0`` to provoke that).
``/sse``     ``text/event-stream``, chunked. ``n`` events (``event=name``,
             ``ids=1`` adds ``id: <i>``, ``retry=ms`` once first, ``comment=1`` a
             comment line each, ``size`` data bytes, ``crlf=1`` CRLF line ends,
             ``split=1`` each event sent as two chunks split mid-line). ``end``:
             ``terminate`` (default: the ``0`` chunk), ``cut`` (FIN without the
             terminator), ``rst``, ``partial`` (half an event, then FIN), ``hang``.
``/stream``  ``text/plain`` chunked without length: ``n`` chunks of ``size``; same ``end``.
``/length``  ``size`` bytes with Content-Length (``end=cut`` sends half then FIN).
anything else: ``200 ok``.

Each server keeps ``observed``: what it saw from clients (``ServerEvent``),
so tests can check what reached the upstream (close codes, EOF, resets).

Use from tests as a context manager in a background thread (``LabServer()``),
from asyncio code with ``await server.start_async()``, or as a subprocess
(``python -m tearline.lab.servers``, prints ``listening at 127.0.0.1:PORT``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State
from websockets.server import ServerProtocol

__all__ = ["LabServer", "ServerEvent", "message_text", "sse_event_bytes"]

HOST = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class ServerEvent:
    """Something the server saw or did. ``t`` wall-clock epoch seconds.

    ``what``: ``request`` (text = path), ``ws_open``, ``ws_message`` (size, text=opcode),
    ``ws_close_received`` (code, text=reason), ``ws_close_sent``, ``eof``, ``reset``,
    ``error`` (text), ``end`` (text = how the server ended the response/socket).
    """

    t: float
    conn: int
    what: str
    path: str = ""
    size: int | None = None
    code: int | None = None
    text: str = ""


def message_text(i: int, size: int) -> str:
    """The ``i``-th server message: ``"<i>:"`` padded with ``x`` to ``size`` bytes."""
    head = f"{i}:"
    return head + "x" * max(0, size - len(head))


def sse_event_bytes(
    i: int,
    *,
    event: str | None = None,
    ids: bool = False,
    retry: int | None = None,
    comment: bool = False,
    size: int = 16,
    crlf: bool = False,
) -> bytes:
    """The ``i``-th SSE event as sent on the wire (data = ``message_text(i, size)``)."""
    lines: list[str] = []
    if comment:
        lines.append(f": comment {i}")
    if retry is not None:
        lines.append(f"retry: {retry}")
    if event:
        lines.append(f"event: {event}")
    if ids:
        lines.append(f"id: {i}")
    lines.append(f"data: {message_text(i, size)}")
    nl = "\r\n" if crlf else "\n"
    return (nl.join(lines) + nl + nl).encode()


@dataclass
class _Params:
    q: dict[str, str] = field(default_factory=dict)

    def num(self, name: str, default: int) -> int:
        try:
            return int(self.q.get(name, default))
        except ValueError:
            return default

    def text(self, name: str, default: str) -> str:
        return self.q.get(name, default)

    def flag(self, name: str, default: bool = False) -> bool:
        v = self.q.get(name)
        return default if v is None else v not in ("0", "false", "no", "")


def _rst(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _fin(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        await writer.drain()
    writer.close()
    with contextlib.suppress(OSError, ConnectionError):
        await writer.wait_closed()


class LabServer:
    """A scriptable HTTP/WebSocket server on 127.0.0.1 (port 0 = a free port)."""

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self.observed: list[ServerEvent] = []
        self._server: asyncio.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._conns = 0
        self._writers: set[asyncio.StreamWriter] = set()

    # --- addresses ---------------------------------------------------------------
    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.base + path

    def ws_url(self, path: str = "/ws") -> str:
        return f"ws://{HOST}:{self.port}{path}"

    def events(self, what: str | None = None) -> list[ServerEvent]:
        return [e for e in list(self.observed) if what is None or e.what == what]

    # --- life cycle ----------------------------------------------------------------
    async def start_async(self) -> LabServer:
        self._server = await asyncio.start_server(self._handle, HOST, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self._loop = asyncio.get_running_loop()
        return self

    async def stop_async(self) -> None:
        if self._server is not None:
            self._server.close()
            for w in list(self._writers):
                w.transport.abort()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None

    def start(self) -> LabServer:
        """Run in a background thread; returns once listening."""
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        def run() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self.start_async())
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self.stop_async())
            self._loop.close()

        self._thread = threading.Thread(target=run, name=f"LabServer:{self.port}", daemon=True)
        self._thread.start()
        if not ready.wait(15):
            raise RuntimeError("lab server did not start")
        return self

    def stop(self) -> None:
        if self._thread is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(15)
            self._thread = None

    def __enter__(self) -> LabServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- connections -----------------------------------------------------------------
    def _note(self, conn: int, what: str, **kw: object) -> None:
        self.observed.append(ServerEvent(t=time.time(), conn=conn, what=what, **kw))  # type: ignore[arg-type]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._conns += 1
        conn = self._conns
        self._writers.add(writer)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    self._note(conn, "eof")
                    break
                except ConnectionResetError:
                    self._note(conn, "reset")
                    break
                keep = await self._request(conn, head, reader, writer)
                if not keep:
                    break
        except ConnectionResetError:
            self._note(conn, "reset")
        except (OSError, asyncio.LimitOverrunError) as e:
            self._note(conn, "error", text=str(e))
        finally:
            self._writers.discard(writer)
            if not writer.transport.is_closing():
                writer.close()

    async def _request(
        self, conn: int, head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        target = parts[1] if len(parts) > 1 else "/"
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                k, _, v = line.partition(":")
                headers[k.strip().lower()] = v.strip()
        u = urlsplit(target)
        p = _Params(dict(parse_qsl(u.query)))
        self._note(conn, "request", path=target)
        length = int(headers.get("content-length", "0") or 0)
        if length:
            await reader.readexactly(length)
        if headers.get("upgrade", "").lower() == "websocket":
            await self._websocket(conn, target, head, p, reader, writer)
            return False
        route = u.path.rstrip("/") or "/"
        close = headers.get("connection", "").lower() == "close"
        if route == "/sse":
            return await self._chunked(conn, target, p, writer, sse=True) and not close
        if route == "/stream":
            return await self._chunked(conn, target, p, writer, sse=False) and not close
        if route == "/length":
            return await self._length(conn, target, p, writer) and not close
        body = b"ok\n"
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        await writer.drain()
        return not close

    # --- HTTP bodies -------------------------------------------------------------------
    async def _length(self, conn: int, path: str, p: _Params, writer: asyncio.StreamWriter) -> bool:
        size = p.num("size", 1000)
        body = message_text(0, size).encode()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % len(body))
        if p.text("end", "") == "cut":
            writer.write(body[: size // 2])
            self._note(conn, "end", path=path, text="cut")
            await _fin(writer)
            return False
        writer.write(body)
        await writer.drain()
        return True

    def _pieces(self, p: _Params, sse: bool) -> Iterator[list[bytes]]:
        n, size = p.num("n", 3), p.num("size", 16)
        retry = p.num("retry", -1)
        for i in range(n):
            if sse:
                data = sse_event_bytes(
                    i,
                    event=p.text("event", "") or None,
                    ids=p.flag("ids"),
                    retry=retry if (retry >= 0 and i == 0) else None,
                    comment=p.flag("comment"),
                    size=size,
                    crlf=p.flag("crlf"),
                )
            else:
                data = message_text(i, size).encode()
            if p.flag("split") and len(data) > 1:
                cut = len(data) // 2
                yield [data[:cut], data[cut:]]
            else:
                yield [data]

    async def _chunked(
        self, conn: int, path: str, p: _Params, writer: asyncio.StreamWriter, sse: bool
    ) -> bool:
        ctype = b"text/event-stream" if sse else b"text/plain"
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: %s\r\nCache-Control: no-cache\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" % ctype
        )
        await writer.drain()
        interval = p.num("interval_ms", 50) / 1000
        await asyncio.sleep(p.num("delay_ms", 0) / 1000)
        for k, pieces in enumerate(self._pieces(p, sse)):
            if k:
                await asyncio.sleep(interval)
            for j, piece in enumerate(pieces):
                if j:
                    await asyncio.sleep(min(interval / 2, 0.05))
                writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                await writer.drain()
        await asyncio.sleep(p.num("end_delay_ms", 0) / 1000)
        end = p.text("end", "terminate")
        self._note(conn, "end", path=path, text=end)
        if end == "terminate":
            writer.write(b"0\r\n\r\n")
            await writer.drain()
            return True
        if end == "partial":
            half = (sse_event_bytes(p.num("n", 3), size=p.num("size", 16)) if sse else b"partial")[:-3]
            writer.write(b"%x\r\n%s\r\n" % (len(half), half))
            await _fin(writer)
        elif end == "rst":
            _rst(writer)
        elif end == "hang":
            await asyncio.sleep(3600)
        else:  # cut
            await _fin(writer)
        return False

    # --- WebSocket -------------------------------------------------------------------------
    async def _websocket(
        self,
        conn: int,
        path: str,
        head: bytes,
        p: _Params,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        proto = ServerProtocol(max_size=None)
        proto.receive_data(head)
        reqs = [e for e in proto.events_received() if isinstance(e, Request)]
        if not reqs:
            writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            await _fin(writer)
            return
        proto.send_response(proto.accept(reqs[0]))
        writer.write(b"".join(proto.data_to_send()))
        await writer.drain()
        self._note(conn, "ws_open", path=path)
        done = asyncio.Event()
        echo, answer = p.flag("echo", True), p.flag("answer", True)
        sent_close = False

        def flush() -> None:
            items = proto.data_to_send()
            data = b"".join(items)
            if data and not writer.transport.is_closing():
                writer.write(data)
            if b"" in items and not writer.transport.is_closing():
                # the close handshake is done: the server closes the TCP connection (RFC 6455 7.1.1)
                writer.close()

        async def read_loop() -> None:
            try:
                while True:
                    try:
                        data = await reader.read(65536)
                    except ConnectionResetError:
                        self._note(conn, "reset", path=path)
                        return
                    if not data:
                        self._note(conn, "eof", path=path)
                        proto.receive_eof()
                        return
                    if not answer:
                        # parse frames without the protocol's automatic close answer
                        proto.receive_data(data)
                        for fr in proto.events_received():
                            self._frame(conn, path, fr)
                            if isinstance(fr, Frame) and fr.opcode == Opcode.CLOSE:
                                proto.data_to_send()  # discard the automatic answer
                                return
                        proto.data_to_send()
                        continue
                    proto.receive_data(data)
                    for fr in proto.events_received():
                        self._frame(conn, path, fr)
                        echoable = (
                            echo and proto.state is State.OPEN
                        )  # a data frame read with the close: no echo
                        if isinstance(fr, Frame) and fr.opcode in (Opcode.TEXT, Opcode.BINARY) and echoable:
                            if fr.opcode == Opcode.TEXT:
                                proto.send_text(fr.data)
                            else:
                                proto.send_binary(fr.data)
                        if isinstance(fr, Frame) and fr.opcode == Opcode.CLOSE and not sent_close:
                            self._note(conn, "ws_close_sent", path=path, text="answer")
                    flush()
                    await writer.drain()
            finally:
                done.set()

        async def send_loop() -> None:
            nonlocal sent_close
            await asyncio.sleep(p.num("delay_ms", 0) / 1000)
            n, size, interval = p.num("n", 0), p.num("size", 16), p.num("interval_ms", 50) / 1000
            for i in range(n):
                if i:
                    await asyncio.sleep(interval)
                if done.is_set():
                    return
                if p.flag("binary"):
                    proto.send_binary(message_text(i, size).encode())
                else:
                    proto.send_text(message_text(i, size).encode())
                flush()
                await writer.drain()
            end = p.text("end", "wait")
            if end == "wait":
                return
            # fin/rst default to a 50 ms gap after the last message: mitmproxy 12.3.1 can miss an
            # upstream end that arrives together with the last message (the client is never closed)
            await asyncio.sleep(p.num("end_delay_ms", 50 if end in ("fin", "rst") else 0) / 1000)
            if done.is_set():
                return
            self._note(conn, "end", path=path, text=end)
            if end == "close":
                sent_close = True
                proto.send_close(p.num("code", 1000), p.text("reason", ""))
                self._note(conn, "ws_close_sent", path=path, code=p.num("code", 1000))
                flush()
                await writer.drain()
            elif end == "fin":
                await _fin(writer)
            elif end == "rst":
                _rst(writer)

        sender = asyncio.ensure_future(send_loop())
        try:
            await read_loop()
        except (OSError, ValueError) as e:
            self._note(conn, "error", path=path, text=str(e))
        finally:
            if not sender.done():
                sender.cancel()
                with contextlib.suppress(asyncio.CancelledError, OSError):
                    await sender
            if not writer.transport.is_closing():
                await _fin(writer)

    def _frame(self, conn: int, path: str, fr: object) -> None:
        if not isinstance(fr, Frame):
            return
        if fr.opcode in (Opcode.TEXT, Opcode.BINARY):
            self._note(conn, "ws_message", path=path, size=len(fr.data), text=fr.opcode.name.lower())
        elif fr.opcode == Opcode.CLOSE:
            code, reason = 1005, ""
            if len(fr.data) >= 2:
                code = struct.unpack("!H", fr.data[:2])[0]
                reason = bytes(fr.data[2:]).decode("utf-8", "replace")
            self._note(conn, "ws_close_received", path=path, code=code, text=reason)


def main(argv: list[str] | None = None) -> None:
    """Run a lab server in the foreground: ``python -m tearline.lab.servers [--port N]``."""
    ap = argparse.ArgumentParser(prog="python -m tearline.lab.servers", description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0 = a free one)")
    args = ap.parse_args(argv)

    async def run() -> None:
        server = await LabServer(args.port).start_async()
        print(f"listening at {HOST}:{server.port}", flush=True)
        await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


if __name__ == "__main__":
    main()
