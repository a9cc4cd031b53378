"""Each rule on hand-written observation lists taken from the reference's signatures (pure, no files)."""

from __future__ import annotations

from typing import Any

import pytest
from tearline.analysis.diagnose.diagnosis import recorded_timers
from tearline.analysis.diagnose.model import ACTORS, CAUSE_KINDS, Cause
from tearline.analysis.diagnose.rules import RULES, Context, run_rules
from tearline.analysis.diagnose.streams import build_streams
from tearline.analysis.evidence.observation import Observation, SourceRecord
from tearline.analysis.evidence.timers import DEFAULT_TIMERS

T0 = 1_780_000_000.0
WS = "ws://ai.localhost:8080/ws"
SSE = "http://ai.localhost:8080/agent/run"


def o(source: str, kind: str, dt: float, key: str | None = "1", **kw: Any) -> Observation:
    return Observation(
        source=source, kind=kind, t=T0 + dt, stream_key=key, where=f"line {int(dt * 10)}", **kw
    )


def rec(name: str, *obs: Observation, meta: dict[str, Any] | None = None) -> SourceRecord:
    return SourceRecord(name=name, path=f"{name}.file", observations=list(obs), meta=meta or {})


def ws_open(source: str = "netlog", frames: int = 10, every: float = 0.1) -> list[Observation]:
    out = [o(source, "ws_created", 0.0, url=WS), o(source, "ws_open", 0.02, status=101)]
    out += [o(source, "ws_frame_received", 0.1 + i * every, size=30, text="text") for i in range(frames)]
    return out


def sse_open(source: str = "netlog", chunks: int = 10, every: float = 0.1) -> list[Observation]:
    out = [
        o(source, "request_start", 0.0, url=SSE, text="POST"),
        o(source, "response_headers", 0.05, status=200, text="text/event-stream"),
    ]
    out += [o(source, "data_received", 0.1 + i * every, size=60) for i in range(chunks)]
    return out


def causes(*records: SourceRecord) -> list[Cause]:
    streams, _, global_obs = build_streams(records)
    assert len(streams) == 1, [s.url for s in streams]
    end = max(x.t for r in records for x in r.observations)
    found = run_rules(
        Context(
            stream=streams[0],
            global_obs=global_obs,
            timers=[*recorded_timers(records), *DEFAULT_TIMERS],
            recording_end=end,
        )
    )
    for c in found:
        assert c.kind in CAUSE_KINDS and c.actor in ACTORS and 0 < c.confidence <= 1 and c.evidence and c.rule
    return found


def top(*records: SourceRecord) -> Cause:
    found = causes(*records)
    assert found, "no rule fired"
    return found[0]


def test_rule_table_is_one_literal_table_of_distinct_names() -> None:
    names = [r.name for r in RULES]
    assert len(names) == len(set(names)) >= 11
    for r in RULES:
        assert r.sources and r.kinds and r.doc


def test_injected_fault_from_capture_fault_event() -> None:
    c = top(
        rec(
            "netlog",
            *ws_open(),
            o("netlog", "ws_close_received", 1.2, code=4001),
            o("netlog", "ws_closed", 1.21, code=4001),
        ),
        rec(
            "capture",
            o("capture", "request_start", 0.01, key="f1", url=WS),
            o("capture", "fault", 1.19, key="f1", text="close 4001"),
        ),
    )
    assert (c.kind, c.actor, c.rule) == ("injected_fault", "tearline", "injected_fault")
    assert "close 4001" in c.summary


def test_a_shaping_fault_the_stream_outlived_is_not_its_end() -> None:
    """A delay that fired, then the body completed normally: the end is clean, not tearline's."""
    c = top(
        rec("netlog", *sse_open(), o("netlog", "request_done", 1.2)),
        rec(
            "capture",
            o("capture", "request_start", 0.01, key="f1", url=SSE),
            o("capture", "fault", 0.5, key="f1", text="delay 300 ms", how="shapes"),
        ),
    )
    assert (c.kind, c.actor) == ("clean_close", "server"), c


def test_a_shaping_fault_before_an_abnormal_end_is_named() -> None:
    """A stall that held the stream until the page gave up: tearline's fault ended it."""
    c = top(
        rec("netlog", *sse_open(), o("netlog", "request_cancelled", 9.0, error="ERR_ABORTED")),
        rec(
            "capture",
            o("capture", "request_start", 0.01, key="f1", url=SSE),
            o("capture", "fault", 1.1, key="f1", text="stall until disarmed", how="shapes"),
        ),
    )
    assert (c.kind, c.actor) == ("injected_fault", "tearline"), c


