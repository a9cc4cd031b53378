"""FrameScanner: close frames found in raw WebSocket bytes, whatever way the bytes were split."""

from __future__ import annotations

import os

from tearline.analysis.evidence.netlog.frames import FrameScanner

HEAD = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"


def frame(opcode: int, payload: bytes, *, masked: bool = False) -> bytes:
    n = len(payload)
    head = bytes([0x80 | opcode])
    mask_bit = 0x80 if masked else 0
    if n < 126:
        head += bytes([mask_bit | n])
    elif n < 65536:
        head += bytes([mask_bit | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([mask_bit | 127]) + n.to_bytes(8, "big")
    if masked:
        key = os.urandom(4)
        return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return head + payload


def test_close_after_data_frames_split_at_every_byte() -> None:
    data = (
        HEAD
        + frame(1, b"x" * 200)
        + frame(2, b"y" * 70000)
        + frame(9, b"")
        + frame(8, (4001).to_bytes(2, "big") + b"bye")
    )
    for step in (1, 7, 4096, len(data)):
        sc = FrameScanner()
        for i in range(0, len(data), step):
            sc.feed(data[i : i + step])
        assert sc.closes == [(4001, "bye")] and not sc.broken


def test_masked_client_close_and_empty_close() -> None:
    sc = FrameScanner()
    sc.feed(
        b"GET /ws HTTP/1.1\r\nHost: a\r\n\r\n"
        + frame(8, (1001).to_bytes(2, "big"), masked=True)
        + frame(8, b"")
    )
    assert sc.closes == [(1001, ""), (None, "")]


def test_gives_up_when_bytes_are_missing_or_not_a_websocket() -> None:
    sc = FrameScanner()
    sc.feed(HEAD)
    sc.feed(None)  # a NetLog event without its bytes (Default capture mode)
    sc.feed(frame(8, (1000).to_bytes(2, "big")))
    assert sc.broken and sc.closes == []
    other = FrameScanner()
    other.feed(b"\x16\x03\x01\x02\x00")  # TLS, not a plain upgrade
    assert other.broken
