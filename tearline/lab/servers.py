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

A parameter the route does not take, a number that is not one or an ``end`` it does not know is
answered ``400`` with the reason (the table: ``tearline/lab/server_routes.py``); parameters meant for
someone else on the path are declared with ``LabServer(extra_params=...)``. HTTP/1.1 goes through h11,
WebSocket through ``websockets``' sans-I/O ``ServerProtocol``; FIN and RST ends through ``tearline.tcp_end``.

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
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import h11
from websockets.datastructures import Headers
from websockets.http11 import Request

from tearline.lab.server_routes import ParamError, Params, message_text, parse_params, sse_event_bytes
from tearline.lab.server_ws import serve_websocket
from tearline.tcp_end import fin_writer, reset_writer

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


class LabServer:
    """A scriptable HTTP/WebSocket server on 127.0.0.1 (port 0 = a free port)."""

    def __init__(self, port: int = 0, *, extra_params: Iterable[str] = ()) -> None:
        self.port = port
        # query parameters meant for someone else on the path (a proxy addon, a label): ignored here
        self.extra_params = frozenset(extra_params)
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

    @property
    def connections(self) -> int:
        """How many TCP connections the server has accepted so far."""
        return self._conns

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
        h = h11.Connection(h11.SERVER)
        try:
            while True:
                event = await self._next_event(h, reader)
                if isinstance(event, h11.ConnectionClosed):
                    self._note(conn, "eof")
                    break
                if not isinstance(event, h11.Request):
                    break
                keep = await self._request(conn, h, event, reader, writer)
                if not keep or h.our_state is not h11.DONE:
                    break
                h.start_next_cycle()
        except ConnectionResetError:
            self._note(conn, "reset")
        except h11.RemoteProtocolError as e:
            if h.their_state is h11.ERROR and h.trailing_data[1]:  # the client left mid-request
                self._note(conn, "eof")
            else:
                self._note(conn, "error", text=f"bad request: {e}")
                with contextlib.suppress(h11.LocalProtocolError):
                    writer.write(
                        h.send(
                            h11.Response(
                                status_code=400, headers=[("Content-Length", "0")], reason=b"Bad Request"
                            )
                        )
                    )
        except OSError as e:
            self._note(conn, "error", text=str(e))
        finally:
            self._writers.discard(writer)
            if not writer.transport.is_closing():
                writer.close()

    @staticmethod
    async def _next_event(h: h11.Connection, reader: asyncio.StreamReader) -> object:
        """The next HTTP/1.1 event from the client, reading as needed (end of stream included)."""
        while True:
            event = h.next_event()
            if event is not h11.NEED_DATA:
                return event
            h.receive_data(await reader.read(65536))

    async def _request(
        self,
        conn: int,
        h: h11.Connection,
        req: h11.Request,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> bool:
        target = req.target.decode("latin-1")
        u = urlsplit(target)
        upgrade = any(k == b"upgrade" and v.lower() == b"websocket" for k, v in req.headers)
        self._note(conn, "request", path=target)
        route = u.path.rstrip("/") or "/"
        try:
            p = parse_params(route, u.query, websocket=upgrade, extra=self.extra_params)
        except ParamError as e:
            self._note(conn, "error", path=target, text=str(e))
            body = f"lab server: {e}\n".encode()
            headers = [
                ("content-type", "text/plain"),
                ("content-length", str(len(body))),
                ("connection", "close"),
            ]
            writer.write(
                h.send(h11.Response(status_code=400, headers=headers, reason=b"Bad Request"))
                + h.send(h11.Data(data=body))
            )
            writer.write(h.send(h11.EndOfMessage()))
            await fin_writer(writer)
            return False
        if upgrade:
            await serve_websocket(
                self._note, conn, target, self._ws_handshake(h, req, target), p, reader, writer
            )
            return False
        while not isinstance(await self._next_event(h, reader), h11.EndOfMessage):
            pass  # a request body: read and dropped
        if route == "/sse":
            return await self._chunked(conn, h, target, p, writer, sse=True)
        if route == "/stream":
            return await self._chunked(conn, h, target, p, writer, sse=False)
        if route == "/length":
            return await self._length(conn, h, target, p, writer)
        body = b"ok\n"
        writer.write(h.send(_response("text/plain", length=len(body))) + h.send(h11.Data(data=body)))
        writer.write(h.send(h11.EndOfMessage()))
        await writer.drain()
        return True

    @staticmethod
    def _ws_handshake(h: h11.Connection, req: h11.Request, target: str) -> tuple[bytes, bytes]:
        """The upgrade request as websockets' ``ServerProtocol`` reads it, and what the client sent after it."""
        headers = Headers([(k.decode("latin-1"), v.decode("latin-1")) for k, v in req.headers])
        return Request(target, headers).serialize(), h.trailing_data[0]

    # --- HTTP bodies -------------------------------------------------------------------
    async def _length(
        self, conn: int, h: h11.Connection, path: str, p: Params, writer: asyncio.StreamWriter
    ) -> bool:
        size = p.num("size", 1000)
        body = message_text(0, size).encode()
        writer.write(h.send(_response("text/plain", length=len(body))))
        if p.text("end", "full") == "cut":
            writer.write(h.send(h11.Data(data=body[: size // 2])))
            self._note(conn, "end", path=path, text="cut")
            await fin_writer(writer)
            return False
        writer.write(h.send(h11.Data(data=body)) + h.send(h11.EndOfMessage()))
        await writer.drain()
        return True

    def _pieces(self, p: Params, sse: bool) -> Iterator[list[bytes]]:
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
        self, conn: int, h: h11.Connection, path: str, p: Params, writer: asyncio.StreamWriter, sse: bool
    ) -> bool:
        writer.write(h.send(_response("text/event-stream" if sse else "text/plain", length=None)))
        await writer.drain()
        interval = p.num("interval_ms", 50) / 1000
        await asyncio.sleep(p.num("delay_ms", 0) / 1000)
        for k, pieces in enumerate(self._pieces(p, sse)):
            if k:
                await asyncio.sleep(interval)
            for j, piece in enumerate(pieces):
                if j:
                    await asyncio.sleep(min(interval / 2, 0.05))
                writer.write(h.send(h11.Data(data=piece)))
                await writer.drain()
        await asyncio.sleep(p.num("end_delay_ms", 0) / 1000)
        end = p.text("end", "terminate")
        self._note(conn, "end", path=path, text=end)
        if end == "terminate":
            writer.write(h.send(h11.EndOfMessage()))
            await writer.drain()
            return True
        if end == "partial":
            half = (sse_event_bytes(p.num("n", 3), size=p.num("size", 16)) if sse else b"partial")[:-3]
            writer.write(h.send(h11.Data(data=half)))
            await fin_writer(writer)
        elif end == "rst":
            reset_writer(writer)
        elif end == "hang":
            await asyncio.sleep(3600)
        else:  # cut
            await fin_writer(writer)
        return False


def _response(ctype: str, *, length: int | None) -> h11.Response:
    """A 200 with ``ctype``: ``Content-Length`` when ``length`` is known, else chunked and not cached."""
    headers = [("Content-Type", ctype)]
    if length is None:
        headers += [("Cache-Control", "no-cache"), ("Transfer-Encoding", "chunked")]
    else:
        headers.append(("Content-Length", str(length)))
    return h11.Response(status_code=200, headers=headers, reason=b"OK")


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
