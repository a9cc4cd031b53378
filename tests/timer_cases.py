"""What the diagnosis must say about each timer scenario of the lab (``tearline.lab.scenario_table``).

One table for every test that records them: ``tests/test_timers_real.py`` (Caddy 2.11.7 over HTTP/2, Caddy
2.8.4 over HTTP/1.1 and HTTP/2) and ``tests/test_diagnosis_real.py`` (Caddy 2.11.7 over HTTP/1.1). With
every source and ``--caddy-config``, each of the scenario's streams must carry the expected cause, actor
and outcome, and for a timer its name, configured value (seconds, exact), clock and a measured duration
inside a generous range (the machine is loaded: the ranges say "about the timer", not "to the ms").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["TIMER_CASES", "TimerCase", "check_stream"]


@dataclass(frozen=True, kw_only=True, slots=True)
class TimerCase:
    kind: str
    actor: str
    timer: str | None = None  # a piece of details["timer"]; None: no timer is named
    configured: float | None = None  # details["configured"], seconds
    clock: str | None = None  # details["clock"]
    measured: tuple[float, float] | None = None  # details["measured"] must be inside, seconds
    mechanism: str | None = None  # details["mechanism"]
    in_summary: str | None = None  # a piece of the cause's summary
    fault: bool = True  # outcome "fault" (else "expected")


TIMER_CASES: dict[str, TimerCase] = {
    # reverse_proxy transport read_timeout 2 s, the agent silent after 5 deltas: 2 s after its last data
    "proxy_read_timeout": TimerCase(
        kind="proxy_timeout",
        actor="proxy",
        timer="reverse_proxy transport read_timeout",
        configured=2.0,
        clock="server_idle",
        measured=(1.5, 4.0),
    ),
    # the server's write_timeout 3 s on a 10 s SSE answer: 3 s from the open
    "server_write_timeout": TimerCase(
        kind="proxy_timeout",
        actor="proxy",
        timer="server write_timeout",
        configured=3.0,
        clock="open",
        measured=(2.7, 6.0),
    ),
    # the server's read_timeout 2 s while the request body is still being uploaded: 2 s from the open
    "server_read_timeout": TimerCase(
        kind="proxy_timeout",
        actor="proxy",
        timer="server read_timeout",
        configured=2.0,
        clock="open",
        measured=(1.7, 4.0),
    ),
    # a reload with stream_close_delay 3 s: the WebSocket is closed (1001) 3 s after the reload
    "stream_close_delay": TimerCase(
        kind="server_going_away",
        actor="proxy",
        timer="stream_close_delay",
        configured=3.0,
        clock="reload",
        measured=(2.7, 6.0),
    ),
    # reverse_proxy stream_timeout 2 s on the WebSocket: 2 s of lifetime
    "proxy_timeout": TimerCase(
        kind="proxy_timeout",
        actor="proxy",
        timer="stream_timeout",
        configured=2.0,
        clock="open",
        measured=(1.7, 5.0),
    ),
    # the browser-leg mitmdump's tcp_timeout 2 s, named with the value its capture header recorded
    "proxy_idle_timeout": TimerCase(
        kind="proxy_timeout",
        actor="proxy",
        timer="tcp_timeout",
        configured=2.0,
        clock="idle",
        measured=(1.9, 4.0),
        in_summary="configured 2 s (capture.options.tcp_timeout in capture-browser.jsonl)",
    ),
    # RUN_ERROR inside an SSE body that ended properly
    "in_band_error": TimerCase(kind="in_band_error", actor="server"),
    # the page's watchdog gives up after 2 s without data
    "stall": TimerCase(kind="stall", actor="server", mechanism="page gave up", measured=(1.8, 5.0)),
}


def check_stream(stream: dict[str, Any], case: TimerCase, context: str) -> None:
    """Assert one diagnosed stream (``tearline diagnose --json``'s ``streams[i]``) against ``case``."""
    c = stream["cause"]
    d = c.get("details") or {}
    got = (c["kind"], c["actor"], stream["outcome"])
    want = (case.kind, case.actor, "fault" if case.fault else "expected")
    assert got == want, f"{stream['kind']}: {got} != {want}: {c['summary']}\n{context}"
    if case.timer is not None:
        assert case.timer in str(d.get("timer")), (d, context)
        assert d.get("configured") == case.configured, (d, context)
        assert d.get("clock") == case.clock, (d, context)
    if case.mechanism is not None:
        assert d.get("mechanism") == case.mechanism, (d, context)
    if case.measured is not None:
        low, high = case.measured
        assert isinstance(d.get("measured"), int | float) and low <= d["measured"] <= high, (d, context)
    if case.in_summary is not None:
        assert case.in_summary in c["summary"], (c["summary"], context)
