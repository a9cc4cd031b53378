"""A real HTTP/2 upstream (the ``h2`` library over TLS, ALPN ``h2``) that ends streams on request.

``H2Server()`` listens on 127.0.0.1 (a self-signed certificate made at start). Paths:

- ``/ok?n=N``: headers, ``N`` data frames of ``data: i\\n\\n`` 50 ms apart, END_STREAM;
- ``/rst?code=C&n=N``: headers and ``N`` data frames, then RST_STREAM ``C``
  (``n=-1``: RST_STREAM before any headers);
- ``/goaway?code=C&n=N``: headers and ``N`` data frames, then GOAWAY(``C``, last stream id =
  the highest stream opened); ``C`` 0: the streams go on and this one ends normally (a
  reloading server), else the connection is closed.

Used by ``tests/test_stream_ends.py`` directly (``tests/h2_client.py``) and through tearline.
"""

from __future__ import annotations

import datetime
import socket
import ssl
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import h2.config
import h2.connection
import h2.events
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = ["H2Server"]

INTERVAL_S = 0.05


def _self_signed(directory: Path) -> tuple[Path, Path]:
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
        cert, key = _self_signed(Path(self._dir.name))
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
        try:
            sock = self._ctx.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            raw.close()
            return
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        lock = threading.Lock()
        conn.initiate_connection()
        sock.sendall(conn.data_to_send())
        try:
            while data := sock.recv(65536):
                with lock:
                    evs = conn.receive_data(data)
                    out = conn.data_to_send()
                if out:
                    sock.sendall(out)
                for ev in evs:
                    if isinstance(ev, h2.events.RequestReceived):
                        headers = {k.decode(): v.decode() for k, v in ev.headers}  # type: ignore[union-attr]
                        args = (sock, conn, lock, ev.stream_id, headers[":path"])
                        threading.Thread(target=self._answer, args=args, daemon=True).start()
        except (OSError, ssl.SSLError, h2.exceptions.ProtocolError):
            pass
        finally:
            sock.close()

    def _answer(self, sock: ssl.SSLSocket, conn: h2.connection.H2Connection, lock: threading.Lock, sid: int, path: str) -> None:
        parts = urlsplit(path)
        q = {k: v[0] for k, v in parse_qs(parts.query).items()}
        n, code = int(q.get("n", "3")), int(q.get("code", "0"))

        def send(fn: object) -> None:
            with lock:
                fn()  # type: ignore[operator]
                out = conn.data_to_send()
            if out:
                sock.sendall(out)

        try:
            if parts.path == "/rst" and n < 0:
                send(lambda: conn.reset_stream(sid, code))
                self.sent.append(("rst_stream", sid, code))
                return
            send(lambda: conn.send_headers(sid, [(":status", "200"), ("content-type", "text/event-stream")]))
            for i in range(n):
                time.sleep(INTERVAL_S)
                send(lambda i=i: conn.send_data(sid, f"data: {i}\n\n".encode()))
            time.sleep(INTERVAL_S)
            if parts.path == "/rst":
                send(lambda: conn.reset_stream(sid, code))
                self.sent.append(("rst_stream", sid, code))
            elif parts.path == "/goaway":
                last = conn.highest_inbound_stream_id
                send(lambda: conn.close_connection(error_code=code, last_stream_id=last))
                self.sent.append(("goaway", last, code))
                if code:
                    sock.close()
                    return
                # graceful (a reloading server): the streams up to ``last`` go on; h2 closes its state
                # machine on any GOAWAY, a real server keeps answering them
                conn.state_machine.state = h2.connection.ConnectionState.SERVER_OPEN
                send(lambda: conn.end_stream(sid))
            else:
                send(lambda: conn.end_stream(sid))
        except (OSError, ssl.SSLError, h2.exceptions.ProtocolError):
            pass
