"""A real HTTP/2 upstream (the ``h2`` library over TLS, ALPN ``h2``) that ends streams on request.

``H2Server()`` listens on 127.0.0.1 (a self-signed certificate made at start). Paths:

- ``/ok?n=N``: headers, ``N`` data frames of ``data: i\\n\\n`` 50 ms apart, END_STREAM;
- ``/rst?code=C&n=N``: headers and ``N`` data frames, then RST_STREAM ``C``
  (``n=-1``: RST_STREAM before any headers);
- ``/goaway?code=C&n=N``: headers and ``N`` data frames, then GOAWAY(``C``, last stream id =
  the highest stream opened); ``C`` 0: the streams go on and this one ends normally (a
  reloading server), else the connection is closed 50 ms later.

Used by ``tests/test_stream_ends.py`` directly (``tests/h2_client.py``) and through tearline.
"""

from __future__ import annotations

import contextlib
import datetime
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import h2.config
import h2.connection
import h2.events
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = ["H2Server", "self_signed"]

INTERVAL_S = 0.05


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A throw-away certificate and key for localhost, as PEM files in ``directory`` (cert, key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


class H2Server:
    """Context manager: an HTTP/2 server on 127.0.0.1 in background threads (``port``)."""

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="h2-server-")
        cert, key = self_signed(Path(self._dir.name))
        self._ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._ctx.load_cert_chain(cert, key)
        self._ctx.set_alpn_protocols(["h2"])
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self.sent: list[tuple[str, int, int]] = []  # (frame, stream id, code) this server sent

    def __enter__(self) -> H2Server:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._sock.close()
        self._dir.cleanup()

    def _accept(self) -> None:
        while True:
            try:
                raw, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        """One connection, one thread: read with a short timeout and run each stream's due steps."""
        try:
            sock = self._ctx.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            raw.close()
            return
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        conn.initiate_connection()
        steps: list[tuple[float, Callable[[], bool]]] = []  # (when, step); a step returning True ends all
        try:
            sock.sendall(conn.data_to_send())
            sock.settimeout(0.01)
            while True:
                try:
                    data = sock.recv(65536)
                    if not data:
                        return
                    for ev in conn.receive_data(data):
                        if isinstance(ev, h2.events.RequestReceived):
                            headers = {k.decode(): v.decode() for k, v in ev.headers}  # type: ignore[union-attr]
                            steps += self._plan(conn, ev.stream_id, headers[":path"])
                except TimeoutError:
                    pass
                now = time.monotonic()
                due = [s for s in steps if s[0] <= now]
                steps = [s for s in steps if s[0] > now]
                stop = any([step() for _, step in sorted(due, key=lambda s: s[0])])
                out = conn.data_to_send()
                if out:
                    sock.sendall(out)
                if stop:
                    return
        except (OSError, ssl.SSLError, h2.exceptions.ProtocolError):
            pass
        finally:
            sock.close()

    def _plan(
        self, conn: h2.connection.H2Connection, sid: int, path: str
    ) -> list[tuple[float, Callable[[], bool]]]:
        """The steps answering one request, each at its time."""
        parts = urlsplit(path)
        q = {k: v[0] for k, v in parse_qs(parts.query).items()}
        n, code = int(q.get("n", "3")), int(q.get("code", "0"))
        t0 = time.monotonic()

        def do(fn: Callable[[], object], stop: bool = False) -> Callable[[], bool]:
            def step() -> bool:
                with contextlib.suppress(h2.exceptions.ProtocolError):  # e.g. data after an error GOAWAY
                    fn()
                return stop

            return step

        def reset() -> None:
            conn.reset_stream(sid, code)
            self.sent.append(("rst_stream", sid, code))

        def goaway() -> None:
            last = conn.highest_inbound_stream_id
            conn.close_connection(error_code=code, last_stream_id=last)
            self.sent.append(("goaway", last, code))
            if not code:
                # graceful (a reloading server): the streams up to ``last`` go on; h2 closes its state
                # machine on any GOAWAY, a real server keeps answering them
                conn.state_machine.state = h2.connection.ConnectionState.SERVER_OPEN

        if parts.path == "/rst" and n < 0:
            return [(t0, do(reset))]
        head = [(":status", "200"), ("content-type", "text/event-stream")]
        plan = [(t0, do(lambda: conn.send_headers(sid, head)))]
        for i in range(n):
            plan.append(
                (t0 + (i + 1) * INTERVAL_S, do(lambda i=i: conn.send_data(sid, f"data: {i}\n\n".encode())))
            )
        t_end = t0 + (n + 1) * INTERVAL_S
        if parts.path == "/rst":
            plan.append((t_end, do(reset)))
        elif parts.path == "/goaway":
            plan.append((t_end, do(goaway)))
            if code:  # then the connection is closed, a moment later
                plan.append((t_end + INTERVAL_S, do(lambda: None, stop=True)))
            else:
                plan.append((t_end + INTERVAL_S, do(lambda: conn.end_stream(sid))))
        else:
            plan.append((t_end, do(lambda: conn.end_stream(sid))))
        return plan
