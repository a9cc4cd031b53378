"""addons/ws_inject.py: held WebSocket messages (delay, stall, throttle) leave in order through a real
mitmdump; the relay_messages patch is installed once. Tolerances stated per test.
"""

from __future__ import annotations

from collections.abc import Callable

from tearline.lab.mitmdump import Mitmdump
from tearline.lab.servers import LabServer
from tests.fault_clients import (
    arun,
    echo_session,
    ws_run,
)

# --- delay ---------------------------------------------------------------------------------------


def test_delay_keeps_order_within_tolerance(faulty: Callable[..., Mitmdump]) -> None:
    """Five echoes, each delayed 300 ms (+ up to 100 ms jitter) on the server->client leg.

    Tolerance: each echo arrives >= 300 ms after its send and < 300 + 100 + 1500 ms (shared CPU).
    """
    proxy = faulty("delay:stream=ws,direction=server,ms=300,jitter_ms=100,seed=1")
    sends = [f"m{i}" for i in range(5)]
    r = arun(echo_session(proxy.ws_base + "/ws?n=0", sends))
    assert r["messages"] == sends
    lat = [t - s for t, s in zip(r["times"], r["sent"], strict=True)]
    assert all(0.3 <= x < 1.9 for x in lat), lat


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
    r = arun(ws_run(proxy.ws_base + "/ws?n=40&size=2500&interval_ms=0", timeout=60, stop_after=40))
    assert len(r["messages"]) == 40
    span = r["times"][-1] - r["times"][0]
    rate = 39 * 2500 / span
    assert 0.6 * 50000 <= rate <= 1.2 * 50000, rate


# --- a peer's end waits for the messages a fault holds -------------------------------------------


def test_a_close_frame_waits_for_throttled_messages(faulty: Callable[..., Mitmdump]) -> None:
    """The server sends 20 x 2500 B at once and a close frame: throttled to 25 kB/s, the close
    arrives after all 20 (before: it overtook them and the held messages were discarded)."""
    proxy = faulty("throttle:stream=ws,direction=server,bytes_per_s=25000")
    r = arun(ws_run(proxy.ws_base + "/ws?n=20&size=2500&interval_ms=0&end=close&code=4000", timeout=60))
    assert [int(m.split(":")[0]) for m in r["messages"]] == list(range(20))
    assert r["code"] == 4000


def test_a_fin_waits_for_delayed_messages(faulty: Callable[..., Mitmdump]) -> None:
    """The server sends 5 messages then drops TCP (no close frame); each is delayed 300 ms: all five
    arrive, then the drop (1006, as directly)."""
    proxy = faulty("delay:stream=ws,direction=server,ms=300")
    r = arun(ws_run(proxy.ws_base + "/ws?n=5&interval_ms=0&end=fin", timeout=60))
    assert [int(m.split(":")[0]) for m in r["messages"]] == list(range(5))
    assert r["code"] in (None, 1006)


def test_a_close_frame_waits_for_a_stall(faulty: Callable[..., Mitmdump]) -> None:
    """A 1 s stall toward the client after the first of 4 messages, then the server's close frame:
    the held messages arrive after the stall, then the close."""
    proxy = faulty("stall:stream=ws,direction=server,after_messages=1,ms=1000")
    r = arun(ws_run(proxy.ws_base + "/ws?n=4&interval_ms=0&end=close&code=4001", timeout=60))
    assert [int(m.split(":")[0]) for m in r["messages"]] == list(range(4))
    assert r["code"] == 4001
