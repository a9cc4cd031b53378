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

import base64
import os
import socket
import struct
from dataclasses import dataclass

__all__ = ["HttpOutcome", "WsOutcome", "http_get", "ws_session"]

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


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        data = sock.recv(n - len(buf))
        if not data:
            raise EOFError
        buf += data
    return buf


def _masked_frame(opcode: int, payload: bytes) -> bytes:
    mask = os.urandom(4)
    n = len(payload)
    head = bytes([0x80 | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def _abort(sock: socket.socket, how: str) -> None:
    if how == "rst":
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


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

    Close frames are answered (echoing the code) as a browser does; pings get
    pongs. ``abort="fin"``/``"rst"``: after ``abort_after`` data messages close
    the socket without a close frame (FIN, or RST via SO_LINGER 0). ``close=(code,
    reason)``: after ``abort_after`` data messages send that close frame and keep
    reading (``WsOutcome.close`` is then the server's answer). After a close frame
    the server has ``after_close_timeout`` seconds to close TCP.
    """
    sock = socket.create_connection((HOST, port), timeout=timeout)
    messages, received = 0, None
    sent_close = False
    try:
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(
            (
                f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += _recv_exact(sock, 1)
        if not head.startswith(b"HTTP/1.1 101"):
            raise ConnectionError(f"WebSocket handshake refused: {head.splitlines()[0]!r}")
        while True:
            b0, b1 = _recv_exact(sock, 2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", _recv_exact(sock, 2))[0]
            elif n == 127:
                n = struct.unpack("!Q", _recv_exact(sock, 8))[0]
            payload = _recv_exact(sock, n) if n else b""
            opcode = b0 & 0x0F
            if opcode in (1, 2) or (opcode == 0 and b0 & 0x80):
                messages += 1
                if abort and messages >= abort_after:
                    _abort(sock, abort)
                    return WsOutcome(messages, None, f"aborted-{abort}")
                if close and messages >= abort_after and not sent_close:
                    sent_close = True
                    sock.sendall(_masked_frame(8, struct.pack("!H", close[0]) + close[1].encode()))
                    sock.settimeout(after_close_timeout)
            elif opcode == 8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                received = (code, payload[2:].decode("utf-8", "replace"))
                if not sent_close:
                    sock.sendall(_masked_frame(8, payload[:2]))
                sock.settimeout(after_close_timeout)
            elif opcode == 9:
                sock.sendall(_masked_frame(10, payload))
    except EOFError:
        return WsOutcome(messages, received, "eof")
    except ConnectionResetError:
        return WsOutcome(messages, received, "rst")
    except TimeoutError:
        return WsOutcome(messages, received, "timeout")
    finally:
        sock.close()


def _dechunk(rest: bytes) -> tuple[bytes, bool]:
    body = b""
    while True:
        line, sep, after = rest.partition(b"\r\n")
        if not sep:
            return body, False
        try:
            n = int(line.split(b";")[0], 16)
        except ValueError:
            return body, False
        if n == 0:
            return body, True
        body += after[:n]
        if len(after) < n + 2:
            return body, False
        rest = after[n + 2 :]


def http_get(
    port: int, path: str, *, abort: str | None = None, abort_after: int = 1, timeout: float = 20.0
) -> HttpOutcome:
    """GET ``path`` from 127.0.0.1:``port`` (``Connection: close``) and read until the connection ends.

    ``abort="fin"``/``"rst"``: once ``abort_after`` bytes of response arrived, close
    the socket (FIN, or RST via SO_LINGER 0) the way a browser leaving the page does.
    """
    sock = socket.create_connection((HOST, port), timeout=timeout)
    raw, end = b"", "eof"
    try:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nConnection: close\r\n\r\n".encode())
        while data := sock.recv(65536):
            raw += data
            if abort and len(raw) >= abort_after:
                _abort(sock, abort)
                end = f"aborted-{abort}"
                break
    except ConnectionResetError:
        end = "rst"
    except TimeoutError:
        end = "timeout"
    finally:
        sock.close()
    head, _, rest = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1]) if head.startswith(b"HTTP/") else 0
    headers = [h.lower() for h in head.split(b"\r\n")[1:]]
    if any(h.startswith(b"transfer-encoding:") and b"chunked" in h for h in headers):
        body, terminated = _dechunk(rest)
    else:
        body = rest
        lengths = [int(h.split(b":", 1)[1]) for h in headers if h.startswith(b"content-length:")]
        terminated = bool(lengths) and len(body) >= lengths[0]
    return HttpOutcome(status, body, terminated, end)