def test_navigation_cancel_with_navigation_in_netlog() -> None:
    c = top(
        rec(
            "netlog",
            o("netlog", "navigation", -1.0, key=None, url="http://www.localhost/chat"),
            *sse_open(),
            o("netlog", "navigation", 1.5, key=None, url="http://www.localhost/settings"),
            o("netlog", "request_cancelled", 1.52, error="ERR_ABORTED"),
        )
    )
    assert (c.kind, c.actor, c.rule) == ("client_navigation", "browser", "navigation")
    assert "settings" in c.summary
    assert any("navigated" in e.text for e in c.evidence)


def test_navigation_browser_1001_without_navigation_event() -> None:
    c = top(rec("netlog", *ws_open(), o("netlog", "ws_close_sent", 1.2, code=1001)))
    assert (c.kind, c.actor) == ("client_navigation", "browser")


def test_renderer_crash_is_not_a_network_error() -> None:
    c = top(
        rec(
            "cdp",
            *sse_open("cdp"),
            o("cdp", "request_cancelled", 1.3),
            o("cdp", "page_crash", 1.29, key=None, text="Error code: 11"),
        )
    )
    assert c.kind == "client_navigation" and "crash" in c.summary


def test_app_close_without_navigation() -> None:
    c = top(
        rec(
            "netlog",
            *ws_open(frames=12),
            o("netlog", "ws_close_sent", 1.25, code=1000),
            o("netlog", "ws_closed", 1.3, code=1000),
        )
    )
    assert (c.kind, c.actor, c.rule) == ("client_app_close", "page", "app_close")


def test_going_away_with_proxy_reload_is_the_proxy() -> None:
    c = top(
        rec(
            "netlog",
            *ws_open(),
            o("netlog", "ws_close_received", 1.2, code=1001),
            o("netlog", "ws_closed", 1.21, code=1001),
        ),
        rec("caddy", o("caddy", "proxy_reload", 1.19, key=None, text="load complete")),
    )
    assert (c.kind, c.actor) == ("server_going_away", "proxy")
    assert "stream_close_delay" in c.summary


def test_going_away_from_server() -> None:
    c = top(
        rec(
            "netlog",
            *ws_open(),
            o("netlog", "ws_close_received", 1.2, code=1001),
            o("netlog", "ws_closed", 1.21, code=1001),
        )
    )
    assert (c.kind, c.actor) == ("server_going_away", "server")


def test_proxy_timeout_from_caddy_log() -> None:
    c = top(
        rec("netlog", *ws_open(frames=15), o("netlog", "ws_closed", 2.0, code=1006, text="unclean")),
        rec("caddy", o("caddy", "proxy_timeout", 1.99, key=None, text="stream timed out")),
    )
    assert (c.kind, c.actor, c.rule) == ("proxy_timeout", "proxy", "proxy_timer")


def test_proxy_timeout_at_exactly_nginx_60s() -> None:
    c = top(rec("netlog", *ws_open(frames=3), o("netlog", "ws_closed", 60.05, code=1006, text="unclean")))
    assert c.kind == "proxy_timeout" and "60" in c.summary


def test_proxy_timeout_at_a_value_from_capture_header() -> None:
    found = causes(
        rec("netlog", *ws_open(frames=30), o("netlog", "ws_closed", 7.0, code=1006, text="unclean")),
        rec(
            "capture",
            o("capture", "request_start", 0.01, key="f", url=WS),
            meta={"options": {"stream_timeout": "7s"}},
        ),
    )
    assert found[0].kind == "proxy_timeout"


def test_proxy_timeout_names_the_closest_measure() -> None:
    """Idle for exactly the recorded 2 s after living 2.25 s: both are within tolerance, the idle time is closer."""
    sse = sse_open(source="capture", chunks=3, every=0.05)
    end = o("capture", "request_failed", 2.25 + 0.0, text="Client disconnected.", error_class="client_gone")
    c = top(rec("capture", *sse, end, meta={"options": {"tcp_timeout": 2}}))
    assert c.kind == "proxy_timeout" and "idle time" in c.summary, c.summary
    assert any(e.text == "request failed with Client disconnected." for e in c.evidence), c.evidence


