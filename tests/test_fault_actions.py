"""addons/fault_actions.py through a real mitmdump against real servers: close, abort/reset, truncate,
stall and a body throttle, as a real client and the upstream see them (tolerances stated per test).
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tearline.lab.mitmdump import Mitmdump
from tearline.lab.servers import LabServer
from tests.conftest import wait_for
from tests.fault_clients import (
    arun,
    dechunk,
    fired,
    raw_request,
    server_saw,
    ws_run,
)

# --- close -------------------------------------------------------------------------------------


def test_close_to_client_after_third_server_message(
    faulty: Callable[..., Mitmdump], lab_server: LabServer
) -> None:
    proxy = faulty("close:stream=ws,direction=server,after_messages=3,to=client,code=4001,reason=bye")
    r = arun(ws_run(proxy.ws_base + "/ws?n=10&interval_ms=30"))
    assert r["messages"] == ["0:xxxxxxxxxxxxxx", "1:xxxxxxxxxxxxxx", "2:xxxxxxxxxxxxxx"]
    assert (r["code"], r["reason"]) == (4001, "bye")
    ev = fired(proxy.capture)  # type: ignore[attr-defined]
    assert len(ev) == 1
    assert ev[0]["action"] == "close" and ev[0]["client_action"] == "close 4001 'bye'"
    assert ev[0]["server_action"] == "fin"
    assert "after_messages=3" in ev[0]["trigger"] and "seed" in ev[0]["params"]
    deadline = time.monotonic() + 10
    while True:
        saw = [e.what for e in lab_server.events() if e.what in ("eof", "reset", "ws_close_received")]
        if saw or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert saw and saw[0] == "eof"  # the upstream got FIN, no close frame


def test_close_to_server_and_both(faulty: Callable[..., Mitmdump], lab_server: LabServer) -> None:
    proxy = faulty("close:stream=ws,direction=client,after_messages=2,to=server,code=4002,reason=srv")
    # echo=0: the lab server cannot echo a message that shares a socket read with a close frame
    r = arun(ws_run(proxy.ws_base + "/ws?n=0&echo=0", send=["a", "b", "c"], gap=0.05))
    assert r["code"] is None  # the browser side got no close frame: FIN only
    closes = server_saw(lab_server, "ws_close_received")
    assert closes, (lab_server.events(), proxy.log_text())
    assert closes[0].code == 4002 and closes[0].text == "srv"


def test_close_both(faulty: Callable[..., Mitmdump], lab_server: LabServer) -> None:
    proxy = faulty("close:stream=ws,direction=server,after_messages=1,to=both,code=4003")
    r = arun(ws_run(proxy.ws_base + "/ws?n=5&interval_ms=30"))
    assert r["code"] == 4003 and len(r["messages"]) == 1
    closes = server_saw(lab_server, "ws_close_received")
    assert closes and closes[0].code == 4003


# --- abort / reset -----------------------------------------------------------------------------


@pytest.mark.parametrize(("action", "expected"), [("abort", "eof"), ("reset", "rst")])
def test_abort_vs_reset_websocket(faulty: Callable[..., Mitmdump], action: str, expected: str) -> None:
    proxy = faulty(f"{action}:stream=ws,direction=server,after_messages=2,to=client")
    data, how, _ = raw_request(proxy.port, "/ws?n=10&interval_ms=30", ws=True)
    assert data.startswith(b"HTTP/1.1 101")
    assert how == expected
    assert b"\x88" not in data.split(b"\r\n\r\n", 1)[1]  # no close frame (opcode 0x8) reached the client
    ev = fired(proxy.capture)  # type: ignore[attr-defined]
    assert [e["client_action"] for e in ev] == [expected if expected == "rst" else "fin"]


@pytest.mark.parametrize(("action", "expected"), [("abort", "eof"), ("reset", "rst")])
def test_abort_vs_reset_sse_mid_body(faulty: Callable[..., Mitmdump], action: str, expected: str) -> None:
    proxy = faulty(f"{action}:stream=sse,after_messages=2")
    data, how, _ = raw_request(proxy.port, "/sse?n=10&interval_ms=30")
    assert how == expected
    if expected == "eof":
        body, terminated = dechunk(data)
        assert not terminated and body.count(b"\n\n") == 2


def test_reset_to_server(faulty: Callable[..., Mitmdump], lab_server: LabServer) -> None:
    proxy = faulty("reset:stream=ws,direction=server,after_messages=2,to=server")
    data, how, _ = raw_request(proxy.port, "/ws?n=10&interval_ms=30", ws=True)
    assert how == "eof" and b"\x88" not in data.split(b"\r\n\r\n", 1)[1]  # browser's leg: FIN, no close frame
    assert server_saw(lab_server, "reset")  # the upstream got the RST
    ev = fired(proxy.capture)  # type: ignore[attr-defined]
    assert (ev[0]["client_action"], ev[0]["server_action"]) == ("fin", "rst")


def test_abort_before_headers_is_an_empty_response(faulty: Callable[..., Mitmdump]) -> None:
    proxy = faulty("abort:stream=sse")
    data, how, _ = raw_request(proxy.port, "/sse?n=3")
    assert data == b"" and how == "eof"


# --- truncate ----------------------------------------------------------------------------------


def test_truncate_after_events(faulty: Callable[..., Mitmdump]) -> None:
    proxy = faulty("truncate:stream=sse,after_messages=3")
    data, how, _ = raw_request(proxy.port, "/sse?n=8&interval_ms=30&ids=1")
    body, terminated = dechunk(data)
    assert not terminated and how == "eof"
    assert body.count(b"\n\n") == 3 and body.endswith(b"\n\n")
    ev = fired(proxy.capture)  # type: ignore[attr-defined]
    assert ev[0]["action"] == "truncate" and "event 3" in ev[0]["trigger"]


def test_truncate_mid_event_even_when_events_are_split(faulty: Callable[..., Mitmdump]) -> None:
    proxy = faulty("truncate:stream=sse,after_messages=2,mid_event=true")
    data, _, _ = raw_request(proxy.port, "/sse?n=6&interval_ms=30&split=1")
    body, terminated = dechunk(data)
    assert not terminated
    _events, _, tail = body.rpartition(b"\n\n")
    assert body.count(b"\n\n") == 2 and tail and b"\n\n" not in tail  # two whole events and part of a third


def test_truncate_after_bytes(faulty: Callable[..., Mitmdump]) -> None:
    proxy = faulty("truncate:stream=http-stream,after_bytes=100,how=rst")
    data, how, _ = raw_request(proxy.port, "/stream?n=10&size=40&interval_ms=20")
    body, terminated = dechunk(data)
    assert not terminated and how == "rst"
    assert len(body) == 100


# --- stall and throttle ----------------------------------------------------------------------------


def test_stall_gives_backpressure_to_the_server(
    faulty: Callable[..., Mitmdump], lab_server: LabServer
) -> None:
    """A 2 s stall toward the client after the first chunk: the server's writes of 16 MiB block,
    so it finishes sending no earlier than ~the stall's end (tolerance: >= 1.5 s after the request)."""
    proxy = faulty("stall:stream=http-stream,after_messages=1,ms=2000,to=client")
    data, _, took = raw_request(proxy.port, "/stream?n=256&size=65536&interval_ms=0")
    body, terminated = dechunk(data)
    assert terminated and len(body) == 256 * 65536
    req = [e.t for e in lab_server.events() if e.what == "request"][-1]
    end = [e.t for e in lab_server.events() if e.what == "end"][-1]
    assert end - req >= 1.5, end - req
    assert took >= 1.9


