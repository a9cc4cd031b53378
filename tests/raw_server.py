"""A raw-socket HTTP/1.1 upstream for relay tests: it reads each request, sends a fixed answer (possibly
nothing, possibly a body shorter than it announced), then ends the connection with a FIN or an RST.

Real sockets on 127.0.0.1; used where the lab server cannot misbehave in exactly that way.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import Literal

from tearline.tcp_end import end_socket


@contextlib.contextmanager
def raw_server(answer: bytes, how: Literal["fin", "rst"]) -> Iterator[int]:
    """Yields the port of a server that answers every request with ``answer`` and then ends the
    connection (``how``: ``fin`` or ``rst``)."""
    ls = socket.create_server(("127.0.0.1", 0))

    def run() -> None:
        while True:
            try:
                conn, _ = ls.accept()
            except OSError:
                return
            conn.recv(65536)
            if answer:
                conn.sendall(answer)
            end_socket(conn, how)

    threading.Thread(target=run, daemon=True).start()
    try:
        yield ls.getsockname()[1]
    finally:
        ls.close()