def test_upstream_unavailable_502_on_ws_handshake() -> None:
    c = top(
        rec(
            "netlog",
            o("netlog", "ws_created", 0.0, url=WS),
            o("netlog", "response_headers", 0.01, status=502),
            o(
                "netlog",
                "ws_error",
                0.02,
                text="Error during WebSocket handshake: Unexpected response code: 502",
            ),
        )
    )
    assert (c.kind, c.actor) == ("upstream_unavailable", "server")
    assert "502" in c.summary


def test_protocol_error_invalid_frame() -> None:
    c = top(
        rec(
            "cdp",
            *ws_open("cdp"),
            o("cdp", "ws_error", 1.2, text="Invalid frame header"),
            o("cdp", "ws_closed", 1.21, code=1006),
        )
    )
    assert (c.kind, c.actor) == ("protocol_error", "server")


@pytest.mark.parametrize(
    ("caddy_says", "kind"),
    [
        ("reading: read tcp: connection reset by peer", "connection_reset"),
        # Caddy caught the upstream breaking the chunked framing and hid it from the browser as a cut
        ("reading: invalid byte in chunk length", "protocol_error"),
    ],
)
def test_caddy_names_what_the_browser_saw_as_a_cut_body(caddy_says: str, kind: str) -> None:
    c = top(
        rec(
            "netlog",
            *sse_open(),
            o("netlog", "request_failed", 1.2, error="ERR_INCOMPLETE_CHUNKED_ENCODING", code=-355),
        ),
        rec(
            "caddy",
            o(
                "caddy",
                "proxy_abort",
                1.19,
                key=None,
                url=SSE,
                text=f"aborting with incomplete response: {caddy_says}",
            ),
        ),
    )
    assert (c.kind, c.actor) == (kind, "server")
    assert any(e.source == "caddy" and caddy_says in e.text for e in c.evidence)


def test_connection_reset_in_browser() -> None:
    c = top(
        rec(
            "netlog", *sse_open(), o("netlog", "request_failed", 1.2, error="ERR_CONNECTION_RESET", code=-101)
        )
    )
    assert c.kind == "connection_reset"


def test_abrupt_chunked_cut() -> None:
    c = top(
        rec(
            "netlog",
            *sse_open(),
            o("netlog", "request_failed", 1.2, error="ERR_INCOMPLETE_CHUNKED_ENCODING", code=-355),
        )
    )
    assert (c.kind, c.actor) == ("server_abrupt_close", "server")


def test_dead_backend_hidden_by_a_clean_body_end() -> None:
    found = causes(
        rec("netlog", *sse_open(), o("netlog", "request_done", 1.2, size=600)),
        rec(
            "caddy",
            o(
                "caddy",
                "upstream_error",
                1.19,
                key=None,
                url=SSE,
                text="reading from backend: unexpected EOF",
            ),
        ),
    )
    assert found[0].kind == "server_abrupt_close" and "hiding" in found[0].summary
    assert any(c.kind == "clean_close" for c in found[1:])


def test_mitmproxy_1000_after_1006_observer_effect() -> None:
    c = top(
        rec(
            "netlog",
            *ws_open(),
            o("netlog", "ws_close_received", 1.2, code=1000),
            o("netlog", "ws_closed", 1.21, code=1000),
        ),
        rec(
            "capture",
            o("capture", "request_start", 0.01, key="f", url=WS),
            o("capture", "ws_closed", 1.19, key="f", code=1006, leg="server", direction="server"),
        ),
    )
    assert c.kind == "server_abrupt_close" and "mitmproxy" in c.summary


def test_ws_1006_without_close_frame() -> None:
    c = top(rec("netlog", *ws_open(), o("netlog", "ws_closed", 1.2, code=1006, text="unclean")))
    assert (c.kind, c.actor) == ("server_abrupt_close", "server")


def test_stall_then_page_gives_up() -> None:
    found = causes(
        rec(
            "netlog",
            *ws_open(frames=10),
            o("netlog", "ws_close_sent", 4.5, code=1000),
            o("netlog", "ws_closed", 4.52, code=1000),
        )
    )
    assert (found[0].kind, found[0].actor) == ("stall", "server")
    assert any(c.kind == "client_app_close" for c in found[1:])


def test_stall_still_open_at_end_of_recording() -> None:
    c = top(rec("netlog", *sse_open(chunks=5), o("netlog", "console", 6.0, key=None, text="later")))
    assert c.kind == "stall"


