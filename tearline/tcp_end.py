"""How tearline ends a TCP connection on purpose: an orderly FIN or an abortive RST.

A reset is ``SO_LINGER`` on with a zero timeout, then close: the kernel drops any unsent data
and sends RST instead of FIN, so the peer's next read fails with ECONNRESET. This is the one
place that socket option is set; the fault actions (``tearline.addons.mitm_io``), the lab's
servers and raw clients (``tearline.lab``) and the tests all end connections through it.

Plain socket-option code: no mitmproxy, no event loop of its own (the asyncio helpers act on a
``StreamWriter`` the caller owns).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from typing import Literal

__all__ = ["How", "arm_reset", "end_socket", "fin_writer", "reset_writer"]

How = Literal["fin", "rst"]

# struct linger {int l_onoff; int l_linger;}: on, zero seconds -> close() sends RST
_LINGER_ZERO = struct.pack("ii", 1, 0)


def arm_reset(sock: socket.socket) -> None:
    """Make the next ``close()`` of ``sock`` send a TCP RST instead of a FIN (SO_LINGER 0).

    Raises ``OSError`` when the socket is already gone; callers that race the peer suppress it.
    """
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ZERO)


def end_socket(sock: socket.socket, how: How) -> None:
    """Close a plain socket with a FIN (``"fin"``) or a RST (``"rst"``)."""
    if how not in ("fin", "rst"):
        raise ValueError(f"how must be 'fin' or 'rst', not {how!r}")
    if how == "rst":
        with contextlib.suppress(OSError):
            arm_reset(sock)
    sock.close()


def reset_writer(writer: asyncio.StreamWriter) -> None:
    """Abort an asyncio connection with a TCP RST; data still buffered is discarded, as in a real reset."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            arm_reset(sock)
    writer.transport.abort()


async def fin_writer(writer: asyncio.StreamWriter) -> None:
    """End an asyncio connection with a FIN after what was written so far has gone out."""
    with contextlib.suppress(OSError):
        await writer.drain()
    writer.close()
    with contextlib.suppress(OSError, ConnectionError):
        await writer.wait_closed()
