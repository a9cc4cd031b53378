"""addons/faults.py through a real mitmdump (with the recorder) against real servers on 127.0.0.1.

Each test asserts what a real client observes: close codes and reasons, EOF versus
ECONNRESET, incomplete chunked bodies, timing within stated tolerances, statuses,
and that the capture records the firing. Tolerances are generous: the machine is
shared by several test runs at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus

from tearline.faults.injector import Injector
from tearline.faults.scenario import parse_one_line
from tearline.lab.mitmdump import Mitmdump, MitmdumpFailed
from tests.fault_clients import (
    FAULTS,
    arun,
    dechunk,
    echo_session,
    fired,
    raw_request,
    timed_events,
    ws_run,
)
from tests.fixtures_browser import Chrome


def test_delay_of_handshake(faulty: Callable[..., Mitmdump]) -> None:
    proxy = faulty("delay:stream=ws,ms=600,on=handshake")
    t0 = time.monotonic()
    r = arun(echo_session(proxy.ws_base + "/ws?n=0", ["x"]))
    assert r["messages"] == ["x"]
    assert 0.6 <= time.monotonic() - t0 < 5.0


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
    got = chrome.websocket(proxy.url, proxy.ws_base + "/ws?n=10&interval_ms=50")
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
    got = chrome.fetch(proxy.url, path)
    assert not got["ok"]
    assert got["net_error"] == net_error