@pytest.mark.parametrize(
    "frames", [[o("netlog", "ws_close_received", 1.2, code=1000), o("netlog", "ws_closed", 1.21, code=1000)]]
)
def test_clean_close_by_server(frames: list[Observation]) -> None:
    c = top(rec("netlog", *ws_open(), *frames))
    assert (c.kind, c.rule) == ("clean_close", "clean")


def test_clean_body_end() -> None:
    c = top(rec("netlog", *sse_open(), o("netlog", "request_done", 1.1, size=600)))
    assert c.kind == "clean_close"


# --- signatures learned from the real recordings (tests/test_diagnosis_real.py) --------------------


def test_proxy_lines_after_the_browsers_own_cancel_are_not_upstream_failures() -> None:
    c = top(
        rec("netlog", *sse_open(chunks=12), o("netlog", "request_cancelled", 1.25, error="ERR_ABORTED")),
        rec(
            "caddy",
            o(
                "caddy",
                "proxy_abort",
                1.26,
                key=None,
                url=SSE,
                text="aborting with incomplete response: reading: context canceled",
            ),
        ),
    )
    assert (c.kind, c.actor) == ("client_app_close", "page")


def test_a_proxy_that_caught_bad_framing_beats_the_cut_the_browser_saw() -> None:
    c = top(
        rec(
            "netlog",
            *sse_open(),
            o("netlog", "request_failed", 1.2, error="ERR_INCOMPLETE_CHUNKED_ENCODING", code=-355),
        ),
        rec(
            "capture",
            o("capture", "request_start", 0.01, key="f", url=SSE, text="POST"),
            o(
                "capture",
                "request_failed",
                1.19,
                key="f",
                text="HTTP/1 protocol error: illegal chunk header: b'zz'",
                error_class="protocol",
            ),
        ),
        rec(
            "caddy",
            o(
                "caddy",
                "proxy_abort",
                1.19,
                key=None,
                url=SSE,
                text="aborting with incomplete response: reading: unexpected EOF",
            ),
        ),
    )
    assert (c.kind, c.actor) == ("protocol_error", "server")
    assert c.evidence[0].source == "capture"


def test_peer_closed_without_complete_body_is_not_a_protocol_error() -> None:
    c = top(
        rec(
            "netlog",
            *sse_open(),
            o("netlog", "request_failed", 1.2, error="ERR_INCOMPLETE_CHUNKED_ENCODING", code=-355),
        ),
        rec(
            "capture",
            o("capture", "request_start", 0.01, key="f", url=SSE, text="POST"),
            o(
                "capture",
                "request_failed",
                1.19,
                key="f",
                text="HTTP/1 protocol error: peer closed connection without sending complete message body",
                error_class="cut",
            ),
        ),
    )
    assert c.kind == "server_abrupt_close"


def test_the_navigation_that_loaded_the_page_is_not_a_navigation_away() -> None:
    # CDP logs Page.frameNavigated after the page's script already created its WebSocket
    c = top(
        rec(
            "cdp",
            o("cdp", "ws_created", 0.0, url=WS),
            o(
                "cdp",
                "navigation",
                0.01,
                key=None,
                url="http://www.localhost/chat.html",
                text="frame navigated",
            ),
            o("cdp", "ws_open", 0.05, status=101),
        ),
        rec(
            "netlog", *ws_open(frames=8), o("netlog", "ws_close_sent", 1.0, code=1000, reason="user stopped")
        ),
    )
    assert (c.kind, c.actor) == ("client_app_close", "page")


def test_close_frames_in_the_same_millisecond_keep_file_order() -> None:
    c = top(
        rec(
            "netlog",
            *ws_open(),
            o("netlog", "ws_close_received", 1.2, code=1000, reason="run finished"),
            o("netlog", "ws_close_sent", 1.2, code=1000, reason="run finished"),
            o("netlog", "socket_error", 1.2, error="ERR_CONNECTION_RESET", code=-101),
            o("netlog", "ws_closed", 1.2, code=1000, text="unclean"),
        )
    )
    assert c.kind == "clean_close"  # the reset after a completed close handshake does not matter


def test_har_end_times_do_not_override_the_netlog() -> None:
    found = causes(
        rec("netlog", *sse_open(chunks=7), o("netlog", "request_cancelled", 3.0, error="ERR_ABORTED")),
        rec(
            "har",
            o("har", "request_start", 0.0, key="1", url=SSE, text="POST"),
            o("har", "request_cancelled", 0.01, key="1"),
        ),
    )
    assert found[0].kind == "stall"  # 2.3 s of silence before the page gave up, per the NetLog


