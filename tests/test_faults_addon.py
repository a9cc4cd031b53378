"""addons/faults.py through a real mitmdump (with the recorder) against real servers on 127.0.0.1.

Each test asserts what a real client observes: close codes and reasons, EOF versus
ECONNRESET, incomplete chunked bodies, timing within stated tolerances, statuses,
and that the capture records the firing. Tolerances are generous: the machine is
shared by several test runs at once.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import json
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tearline.faults.injector import Injector
from tearline.faults.scenario import parse_one_line
from tearline.lab.mitmdump import Mitmdump, MitmdumpFailed
from tearline.lab.servers import LabServer

REPO = Path(__file__).resolve().parent.parent
FAULTS = REPO / "addons" / "faults.py"


# --- helpers ----------------------------------------------------------------------------------


def arun(coro: Any) -> Any:
    """Run a client coroutine in its own thread and loop (Playwright's sync API keeps a loop
    running in the main thread while the module's browser is open)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def fired(capture: Path, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The ``fault_fired`` events of a capture (read raw; the recorder flushes every 100 ms, so
    wait for the first one, then a little longer for any that follow)."""

    def read() -> list[dict[str, Any]]:
        out = []
        for line in capture.read_text().splitlines()[1:]:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if ev.get("type") == "fault_fired":
                out.append(ev)
        return out

    deadline = time.monotonic() + timeout
    while not read() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    return read()


async def ws_run(
    url: str,
    send: list[str] = (),
    gap: float = 0.0,
    timeout: float = 30.0,
    stop_after: int = 0,  # type: ignore[assignment]
) -> dict[str, Any]:
    """Connect, send ``send`` (``gap`` s apart), receive until the socket ends.

    Returns messages, arrival times (monotonic s), the close code/reason received (None when
    no close frame came), the time the end was seen, and the send times.
    """
    got: list[str] = []
    times: list[float] = []
    sent: list[float] = []
    res: dict[str, Any] = {"code": None, "reason": None}
    async with asyncio.timeout(timeout):
        async with websockets.connect(url, compression=None, close_timeout=2) as ws:

            async def sender() -> None:
                for s in send:
                    sent.append(time.monotonic())
                    await ws.send(s)
                    if gap:
                        await asyncio.sleep(gap)

            task = asyncio.create_task(sender())
            try:
                async for m in ws:
                    got.append(m if isinstance(m, str) else m.decode())
                    times.append(time.monotonic())
                    if stop_after and len(got) >= stop_after:
                        break
            except ConnectionClosed as e:
                if e.rcvd is not None:
                    res.update(code=e.rcvd.code, reason=e.rcvd.reason)
            else:
                rcvd = ws.protocol.close_rcvd
                if rcvd is not None:
                    res.update(code=rcvd.code, reason=rcvd.reason)
            task.cancel()
    res.update(messages=got, times=times, sent=sent, end=time.monotonic())
    return res


def server_saw(server: LabServer, what: str, timeout: float = 10.0) -> list[Any]:
    """The server's ``what`` events, waiting up to ``timeout`` s for the first (shared CPU)."""
    deadline = time.monotonic() + timeout
    while True:
        found = [e for e in server.events() if e.what == what]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def raw_request(port: int, path: str, *, ws: bool = False, timeout: float = 30.0) -> tuple[bytes, str, float]:
    """Send a GET (or a WebSocket upgrade) on a raw socket and read until the connection ends.

    Returns (all bytes received, ``"eof"`` or ``"rst"``, seconds until the end).
    """
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    head = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
    if ws:
        key = base64.b64encode(os.urandom(16)).decode()
        head += f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
    if path.startswith("/sse"):
        head += "Accept: text/event-stream\r\n"  # as EventSource sends it
    s.sendall((head + "Connection: close\r\n\r\n").encode())
    t0 = time.monotonic()
    data = b""
    how = "eof"
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except ConnectionResetError:
        how = "rst"
    finally:
        s.close()
    return data, how, time.monotonic() - t0


