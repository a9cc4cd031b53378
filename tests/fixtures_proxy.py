"""Pytest fixtures for recording, relay and fault tests: real servers and a real mitmdump.

``lab_server``      a ``tearline.lab.servers.LabServer`` on 127.0.0.1 (background thread)
``server``          the same, module-scoped: one LabServer shared by a test module's tests
``mitm_confdir``    a per-test mitmproxy confdir (keeps the CA out of ~/.mitmproxy)
``start_mitmdump``  factory: ``start_mitmdump(scripts=[...], mode=..., options={...})`` -> running
                    ``Mitmdump``; every one started is stopped (SIGTERM, then SIGKILL) at teardown
``recorder``        factory: mitmdump with ``addons/ws_trace.py`` in reverse mode in front of
                    ``lab_server``, recording to ``tmp_path/"capture.jsonl"``; returns the
                    ``Mitmdump`` with ``.capture`` (the path) set. Extra scripts/options allowed.
``faulty``          factory: ``recorder`` plus ``addons/faults.py``: ``faulty("close:...", ...)``
                    (one-line faults) or ``faulty(scenario=path)``; clients in ``tests/fault_clients.py``

Client helpers (plain functions): ``http_get(port, target, headers)`` (raw HTTP/1.1 over a
socket, returns the bytes received until EOF/reset) and ``ws_session(url, send, close, expect)``
(a ``websockets`` client: send, receive ``expect`` messages, close or wait for the server).
``server_ws_end(server, start, timeout)`` polls ``LabServer.observed`` for how the server saw its
last WebSocket end.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tearline.lab.mitmdump import Mitmdump
from tearline.lab.servers import LabServer

REPO = Path(__file__).resolve().parent.parent
WS_TRACE = REPO / "addons" / "ws_trace.py"
FAULTS = REPO / "addons" / "faults.py"


# --- clients --------------------------------------------------------------------------------


def http_get(port: int, target: str, headers: dict[str, str] | None = None, timeout: float = 30) -> bytes:
    """Raw HTTP/1.1 GET with Connection: close; returns everything received until EOF/reset."""
    hdrs = {"Host": f"127.0.0.1:{port}", "Connection": "close", **(headers or {})}
    req = f"GET {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items()) + "\r\n"
    data = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(req.encode())
        try:
            while chunk := s.recv(65536):
                data += chunk
        except ConnectionResetError:
            pass
    return data


async def ws_session(url: str, send: list[str], close: tuple[int, str] | None, expect: int) -> dict[str, Any]:
    """Send ``send``, receive ``expect`` messages, then close with ``close`` (or wait for the server)."""
    got: list[str | bytes] = []
    out: dict[str, Any] = {"received": got}
    try:
        async with connect(url, compression=None, open_timeout=30, close_timeout=10) as ws:
            for m in send:
                await ws.send(m)
            while len(got) < expect:
                got.append(await asyncio.wait_for(ws.recv(), 30))
            if close is not None:
                await ws.close(*close)
            else:
                try:
                    while True:
                        got.append(await asyncio.wait_for(ws.recv(), 30))
                except ConnectionClosed:
                    pass
            out["code"] = ws.close_code
    except ConnectionClosed as e:
        out["code"] = e.rcvd.code if e.rcvd else None
        out["error"] = str(e)
    return out


def server_ws_end(server: LabServer, start: int, timeout: float = 10.0) -> list[tuple[str, int | None]]:
    """How the server saw its last WebSocket end, from ``observed[start:]``: the close frames it
    received (``("ws_close_received", code)``), then ``eof``/``reset``/``error``; polls until one
    of those last three arrives or ``timeout`` (seconds) passes."""
    deadline = time.monotonic() + timeout
    while True:
        seen = server.observed[start:]
        conns = [e.conn for e in seen if e.what == "ws_open"]
        ends = [
            (e.what, e.code)
            for e in seen
            if conns and e.conn == conns[-1] and e.what in ("ws_close_received", "eof", "reset", "error")
        ]
        if any(w in ("eof", "reset", "error") for w, _ in ends) or time.monotonic() > deadline:
            return ends
        time.sleep(0.05)


def extra_params(request: pytest.FixtureRequest) -> frozenset[str]:
    """Query parameters a test module sends past the lab server on purpose (its ``LAB_EXTRA_PARAMS``:
    for a proxy addon, a redaction check, a unique label); any other unknown parameter is a 400."""
    return frozenset(getattr(request.module, "LAB_EXTRA_PARAMS", ()))


@pytest.fixture
def lab_server(request: pytest.FixtureRequest) -> Iterator[LabServer]:
    server = LabServer(extra_params=extra_params(request)).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest) -> Iterator[LabServer]:
    """One LabServer for the whole test module (started once, stopped after its last test)."""
    s = LabServer(extra_params=extra_params(request)).start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def mitm_confdir(tmp_path: Path) -> Path:
    d = tmp_path / "mitmconf"
    d.mkdir(exist_ok=True)
    return d


@pytest.fixture
def start_mitmdump(mitm_confdir: Path, tmp_path: Path) -> Iterator[Callable[..., Mitmdump]]:
    started: list[Mitmdump] = []

    def start(
        scripts: list[str | Path] | tuple[str | Path, ...] = (),
        mode: str | list[str] = "regular",
        options: dict[str, Any] | None = None,
        **kw: Any,
    ) -> Mitmdump:
        kw.setdefault("confdir", mitm_confdir)
        kw.setdefault("cwd", tmp_path)
        proxy = Mitmdump(scripts=[str(s) for s in scripts], mode=mode, options=options, **kw)
        started.append(proxy)
        return proxy.start()

    try:
        yield start
    finally:
        for proxy in started:
            try:
                proxy.stop(timeout=20)
            finally:
                proxy.kill()


@pytest.fixture
def recorder(
    start_mitmdump: Callable[..., Mitmdump], lab_server: LabServer, tmp_path: Path
) -> Callable[..., Mitmdump]:
    def start(
        scripts: list[str | Path] | tuple[str | Path, ...] = (),
        options: dict[str, Any] | None = None,
        capture: Path | None = None,
        **kw: Any,
    ) -> Mitmdump:
        path = capture or tmp_path / "capture.jsonl"
        opts = {"trace_file": str(path), **(options or {})}
        proxy = start_mitmdump(
            scripts=[WS_TRACE, *scripts], mode=f"reverse:{lab_server.base}", options=opts, **kw
        )
        proxy.capture = path  # type: ignore[attr-defined]
        return proxy

    return start


@pytest.fixture
def faulty(recorder: Callable[..., Mitmdump]) -> Callable[..., Mitmdump]:
    """mitmdump with the recorder and the fault addon; ``faulty("close:...", ...)`` or ``faulty(scenario=path)``."""

    def start(*faults: str, scenario: Path | None = None, options: dict[str, Any] | None = None) -> Mitmdump:
        opts: dict[str, Any] = dict(options or {})
        if faults:
            opts["fault"] = list(faults)
        if scenario is not None:
            opts["faults"] = str(scenario)
        return recorder(scripts=[FAULTS], options=opts)

    return start