def test_a_close_code_of_the_servers_own_is_a_proper_close() -> None:
    c = top(rec("netlog", *ws_open(), o("netlog", "ws_close_received", 1.2, code=4001, reason="bye")))
    assert c.kind == "clean_close" and "4001" in c.summary and c.confidence == 0.5


def test_devtools_loses_the_page_on_navigation_but_the_navigation_still_names_it() -> None:
    # CDP only: the stream has no end at all (the session went with the page), then a navigation
    found = causes(
        rec(
            "cdp",
            *sse_open("cdp", chunks=8),
            o("cdp", "navigation", 1.0, key=None, url="http://www.localhost/docs.html"),
            o("cdp", "console", 3.0, key=None, text="docs page loaded"),
        )
    )
    assert (found[0].kind, found[0].confidence) == ("client_navigation", 0.75)
    assert all(c.kind != "stall" for c in found)  # the silence after the page left is not a stall


def test_capture_only_client_hang_up_and_body_cut() -> None:
    gone = top(
        rec(
            "capture",
            o("capture", "request_start", 0.0, key="f", url=SSE, text="POST"),
            o("capture", "response_headers", 0.1, key="f", status=200, text="sse"),
            o("capture", "data_received", 0.2, key="f", size=40, direction="server"),
            o(
                "capture",
                "request_failed",
                0.5,
                key="f",
                text="body cut after 479 bytes: Client disconnected.",
                error_class="client_gone",
            ),
        )
    )
    assert (gone.kind, gone.actor) == ("client_app_close", "page") and gone.confidence < 0.5
    cut = top(
        rec(
            "capture",
            o("capture", "request_start", 0.0, key="f", url=SSE, text="POST"),
            o("capture", "response_headers", 0.1, key="f", status=200, text="sse"),
            o(
                "capture",
                "request_failed",
                0.5,
                key="f",
                text="HTTP/1 protocol error: peer closed connection without sending complete message body",
                error_class="cut",
            ),
        )
    )
    assert (cut.kind, cut.actor) == ("server_abrupt_close", "server")


def test_http2_resets_name_who_ended_the_stream() -> None:
    # the browser's RST_STREAM CANCEL (8) on HTTP/2 is its own end; a server INTERNAL_ERROR (2) is an abort
    mine = top(
        rec(
            "netlog",
            *sse_open(),
            o("netlog", "h2_rst_stream", 1.2, code=8, direction="client", text="8 (CANCEL)"),
        )
    )
    assert (mine.kind, mine.actor) == ("client_app_close", "page")
    theirs = top(
        rec(
            "netlog",
            *sse_open(),
            o("netlog", "h2_rst_stream", 1.2, code=2, direction="server", text="2 (INTERNAL_ERROR)"),
        )
    )
    assert (theirs.kind, theirs.actor) == ("server_abrupt_close", "server")


def test_a_backend_leg_capture_does_not_speak_for_the_browser() -> None:
    # Caddy's reload sends 1001 both ways: the backend-leg capture sees Caddy (its client) send 1001
    c = top(
        rec(
            "netlog",
            *ws_open(),
            o("netlog", "ws_close_received", 1.2, code=1001),
            o("netlog", "ws_closed", 1.21, code=1001),
        ),
        rec(
            "capture",
            o("capture", "request_start", 0.05, key="b", url=WS, text="GET"),
            o("capture", "ws_close_sent", 1.19, key="b", code=1001, leg="client"),
        ),
        rec("caddy", o("caddy", "proxy_reload", 1.18, key=None, text="load")),
    )
    assert (c.kind, c.actor) == ("server_going_away", "proxy")


def test_devtools_and_caddy_name_a_reload_without_any_close_code() -> None:
    c = top(
        rec("cdp", *ws_open("cdp"), o("cdp", "ws_closed", 1.2)),
        rec("caddy", o("caddy", "proxy_reload", 1.19, key=None, text="load")),
    )
    assert (c.kind, c.actor, c.confidence) == ("server_going_away", "proxy", 0.75)


def test_a_proxy_stopping_after_the_end_is_not_a_reload_that_caused_it() -> None:
    found = causes(
        rec("cdp", *ws_open("cdp"), o("cdp", "ws_closed", 1.2)),
        rec("caddy", o("caddy", "proxy_reload", 2.5, key=None, text="shutting down apps, then terminating")),
    )
    assert all(c.kind != "server_going_away" for c in found)