def dechunk(raw: bytes) -> tuple[bytes, bool]:
    """(body, terminated) of an HTTP/1.1 chunked response; tolerant of a cut body."""
    _, _, rest = raw.partition(b"\r\n\r\n")
    body = b""
    while rest:
        line, sep, rest = rest.partition(b"\r\n")
        if not sep:
            break
        size = int(line.split(b";")[0], 16)
        if size == 0:
            return body, True
        body += rest[:size]
        rest = rest[size + 2 :]
    return body, False


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


# --- delay ---------------------------------------------------------------------------------------


def test_delay_keeps_order_within_tolerance(faulty: Callable[..., Mitmdump]) -> None:
    """Five echoes, each delayed 300 ms (+ up to 100 ms jitter) on the server->client leg.

    Tolerance: each echo arrives >= 300 ms after its send and < 300 + 100 + 1500 ms (shared CPU).
    """
    proxy = faulty("delay:stream=ws,direction=server,ms=300,jitter_ms=100,seed=1")
    sends = [f"m{i}" for i in range(5)]
    r = arun(_echo_session(proxy.ws_base + "/ws?n=0", sends))
    assert r["messages"] == sends
    lat = [t - s for t, s in zip(r["times"], r["sent"], strict=True)]
    assert all(0.3 <= x < 1.9 for x in lat), lat


async def _echo_session(url: str, sends: list[str]) -> dict[str, Any]:
    got, times, sent = [], [], []
    async with asyncio.timeout(30), websockets.connect(url, compression=None) as ws:
        for s in sends:
            sent.append(time.monotonic())
            await ws.send(s)
            await asyncio.sleep(0.02)
        while len(got) < len(sends):
            m = await ws.recv()
            got.append(m)
            times.append(time.monotonic())
    return {"messages": got, "times": times, "sent": sent}


def test_delay_of_handshake(faulty: Callable[..., Mitmdump]) -> None:
    proxy = faulty("delay:stream=ws,ms=600,on=handshake")
    t0 = time.monotonic()
    r = arun(_echo_session(proxy.ws_base + "/ws?n=0", ["x"]))
    assert r["messages"] == ["x"]
    assert 0.6 <= time.monotonic() - t0 < 5.0


