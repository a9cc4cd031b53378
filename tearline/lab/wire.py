"""Raw-socket clients that report exactly how a WebSocket or HTTP response ended on the wire.

Library clients smooth over what tearline needs to see (a reset becomes "connection
closed", a missing close frame becomes code 1006 chosen locally), so the relay and
fault tests compare these plain-socket outcomes instead::

    ws_session(port, "/ws?n=2&end=fin")    -> WsOutcome(messages=2, close=None, end="eof")
    http_get(port, "/stream?n=3&end=rst")  -> HttpOutcome(status=200, body=b"...", terminated=False, end="rst")

``end`` is how the TCP connection ended for the client: ``"eof"`` (FIN), ``"rst"``
(ECONNRESET), ``"timeout"`` (nothing for ``timeout`` seconds) or, when the client
aborted on purpose (``abort=``), ``"aborted-fin"`` / ``"aborted-rst"``.
Everything is on 127.0.0.1; times are seconds.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

import h11
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

from tearline.tcp_end import end_socket

__all__ = ["HttpOutcome", "WsOutcome", "http_get", "parse_response", "ws_session"]

HOST = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class WsOutcome:
    """What a WebSocket client saw: data messages, the close frame (code, reason) if any, the TCP end."""

    messages: int
    close: tuple[int | None, str] | None
    end: str


@dataclass(frozen=True, slots=True)
class HttpOutcome:
    """What an HTTP/1.1 client saw: status, de-chunked body, whether the body was complete, the TCP end."""

    status: int
    body: bytes
    terminated: bool  # chunked terminator received, or the whole Content-Length
    end: str


def ws_session(
    port: int,
    path: str,
    *,
    abort: str | None = None,
    abort_after: int = 1,
    close: tuple[int, str] | None = None,
    timeout: float = 20.0,
    after_close_timeout: float = 5.0,
) -> WsOutcome:
    """Open a WebSocket to 127.0.0.1:``port`` and read until the connection ends.

    Speaks WebSocket through the sans-I/O ``websockets.client.ClientProtocol`` on a plain socket,
    so the end can be chosen: close frames are answered by echoing them (RFC 6455 5.5.1); pings
    get pongs. ``abort="fin"``/``"rst"``: after ``abort_after`` data messages close
    the socket without a close frame (FIN, or RST via SO_LINGER 0). ``close=(code,
    reason)``: after ``abort_after`` data messages send that close frame and keep
    reading (``WsOutcome.close`` is then the server's answer). After a close frame
    the server has ``after_close_timeout`` seconds to close TCP.
    """
    sock = socket.create_connection((HOST, port), timeout=timeout)
    proto = ClientProtocol(parse_uri(f"ws://{HOST}:{port}{path}"), max_size=None)
    messages, received = 0, None
    sent_close = False

    def flush() -> None:
        data = b"".join(proto.data_to_send())  # b"" marks "close TCP": the caller's end decides that
        if data:
            sock.sendall(data)

    try:
        proto.send_request(proto.connect())
        flush()
        while True:
            data = sock.recv(65536)
            if not data:
                raise EOFError
            proto.receive_data(data)
            for event in proto.events_received():
                if isinstance(event, Response):
                    if event.status_code != 101 or proto.handshake_exc is not None:
                        raise ConnectionError(
                            f"WebSocket handshake refused: {event.status_code} {event.reason_phrase}"
                        )
                    continue
                if not isinstance(event, Frame):
                    continue
                if event.opcode in (Opcode.TEXT, Opcode.BINARY):
                    messages += 1
                    if abort and messages >= abort_after:
                        end_socket(sock, "rst" if abort == "rst" else "fin")
                        return WsOutcome(messages, None, f"aborted-{abort}")
                    if close and messages >= abort_after and not sent_close:
                        sent_close = True
                        proto.send_close(close[0], close[1])
                        sock.settimeout(after_close_timeout)
                elif event.opcode == Opcode.CLOSE:
                    # the protocol answers a close it did not start by echoing it
                    rcvd = proto.close_rcvd
                    received = (
                        rcvd.code if rcvd and rcvd.code != 1005 else None,
                        rcvd.reason if rcvd else "",
                    )
                    sock.settimeout(after_close_timeout)
            flush()  # pongs, the close answer, our own close
    except EOFError:
        return WsOutcome(messages, received, "eof")
    except ConnectionResetError:
        return WsOutcome(messages, received, "rst")
    except TimeoutError:
        return WsOutcome(messages, received, "timeout")
    finally:
        sock.close()


def parse_response(raw: bytes) -> tuple[int, bytes, bool]:
    """Status, body and whether the body was complete, from the bytes of a response to a GET (maybe cut).

    The end of the stream is not fed: a body delimited only by the connection's end never counts
    as complete, nor does a chunked body without its terminator or a short Content-Length body.
    """
    h = h11.Connection(h11.CLIENT)
    h.send(h11.Request(method="GET", target="/", headers=[("Host", HOST)]))
    h.send(h11.EndOfMessage())
    status, body = 0, b""
    h.receive_data(raw)
    try:
        while True:
            event = h.next_event()
            if isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                return status, body, True
            elif event is h11.NEED_DATA or event is h11.PAUSED:
                return status, body, False
    except h11.RemoteProtocolError:
        return status, body, False


def http_get(
    port: int, path: str, *, abort: str | None = None, abort_after: int = 1, timeout: float = 20.0
) -> HttpOutcome:
    """GET ``path`` from 127.0.0.1:``port`` (``Connection: close``) and read until the connection ends.

    ``abort="fin"``/``"rst"``: once ``abort_after`` bytes of response arrived, close
    the socket (FIN, or RST via SO_LINGER 0) the way a browser leaving the page does.
    """
    sock = socket.create_connection((HOST, port), timeout=timeout)
    h = h11.Connection(h11.CLIENT)  # only to write the request
    raw, end = b"", "eof"
    try:
        request = h11.Request(
            method="GET", target=path, headers=[("Host", f"{HOST}:{port}"), ("Connection", "close")]
        )
        sock.sendall(h.send(request) + h.send(h11.EndOfMessage()))
        while data := sock.recv(65536):
            raw += data
            if abort and len(raw) >= abort_after:
                end_socket(sock, "rst" if abort == "rst" else "fin")
                end = f"aborted-{abort}"
                break
    except ConnectionResetError:
        end = "rst"
    except TimeoutError:
        end = "timeout"
    finally:
        sock.close()
    status, body, terminated = parse_response(raw)
    return HttpOutcome(status, body, terminated, end)