def test_throttle_body_rate(faulty: Callable[..., Mitmdump]) -> None:
    """2 MB body at 200 kB/s: tolerance: the rate over the run is 0.4-1.5 x the cap. What was read before
    the throttle's first wait passes at once (one socket read; on a loaded machine the upstream's writes pile
    up into reads of a few hundred kB: 345 kB/s was measured once on a 600 kB body), so the body is long
    enough that such a burst stays inside the tolerance."""
    proxy = faulty("throttle:stream=http-stream,bytes_per_s=200000")
    data, _, took = raw_request(proxy.port, "/stream?n=500&size=4000&interval_ms=0", timeout=90)
    body, terminated = dechunk(data)
    assert terminated and len(body) == 2_000_000
    rate = len(body) / took
    assert 0.4 * 200000 <= rate <= 1.5 * 200000, rate


# --- what the diagnosis makes of a shaping fault ------------------------------------------------


def _diagnosed(proxy: Mitmdump, url_part: str) -> dict[str, Any]:
    """``tearline diagnose --json`` of the proxy's capture, once the stream's end is in it."""

    def ended() -> dict[str, Any] | None:
        out = subprocess.run(
            [str(Path(sys.executable).parent / "tearline"), "diagnose", "--json", str(proxy.capture)],  # type: ignore[attr-defined]
            capture_output=True,
            text=True,
        )
        if out.returncode != 0:
            return None
        streams = [s for s in json.loads(out.stdout)["streams"] if url_part in s["url"]]
        return streams[0] if streams and streams[0]["cause"]["kind"] != "unknown" else None

    return wait_for(ended, f"a diagnosed end of {url_part} in the capture", timeout=20)


def test_a_stall_the_stream_outlived_is_not_named_as_its_end(faulty: Callable[..., Mitmdump]) -> None:
    """A 1 s stall, then the body completed: the diagnosis says the stream ended normally, and does
    not blame tearline's fault for an end it did not cause."""
    proxy = faulty("stall:stream=http-stream,after_messages=1,ms=1000,to=client")
    data, _, took = raw_request(proxy.port, "/stream?n=5&size=100&interval_ms=10")
    assert dechunk(data)[1]  # the body completed (terminating chunk)
    assert took >= 0.9
    assert fired(proxy.capture)  # type: ignore[attr-defined]
    s = _diagnosed(proxy, "/stream")
    assert s["cause"]["kind"] == "clean_close", s["cause"]


def test_a_stall_the_client_gave_up_on_is_named_as_the_injected_fault(
    faulty: Callable[..., Mitmdump],
) -> None:
    """A stall until disarmed; the client gives up after 1.5 s: tearline's fault ended the stream."""
    proxy = faulty("stall:stream=http-stream,after_messages=1,to=client")
    s = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
    s.sendall(
        f"GET /stream?n=50&size=100&interval_ms=20 HTTP/1.1\r\nHost: 127.0.0.1:{proxy.port}\r\n\r\n".encode()
    )
    s.settimeout(0.2)
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        with contextlib.suppress(TimeoutError):
            s.recv(65536)
    s.close()
    assert fired(proxy.capture)  # type: ignore[attr-defined]
    d = _diagnosed(proxy, "/stream")
    assert (d["cause"]["kind"], d["cause"]["actor"]) == ("injected_fault", "tearline"), d["cause"]
