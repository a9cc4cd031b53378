"""Close handshake to TCP close, directly and through tearline, for each way a WebSocket ends.

    .venv/bin/python tools/ws_close_timing.py [--runs 10]

Starts a LabServer and a mitmdump with tearline's recorder and fault addon (no fault armed),
then for each ending measures on a raw socket the time from the first close event the client
sees or makes (its close frame sent, the server's close frame received, or the last message
before a drop) to the close answer and to the TCP end. Prints medians (min-max) in milliseconds.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import struct
import tempfile
import time
from pathlib import Path

from tearline.lab.mitmdump import Mitmdump
from tearline.lab.servers import LabServer
from tearline.lab.wire import _masked_frame  # the same raw frames the tests send

REPO = Path(__file__).resolve().parent.parent
ENDS = {  # name -> (path, what the client does after the first message)
    "client close 1000": ("/ws?n=1&end=wait", "close:1000"),
    "client close 4000": ("/ws?n=1&end=wait", "close:4000"),
    "server close 1000": ("/ws?n=1&end=close&code=1000", ""),
    "server close 1011": ("/ws?n=1&end=close&code=1011", ""),
    "server FIN, no close frame": ("/ws?n=1&end=fin&end_delay_ms=0", ""),
    "server RST": ("/ws?n=1&end=rst&end_delay_ms=0", ""),
    "client protocol violation (RSV1)": ("/ws?n=1&end=wait", "bad"),
    "client FIN, no close frame": ("/ws?n=1&end=wait", "fin"),
}


def _frame(sock: socket.socket) -> tuple[int, bytes]:
    head = sock.recv(2, socket.MSG_WAITALL)
    if len(head) < 2:
        raise EOFError
    n = head[1] & 0x7F
    if n == 126:
        n = struct.unpack("!H", sock.recv(2, socket.MSG_WAITALL))[0]
    elif n == 127:
        n = struct.unpack("!Q", sock.recv(8, socket.MSG_WAITALL))[0]
    return head[0] & 0x0F, sock.recv(n, socket.MSG_WAITALL) if n else b""


def one(port: int, path: str, act: str) -> tuple[float | None, float | None, str]:
    """(ms to the close answer or close frame, ms to the TCP end, how it ended) after the first message."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    t0 = close_at = None
    try:
        while True:
            op, payload = _frame(sock)
            now = time.perf_counter()
            if op in (1, 2) and t0 is None:
                t0 = now
                if act.startswith("close:"):
                    sock.sendall(_masked_frame(8, struct.pack("!H", int(act[6:]))))
                elif act == "bad":
                    frame = bytearray(_masked_frame(1, b"x"))
                    frame[0] |= 0x40  # RSV1 without an extension
                    sock.sendall(bytes(frame))
                elif act == "fin":
                    sock.shutdown(socket.SHUT_WR)
            elif op == 8 and close_at is None:
                close_at = now
                if not act:  # answer the server's close, as a browser does
                    t0 = now
                    sock.sendall(_masked_frame(8, payload[:2]))
    except EOFError:
        end = "fin"
    except ConnectionResetError:
        end = "rst"
    except TimeoutError:
        end = "timeout"
    finally:
        sock.close()
    t_end = time.perf_counter()
    ms = lambda t: None if t is None or t0 is None else round((t - t0) * 1000, 1)  # noqa: E731
    return (ms(close_at) if act else None), ms(t_end), end


def _stat(xs: list[float]) -> str:
    """median (min-max) in ms."""
    return f"{statistics.median(xs):.1f} ({min(xs):.1f}-{max(xs):.1f})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    with LabServer() as server, tempfile.TemporaryDirectory() as tmp:
        proxy = Mitmdump(
            scripts=[REPO / "addons" / "ws_trace.py", REPO / "addons" / "faults.py"],
            mode=f"reverse:{server.base}",
            options={"trace_file": f"{tmp}/capture.jsonl"},
            confdir=f"{tmp}/mitm",
            cwd=REPO,
        )
        with proxy:
            print(
                "| end | direct: answer / TCP end (ms) | through tearline: answer / TCP end (ms) | TCP end |"
            )
            print("|---|---|---|---|")
            for name, (path, act) in ENDS.items():
                row = []
                for port in (server.port, proxy.port):
                    got = [one(port, path, act) for _ in range(args.runs)]
                    med = [_stat(x) if None not in (x := [g[i] for g in got]) else None for i in (0, 1)]
                    row.append((med, sorted({g[2] for g in got})))
                (d, dend), (p, pend) = row
                fmt = lambda m: f"{m[0] if m[0] is not None else '-'} / {m[1]}"  # noqa: E731
                print(f"| {name} | {fmt(d)} | {fmt(p)} | {','.join(dend)} / {','.join(pend)} |")


if __name__ == "__main__":
    main()