def timed_events(port: int, path: str) -> tuple[list[float], list[bytes], float]:
    """Read an SSE response on a raw socket: (arrival time of each event end, events, t0), monotonic s."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    t0 = time.monotonic()
    s.sendall(
        f"GET {path} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\nConnection: close\r\n\r\n".encode()
    )
    times, data = [], b""
    try:
        while chunk := s.recv(65536):
            data += chunk
            body, _ = dechunk(data)
            while body.count(b"\n\n") > len(times):
                times.append(time.monotonic())
    finally:
        s.close()
    body, terminated = dechunk(data)
    assert terminated
    return times, [e for e in body.split(b"\n\n") if e], t0


def test_delay_of_sse_events_keeps_order_and_spacing(faulty: Callable[..., Mitmdump]) -> None:
    """5 events 150 ms apart, each delayed 500 ms. Tolerance: the first arrives 0.5-2.5 s after the
    request (direct: ~0), all in order, and the last no earlier than 0.5 + 4 x 0.15 s."""
    proxy = faulty("delay:stream=sse,ms=500")
    times, events, t0 = timed_events(proxy.port, "/sse?n=5&interval_ms=150&ids=1")
    assert [e.split(b"\n")[0] for e in events] == [b"id: %d" % i for i in range(5)]
    assert 0.5 <= times[0] - t0 < 2.5, times[0] - t0
    assert times[-1] - t0 >= 0.5 + 4 * 0.15 - 0.05


def test_delay_of_response_headers(faulty: Callable[..., Mitmdump]) -> None:
    proxy = faulty("delay:stream=sse,ms=700,on=headers")
    times, events, t0 = timed_events(proxy.port, "/sse?n=2&interval_ms=10")
    assert len(events) == 2 and 0.7 <= times[0] - t0 < 3.0


# --- drop ----------------------------------------------------------------------------------------


def test_drop_matching_messages(faulty: Callable[..., Mitmdump]) -> None:
    proxy = faulty("drop:stream=ws,direction=server,regex=^[13]:")
    r = arun(ws_run(proxy.ws_base + "/ws?n=5&interval_ms=20&end=close&code=1000"))
    assert [m[0] for m in r["messages"]] == ["0", "2", "4"]
    assert r["code"] == 1000
    assert len([e for e in fired(proxy.capture) if e["action"] == "drop"]) == 2  # type: ignore[attr-defined]


def test_drop_sse_events_by_name(faulty: Callable[..., Mitmdump]) -> None:
    proxy = faulty("drop:stream=sse,after_messages=2")
    data, _, _ = raw_request(proxy.port, "/sse?n=5&interval_ms=20&ids=1&split=1")
    body, terminated = dechunk(data)
    assert terminated
    assert body.count(b"\n\n") == 2 and b"id: 0" in body and b"id: 1" in body and b"id: 2" not in body


def test_probability_with_seed_is_reproducible(faulty: Callable[..., Mitmdump]) -> None:
    spec = "drop:stream=ws,direction=server,probability=0.5,seed=7"
    runs = []
    for _ in range(2):
        proxy = faulty(spec)
        r = arun(ws_run(proxy.ws_base + "/ws?n=20&interval_ms=5&end=close"))
        runs.append([int(m.split(":")[0]) for m in r["messages"]])
        proxy.stop()
    # the same draws as the pure injector makes with that seed
    sf = Injector([parse_one_line(spec)]).open_stream("s", "ws", 0.0)
    sf.start(0.0)
    expected = [i for i in range(20) if not sf.on_message("server", 16, f"{i}:x", 0.0).drop]
    assert runs[0] == runs[1] == expected
    assert 3 < len(expected) < 17


# --- respond / times -----------------------------------------------------------------------------


@pytest.mark.parametrize("status", [502, 503, 504])
def test_respond_status(faulty: Callable[..., Mitmdump], status: int) -> None:
    proxy = faulty(f"respond:stream=sse,status={status},body=down")
    data, _, _ = raw_request(proxy.port, "/sse?n=3")
    assert data.startswith(f"HTTP/1.1 {status}".encode()) and data.endswith(b"down")


def test_respond_to_websocket_upgrade_first_stream_only(faulty: Callable[..., Mitmdump]) -> None:
    proxy = faulty("respond:stream=ws,status=503,times=1")
    with pytest.raises(InvalidStatus) as info:
        arun(ws_run(proxy.ws_base + "/ws?n=1"))
    assert info.value.response.status_code == 503
    r = arun(ws_run(proxy.ws_base + "/ws?n=2&interval_ms=10&end=close"))  # times=1: the next one passes
    assert len(r["messages"]) == 2


def test_respond_refuse(faulty: Callable[..., Mitmdump]) -> None:
    proxy = faulty("respond:status=refuse")
    data, how, _ = raw_request(proxy.port, "/sse?n=3")
    assert data == b"" and how == "eof"


# --- idle timeout --------------------------------------------------------------------------------


def test_idle_timeout_closes_after_silence(faulty: Callable[..., Mitmdump]) -> None:
    """The server sends 3 messages 100 ms apart, then nothing: closed 800 ms after the last
    message (tolerance: not before 700 ms, within 3 s), not during the chatty part."""
    proxy = faulty("idle_timeout:stream=ws,ms=800,how=close,code=4008,reason=idle")
    r = arun(ws_run(proxy.ws_base + "/ws?n=3&interval_ms=100"))
    assert len(r["messages"]) == 3 and (r["code"], r["reason"]) == (4008, "idle")
    quiet = r["end"] - r["times"][-1]
    assert 0.7 <= quiet < 3.0, quiet


def test_after_ms_timer_fires_on_a_chatty_stream(faulty: Callable[..., Mitmdump]) -> None:
    """Messages every 50 ms must not postpone a 500 ms timer (tolerance: 0.45-2.5 s)."""
    proxy = faulty("close:stream=ws,after_ms=500,code=4009")
    t0 = time.monotonic()
    r = arun(ws_run(proxy.ws_base + "/ws?n=200&interval_ms=50"))
    assert r["code"] == 4009
    assert 0.45 <= r["end"] - t0 < 2.5 + 0.5
    assert 3 <= len(r["messages"]) < 100


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


def test_stall_websocket_blocks_the_servers_sends(
    faulty: Callable[..., Mitmdump], lab_server: LabServer
) -> None:
    """A 2 s stall toward the client after the first of 300 x 64 KiB messages: the server cannot
    finish sending before the stall ends (tolerance: >= 1.5 s after its socket opened); nothing lost."""
    proxy = faulty("stall:stream=ws,direction=server,after_messages=1,ms=2000,to=client")
    r = arun(
        ws_run(proxy.ws_base + "/ws?n=300&size=65536&interval_ms=0&end=hang", timeout=120, stop_after=300)
    )
    assert len(r["messages"]) == 300 and [int(m.split(":")[0]) for m in r["messages"]] == list(range(300))
    opened = [e.t for e in lab_server.events() if e.what == "ws_open"][-1]
    sent_all = [e.t for e in lab_server.events() if e.what == "end"][-1]
    assert sent_all - opened >= 1.5, sent_all - opened


def test_stall_websocket_then_resume_in_order(faulty: Callable[..., Mitmdump]) -> None:
    proxy = faulty("stall:stream=ws,direction=server,after_messages=1,ms=1000")
    r = arun(ws_run(proxy.ws_base + "/ws?n=6&interval_ms=50&end=close"))
    assert [m[0] for m in r["messages"]] == list("012345")
    gap = r["times"][1] - r["times"][0]
    assert gap >= 0.8, gap


def test_throttle_websocket_rate(faulty: Callable[..., Mitmdump]) -> None:
    """40 x 2500 B = 100 kB at 50 kB/s: about 2 s (tolerance: measured rate 0.6-1.2 x the cap)."""
    proxy = faulty("throttle:stream=ws,direction=server,bytes_per_s=50000")
    # read exactly 40 (the server's close frame would overtake queued messages: a documented limit)
    r = arun(ws_run(proxy.ws_base + "/ws?n=40&size=2500&interval_ms=0", timeout=60, stop_after=40))
    assert len(r["messages"]) == 40
    span = r["times"][-1] - r["times"][0]
    rate = 39 * 2500 / span
    assert 0.6 * 50000 <= rate <= 1.2 * 50000, rate


def test_throttle_body_rate(faulty: Callable[..., Mitmdump]) -> None:
    """600 kB body at 200 kB/s: tolerance: the rate over the run is 0.4-1.5 x the cap (one socket
    read of up to ~64 kB can pass unthrottled)."""
    proxy = faulty("throttle:stream=http-stream,bytes_per_s=200000")
    data, _, took = raw_request(proxy.port, "/stream?n=150&size=4000&interval_ms=0", timeout=60)
    body, terminated = dechunk(data)
    assert terminated and len(body) == 600000
    rate = len(body) / took
    assert 0.4 * 200000 <= rate <= 1.5 * 200000, rate


# --- configuration --------------------------------------------------------------------------------


def test_scenario_file_loads_and_fires(faulty: Callable[..., Mitmdump], tmp_path: Path) -> None:
    scenario = tmp_path / "s.toml"
    scenario.write_text(
        '[[fault]]\naction = "close"\nmatch = "~u /ws"\nstream = "ws"\ndirection = "server"\n'
        'after_messages = 2\nto = "client"\ncode = 4001\n'
    )
    proxy = faulty(scenario=scenario)
    r = arun(ws_run(proxy.ws_base + "/ws?n=5&interval_ms=20"))
    assert r["code"] == 4001 and len(r["messages"]) == 2
    ev = fired(proxy.capture)  # type: ignore[attr-defined]
    assert ev[0]["fault_id"] == "s.toml#1"


def test_match_filter_selects_streams(faulty: Callable[..., Mitmdump]) -> None:
    proxy = faulty("close:match=~u other,stream=ws,after_messages=1,code=4001")
    r = arun(ws_run(proxy.ws_base + "/ws?n=3&interval_ms=10&end=close&code=1000"))
    assert r["code"] == 1000 and len(r["messages"]) == 3


@pytest.mark.parametrize(
    ("option", "needle"),
    [
        ({"fault": ["close:to=clent"]}, "did you mean 'client'"),
        ({"fault": ["clsoe:to=client"]}, "did you mean 'close'"),
        ({"fault": ["close:match=~zz("]}, "not a mitmproxy filter expression"),
    ],
)
def test_bad_fault_option_stops_mitmdump(
    recorder: Callable[..., Mitmdump], option: dict[str, Any], needle: str
) -> None:
    with pytest.raises(MitmdumpFailed) as info:
        recorder(scripts=[FAULTS], options=option)
    assert needle in info.value.log
    assert "Traceback" not in info.value.log


# --- what headless Chromium reports ----------------------------------------------------------------

WS_JS = """url => new Promise(resolve => {
  const ws = new WebSocket(url); let n = 0;
  ws.onmessage = () => n++;
  ws.onclose = e => resolve({code: e.code, reason: e.reason, wasClean: e.wasClean, messages: n});
})"""

FETCH_JS = """url => fetch(url).then(async r => {
  const reader = r.body.getReader(); let n = 0;
  try { for (;;) { const {done, value} = await reader.read(); if (done) return {ok: true, bytes: n}; n += value.length; } }
  catch (e) { return {ok: false, bytes: n}; }
}, e => ({ok: false, bytes: 0}))"""


class Chrome:
    """One headless Chromium page; DevTools ``Network.loadingFailed`` gives the net error name."""

    def __init__(self) -> None:
        from playwright.sync_api import sync_playwright

        from tearline.lab.browser import CHROMIUM, CHROMIUM_ARGS

        self._pw = sync_playwright().start()
        try:
            self.browser = self._pw.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=list(CHROMIUM_ARGS)
            )
        except Exception:
            self._pw.stop()
            raise
        self.page = self.browser.new_page()
        self.failed: list[str] = []
        cdp = self.page.context.new_cdp_session(self.page)
        cdp.on("Network.loadingFailed", lambda p: self.failed.append(p.get("errorText", "")))
        cdp.send("Network.enable")

    def websocket(self, proxy: Mitmdump, path: str) -> dict[str, Any]:
        self.page.goto(proxy.url + "/")
        return dict(self.page.evaluate(WS_JS, proxy.ws_base + path))

    def fetch(self, proxy: Mitmdump, path: str) -> dict[str, Any]:
        self.page.goto(proxy.url + "/")
        self.failed.clear()
        result = dict(self.page.evaluate(FETCH_JS, proxy.url + path))
        deadline = time.monotonic() + 10
        while not self.failed and time.monotonic() < deadline and not result["ok"]:
            self.page.wait_for_timeout(50)
        result["net_error"] = self.failed[-1] if self.failed else None
        return result

    def close(self) -> None:
        try:
            self.browser.close()
        finally:
            self._pw.stop()


@pytest.fixture(scope="module")
def chrome() -> Any:
    c = Chrome()
    try:
        yield c
    finally:
        c.close()


@pytest.mark.browser
@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (
            "close:stream=ws,direction=server,after_messages=2,to=client,code=4001,reason=bye",
            (4001, "bye", True),
        ),
        ("abort:stream=ws,direction=server,after_messages=2", (1006, "", False)),
        ("reset:stream=ws,direction=server,after_messages=2", (1006, "", False)),
    ],
    ids=["close", "abort", "reset"],
)
def test_chromium_close_event(
    faulty: Callable[..., Mitmdump], chrome: Chrome, fault: str, expected: tuple
) -> None:
    proxy = faulty(fault)
    got = chrome.websocket(proxy, "/ws?n=10&interval_ms=50")
    assert (got["code"], got["reason"], got["wasClean"]) == expected
    assert got["messages"] == 2


@pytest.mark.browser
@pytest.mark.parametrize(
    ("fault", "path", "net_error"),
    [
        (
            "truncate:stream=sse,after_messages=2",
            "/sse?n=8&interval_ms=50",
            "net::ERR_INCOMPLETE_CHUNKED_ENCODING",
        ),
        (
            "truncate:stream=sse,after_messages=2,mid_event=true",
            "/sse?n=8&interval_ms=50",
            "net::ERR_INCOMPLETE_CHUNKED_ENCODING",
        ),
        (
            "reset:stream=http-stream,after_messages=2",
            "/stream?n=8&interval_ms=50",
            "net::ERR_CONNECTION_RESET",
        ),
        (
            "abort:stream=http-stream,after_messages=2",
            "/stream?n=8&interval_ms=50",
            "net::ERR_INCOMPLETE_CHUNKED_ENCODING",
        ),
        ("abort:stream=http-stream", "/stream?n=8&interval_ms=50", "net::ERR_EMPTY_RESPONSE"),
        ("respond:match=~u /stream,status=refuse", "/stream?n=8", "net::ERR_EMPTY_RESPONSE"),
    ],
    ids=["truncate", "truncate-mid-event", "reset", "abort", "abort-before-headers", "refuse"],
)
def test_chromium_net_error(
    faulty: Callable[..., Mitmdump], chrome: Chrome, fault: str, path: str, net_error: str
) -> None:
    proxy = faulty(fault)
    got = chrome.fetch(proxy, path)
    assert not got["ok"]
    assert got["net_error"] == net_error


# --- live control through mitmproxy commands --------------------------------------------------------

DRIVER = '''
import asyncio
from mitmproxy import ctx

class Driver:
    """Test helper: runs mitmproxy commands {delay} s after a WebSocket opens."""
    name = "test_driver"

    def websocket_start(self, flow):
        async def go():
            await asyncio.sleep({delay})
            for cmd in {commands!r}:
                ctx.master.commands.execute(cmd)
        asyncio.get_running_loop().create_task(go())

addons = [Driver()]
'''


def driven(
    recorder: Callable[..., Mitmdump], tmp_path: Path, faults: list[str], commands: list[str]
) -> Mitmdump:
    script = tmp_path / "driver.py"
    script.write_text(DRIVER.format(delay=1.0, commands=commands))
    return recorder(scripts=[FAULTS, script], options={"fault": faults})


def test_disarm_ends_a_stall_until_disarmed(recorder: Callable[..., Mitmdump], tmp_path: Path) -> None:
    proxy = driven(
        recorder, tmp_path, ["stall:stream=ws,direction=server,after_messages=1"], ["faults.disarm cli#1"]
    )
    r = arun(ws_run(proxy.ws_base + "/ws?n=4&interval_ms=50&end=close"))
    assert [m[0] for m in r["messages"]] == list("0123")
    assert r["times"][1] - r["times"][0] >= 0.7  # held until the command ran (~1 s after open)
    time.sleep(0.3)
    armed = [json.loads(x) for x in proxy.capture.read_text().splitlines()[1:] if '"fault_armed"' in x]  # type: ignore[attr-defined]
    assert [a.get("armed", True) for a in armed] == [True, False]


def test_fire_and_list_commands(recorder: Callable[..., Mitmdump], tmp_path: Path) -> None:
    proxy = driven(
        recorder,
        tmp_path,
        ["close:stream=ws,after_messages=1000,code=4005"],
        ["faults.list", "faults.fire cli#1"],
    )
    r = arun(ws_run(proxy.ws_base + "/ws?n=100&interval_ms=20"))
    assert r["code"] == 4005 and 10 <= len(r["messages"]) < 100
    log = proxy.log_text()
    assert "cli#1 armed close" in log and "fired cli#1 on 1 stream(s)" in log
    ev = fired(proxy.capture)  # type: ignore[attr-defined]
    assert ev[0]["trigger"].endswith("fired by command")
