"""The lab server's WebSocket session: ``websockets``' sans-I/O ``ServerProtocol`` on asyncio streams.

``LabServer`` (``tearline/lab/servers.py``) parses the upgrade request with h11 and hands it here. The
protocol object frames, masks, answers pings and closes; this module only decides when to send, echo
or answer, and how the connection ends (a close frame, or a FIN or RST through ``tearline.tcp_end``),
recording what it saw as ``ServerEvent``s.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from typing import Protocol

from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State
from websockets.server import ServerProtocol

from tearline.lab.server_routes import Params, message_text
from tearline.tcp_end import fin_writer, reset_writer

__all__ = ["Note", "serve_websocket"]


class Note(Protocol):
    """Records one ``ServerEvent`` (``LabServer._note``)."""

    def __call__(self, conn: int, what: str, **fields: object) -> None: ...


async def serve_websocket(
    note: Note,
    conn: int,
    path: str,
    handshake: tuple[bytes, bytes],
    p: Params,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
) -> None:
    """Serve one WebSocket on an accepted upgrade: ``handshake`` is the upgrade request's bytes (as
    ``ServerProtocol`` reads them) and whatever the client sent after it; ``note(conn, what, **fields)``
    records each ``ServerEvent``. Sends ``n`` messages and ends as ``p`` says, echoing and answering
    the client's frames meanwhile (see ``tearline.lab.servers`` for the parameters)."""
    head, pending = handshake
    proto = ServerProtocol(max_size=None)
    proto.receive_data(head)
    (req,) = [e for e in proto.events_received() if isinstance(e, Request)]
    response = proto.accept(req)  # a 400 when the upgrade request is not a valid handshake
    proto.send_response(response)
    writer.write(b"".join(proto.data_to_send()))
    if response.status_code != 101:
        note(conn, "error", path=path, text=f"WebSocket handshake refused: {response.status_code}")
        await fin_writer(writer)
        return
    await writer.drain()
    note(conn, "ws_open", path=path)
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
        nonlocal pending
        try:
            while True:
                try:
                    data, pending = (pending, b"") if pending else (await reader.read(65536), b"")
                except ConnectionResetError:
                    note(conn, "reset", path=path)
                    return
                if not data:
                    note(conn, "eof", path=path)
                    proto.receive_eof()
                    return
                if not answer:
                    # parse frames without the protocol's automatic close answer
                    proto.receive_data(data)
                    for fr in proto.events_received():
                        _note_frame(note, conn, path, fr)
                        if isinstance(fr, Frame) and fr.opcode == Opcode.CLOSE:
                            proto.data_to_send()  # discard the automatic answer
                            return
                    proto.data_to_send()
                    continue
                proto.receive_data(data)
                for fr in proto.events_received():
                    _note_frame(note, conn, path, fr)
                    echoable = echo and proto.state is State.OPEN  # a data frame read with the close: no echo
                    if isinstance(fr, Frame) and fr.opcode in (Opcode.TEXT, Opcode.BINARY) and echoable:
                        if fr.opcode == Opcode.TEXT:
                            proto.send_text(fr.data)
                        else:
                            proto.send_binary(fr.data)
                    if isinstance(fr, Frame) and fr.opcode == Opcode.CLOSE and not sent_close:
                        note(conn, "ws_close_sent", path=path, text="answer")
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
        note(conn, "end", path=path, text=end)
        if end == "close":
            sent_close = True
            proto.send_close(p.num("code", 1000), p.text("reason", ""))
            note(conn, "ws_close_sent", path=path, code=p.num("code", 1000))
            flush()
            await writer.drain()
        elif end == "fin":
            await fin_writer(writer)
        elif end == "rst":
            reset_writer(writer)

    sender = asyncio.ensure_future(send_loop())
    try:
        await read_loop()
    except (OSError, ValueError) as e:
        note(conn, "error", path=path, text=str(e))
    finally:
        if not sender.done():
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await sender
        if not writer.transport.is_closing():
            await fin_writer(writer)


def _note_frame(note: Note, conn: int, path: str, fr: object) -> None:
    if not isinstance(fr, Frame):
        return
    if fr.opcode in (Opcode.TEXT, Opcode.BINARY):
        note(conn, "ws_message", path=path, size=len(fr.data), text=fr.opcode.name.lower())
    elif fr.opcode == Opcode.CLOSE:
        code, reason = 1005, ""
        if len(fr.data) >= 2:
            code = struct.unpack("!H", fr.data[:2])[0]
            reason = bytes(fr.data[2:]).decode("utf-8", "replace")
        note(conn, "ws_close_received", path=path, code=code, text=reason)
