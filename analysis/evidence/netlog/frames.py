"""Find WebSocket close frames in raw socket bytes (NetLog "Everything" capture mode).

Chrome's NetLog logs only frame *headers* (opcode, length) on the request; the
close code and reason live in the payload, which appears only as base64
``bytes`` of ``SOCKET_BYTES_*`` (plain ws://) or ``SSL_SOCKET_BYTES_*``
(wss://, decrypted) events. ``FrameScanner`` is fed one direction of one
connection, skips the HTTP/1.1 upgrade head, walks the frames and records every
close frame's ``(code, reason)``. It gives up quietly when bytes are missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["FrameScanner"]

_HEADS = (b"HTTP/1.1 101", b"GET ")  # the upgrade response (received) or request (sent)


@dataclass
class FrameScanner:
    """Walks the frames of one direction of one WebSocket connection."""

    buf: bytearray = field(default_factory=bytearray)
    in_head: bool = True  # still inside the HTTP upgrade request/response
    broken: bool = False  # bytes were missing or not a WebSocket: stop
    closes: list[tuple[int | None, str]] = field(
        default_factory=list
    )  # (code, reason); code None = empty payload

    def feed(self, data: bytes | None) -> None:
        """Add the next bytes of this direction (None when the NetLog has no payload: gives up)."""
        if self.broken:
            return
        if data is None:
            self.broken = True
            return
        self.buf += data
        if self.in_head:
            if not any(self.buf[: len(p)] == p[: len(self.buf)] for p in _HEADS):
                self.broken = True  # not an HTTP/1.1 upgrade (TLS bytes, or the head was not logged)
                return
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > 65536:
                    self.broken = True
                return
            del self.buf[: end + 4]
            self.in_head = False
        self._walk()

    def _walk(self) -> None:
        b = self.buf
        while len(b) >= 2:
            opcode = b[0] & 0x0F
            masked = bool(b[1] & 0x80)
            length = b[1] & 0x7F
            pos = 2
            if length == 126:
                if len(b) < 4:
                    return
                length = int.from_bytes(b[2:4], "big")
                pos = 4
            elif length == 127:
                if len(b) < 10:
                    return
                length = int.from_bytes(b[2:10], "big")
                pos = 10
            if length > 1 << 30:
                self.broken = True
                return
            key = b""
            if masked:
                if len(b) < pos + 4:
                    return
                key = bytes(b[pos : pos + 4])
                pos += 4
            if len(b) < pos + length:
                return
            if opcode == 8:
                payload = bytes(b[pos : pos + length])
                if masked:
                    payload = bytes(c ^ key[i % 4] for i, c in enumerate(payload))
                if len(payload) >= 2:
                    code = int.from_bytes(payload[:2], "big")
                    self.closes.append((code, payload[2:].decode("utf-8", errors="replace")))
                else:
                    self.closes.append((None, ""))
            del b[: pos + length]
