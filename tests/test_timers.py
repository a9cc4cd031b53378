"""Naming the timer that ended a stream: Caddy's configuration (a real ``caddy adapt``), clocks, repeats."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from tearline.analysis.diagnose.diagnosis import diagnose
from tearline.analysis.evidence.caddyconfig import load_caddy_config, parse_duration
from tearline.analysis.evidence.timers import DEFAULT_TIMERS, INFERENCE, Timer

from tearline.cli import cli
from tearline.errors import InputError
from tests.test_rules import SSE, WS, o, rec, sse_open, ws_open

CADDYFILE = """\
{
\tservers {
\t\ttimeouts {
\t\t\twrite 7s
\t\t}
\t}
}
http://ai.localhost:8080 {
\thandle /agent/* {
\t\treverse_proxy 127.0.0.1:9000 {
\t\t\tstream_timeout 4s
\t\t\tstream_close_delay 5s
\t\t\ttransport http {
\t\t\t\tread_timeout 3s
\t\t\t}
\t\t}
\t}
\treverse_proxy 127.0.0.1:9001
}
"""


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("5s", 5.0),
        ("1m30s", 90.0),
        ("500ms", 0.5),
        ("1d", 86400.0),
        (2_000_000_000, 2.0),
        ("x", None),
        ("", None),
    ],
)
def test_caddy_durations(value: object, seconds: float | None) -> None:
    assert parse_duration(value) == seconds


def test_caddyfile_timers_per_route(tmp_path: Path) -> None:
    """The real caddy binary adapts the Caddyfile; each timeout keeps its route, port and clock."""
    p = tmp_path / "Caddyfile"
    p.write_text(CADDYFILE)
    timers = {(t.name, t.route): t for t in load_caddy_config(p)}
    read = timers[("Caddy reverse_proxy transport read_timeout", ("/agent/*",))]
    assert (read.seconds, read.clock, read.ports, read.inferred_from) == (
        3.0,
        "server_idle",
        (8080,),
        "config",
    )
    assert timers[("Caddy reverse_proxy stream_timeout", ("/agent/*",))].clock == "open"
    assert timers[("Caddy reverse_proxy stream_close_delay", ("/agent/*",))].clock == "reload"
    assert timers[("Caddy server write_timeout", ())].seconds == 7.0
    assert timers[("Caddy server idle_timeout", ())].seconds == 300.0  # Caddy's default when unset
    assert ("Caddy reverse_proxy transport read_timeout", ()) not in timers  # the catch-all route has none


def test_caddy_json_config_and_bad_input(tmp_path: Path) -> None:
    doc = {
        "apps": {
            "http": {
                "servers": {
                    "s": {
                        "listen": [":8080"],
                        "routes": [
                            {
                                "match": [{"path": ["/ws"]}],
                                "handle": [{"handler": "reverse_proxy", "stream_timeout": 2_000_000_000}],
                            }
                        ],
                    }
                }
            }
        }
    }
    p = tmp_path / "caddy.json"
    p.write_text(json.dumps(doc))
    (st,) = [t for t in load_caddy_config(p) if t.name.endswith("stream_timeout")]
    assert (st.seconds, st.route) == (2.0, ("/ws",))
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(InputError, match="not JSON"):
        load_caddy_config(bad)
    broken = tmp_path / "Caddyfile"
    broken.write_text("http://x {\n\treverse_proxy {\n")
    with pytest.raises(InputError, match="caddy adapt"):
        load_caddy_config(broken)


def _config_timer(name: str, seconds: float, clock: str, route: tuple[str, ...] = ()) -> Timer:
    return Timer(
        name=name, seconds=seconds, clock=clock, inferred_from="config", source="Caddyfile", route=route
    )


def test_a_configured_read_timeout_names_the_silent_upstream() -> None:
    """Data every 0.1 s, then 3.0 s of silence from the server, then a cut body: reverse_proxy read_timeout."""
    records = [
        rec(
            "netlog",
            *sse_open(chunks=5),
            o("netlog", "request_failed", 0.5 + 3.02, error="ERR_INCOMPLETE_CHUNKED_ENCODING", code=-355),
        )
    ]
    timer = _config_timer("Caddy reverse_proxy transport read_timeout", 3.0, "server_idle", ("/agent/*",))
    (s,) = diagnose(records, timers=[timer, *DEFAULT_TIMERS]).streams
    assert (s.cause.kind, s.cause.actor, s.outcome) == ("proxy_timeout", "proxy", "fault")
    d = s.cause.details
    assert (d["timer"], d["clock"], d["configured"], d["inferred_from"]) == (
        timer.name,
        "server_idle",
        3.0,
        "config",
    )
    assert d["measured"] == pytest.approx(3.02, abs=0.01)
    assert "3.0 s of silence from the server" in s.cause.summary and s.cause.confidence == pytest.approx(0.88)
    # the same timer on another route does not apply
    other = _config_timer("Caddy reverse_proxy transport read_timeout", 3.0, "server_idle", ("/other/*",))
    (s,) = diagnose(records, timers=[other]).streams
    assert s.cause.kind != "proxy_timeout"


def test_a_configured_write_timeout_counts_from_the_open() -> None:
    records = [
        rec(
            "netlog",
            *sse_open(chunks=60, every=0.1),
            o("netlog", "request_failed", 7.0, error="ERR_INCOMPLETE_CHUNKED_ENCODING", code=-355),
        )
    ]
    (s,) = diagnose(records, timers=[_config_timer("Caddy server write_timeout", 7.0, "open")]).streams
    assert (s.cause.kind, s.cause.details["clock"], s.cause.details["timer"]) == (
        "proxy_timeout",
        "open",
        "Caddy server write_timeout",
    )


def test_a_duration_repeating_across_streams_is_a_timer() -> None:
    """Two WebSockets cut (1006) after 4.5 s each, no table knows 4.5 s: a timer inferred from repeats."""
    recs = []
    for i, start in enumerate((0.0, 10.0)):
        url = f"{WS}?n={i}"
        recs += [
            o("netlog", "ws_created", start, key=f"w{i}", url=url),
            o("netlog", "ws_open", start + 0.02, key=f"w{i}", status=101),
            o("netlog", "ws_frame_received", start + 0.5, key=f"w{i}", size=10, text="text"),
            o("netlog", "ws_closed", start + 4.5, key=f"w{i}", code=1006, text="unclean"),
        ]
    d = diagnose([rec("netlog", *recs)])
    assert [s.cause.kind for s in d.streams] == ["proxy_timeout", "proxy_timeout"]
    assert {s.cause.details["inferred_from"] for s in d.streams} == {"repeats"}
    assert d.streams[0].cause.confidence < INFERENCE["known default"]


def test_a_page_that_gave_up_on_a_silent_stream_is_a_stall() -> None:
    """The page aborted after 5 s of server silence (usual gap 0.1 s): a stall, the page gave up."""
    records = [
        rec(
            "netlog",
            *sse_open(chunks=10),
            o("netlog", "request_cancelled", 6.0, error="ERR_ABORTED", code=-3),
        )
    ]
    (s,) = diagnose(records).streams
    assert (s.cause.kind, s.cause.details.get("mechanism"), s.outcome) == ("stall", "page gave up", "fault")


def test_diagnose_cli_reads_caddy_config(tmp_path: Path) -> None:
    cfg = tmp_path / "Caddyfile"
    cfg.write_text(CADDYFILE)
    nl = tmp_path / "n.json"
    nl.write_text("{}")
    r = CliRunner().invoke(
        cli, ["diagnose", "--caddy-config", str(tmp_path / "missing"), "--netlog", str(nl)]
    )
    assert r.exit_code == 2 and "--caddy-config file not found" in r.output
    assert SSE.startswith("http://ai.localhost:8080/agent/")


@pytest.mark.browser
@pytest.mark.caddy
@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("tls", [False, True], ids=["http1", "h2-tls"])
@pytest.mark.parametrize(
    ("scenario", "timer", "clock", "seconds"),
    [
        ("proxy_read_timeout", "Caddy reverse_proxy transport read_timeout", "server_idle", 2.0),
        ("server_write_timeout", "Caddy server write_timeout", "open", 3.0),
    ],
)
def test_real_caddy_timers_are_named_with_their_value(
    scenario: str, timer: str, clock: str, seconds: float, tls: bool, scenario_bundle: Any
) -> None:
    """Recorded for real (Chromium, mitmdump, Caddy 2.11, mitmdump, back end), on HTTP/1.1 and HTTP/2 over
    TLS: with every source and the Caddyfile, each stream names the timer, its configured value and a
    measured time that matches it."""
    bundle = scenario_bundle(scenario, tls=tls)
    r = CliRunner().invoke(cli, ["diagnose", "--json", *bundle.diagnose_args()])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    ours = [s for s in doc["streams"] if "/agent/" in s["url"] or "/ws" in s["url"]]
    assert ours, doc
    for s in ours:
        c = s["cause"]
        assert (c["kind"], c["actor"], s["outcome"]) == ("proxy_timeout", "proxy", "fault"), c["summary"]
        d = c["details"]
        assert (d["timer"], d["clock"], d["configured"]) == (timer, clock, seconds), d
        assert abs(d["measured"] - seconds) <= 0.3, d


def test_a_close_a_configured_delay_after_a_reload_is_the_reload() -> None:
    """Caddy's stream_close_delay 3s: the 1001 comes 3 s after the reload, too late for the 2 s window that
    ties a close to a reload by itself; the configured delay ties them."""
    records = [
        rec(
            "netlog",
            *ws_open(frames=30),
            o("netlog", "ws_close_received", 4.0, code=1001),
            o("netlog", "ws_closed", 4.01, code=1001, text="clean"),
        ),
        rec("caddy", o("caddy", "proxy_reload", 1.0, key=None, text="config loaded")),
    ]
    (s,) = diagnose(records).streams
    assert (s.cause.kind, s.cause.actor) == ("server_going_away", "server")  # without the config
    delay = _config_timer("Caddy reverse_proxy stream_close_delay", 3.0, "reload")
    (s,) = diagnose(records, timers=[delay]).streams
    assert (s.cause.kind, s.cause.actor) == ("server_going_away", "proxy")
    assert (s.cause.details["timer"], s.cause.details["clock"]) == (delay.name, "reload")
    assert s.cause.details["measured"] == pytest.approx(3.0, abs=0.02)


def test_two_recorders_with_their_own_idle_timer_the_one_that_fits_is_named() -> None:
    """The browser-leg mitmdump ran with tcp_timeout 2, the backend leg with the default 600: the capture's
    own timeout line is named with the value that fits the measured idle time, and the file it came from."""
    capture = rec(
        "capture",
        *sse_open("capture", chunks=5),
        o(
            "capture",
            "proxy_timeout",
            0.5 + 2.05,
            timer="mitmproxy tcp_timeout",
            text="mitmproxy idle timeout",
        ),
        o("capture", "request_failed", 0.5 + 2.06, error="Client disconnected."),
        meta={"options": {"tcp_timeout": 2}},
    )
    backend = rec("capture", *sse_open("capture", chunks=5), meta={"options": {"tcp_timeout": 600}})
    backend.path = "capture-backend.jsonl"
    (s,) = diagnose([capture, backend]).streams
    d = s.cause.details
    assert (s.cause.kind, s.cause.actor, d["configured"], d["clock"]) == (
        "proxy_timeout",
        "proxy",
        2.0,
        "idle",
    )
    assert d["measured"] == pytest.approx(2.06, abs=0.02)
    assert "configured 2 s (capture.options.tcp_timeout in capture.file)" in s.cause.summary


def _pool_close(how: str, by: str, idle: float, timer: str | None = None) -> Any:
    return o(
        "netlog",
        "socket_closed",
        10.0,
        key="5",
        url="http://www.localhost:8080/docs.html",
        how=how,
        by=by,
        duration=idle,
        timer=timer,
    )


def test_idle_connection_notes_name_the_keepalive_timer() -> None:
    from tearline.analysis.diagnose.rules_timer import idle_connection_notes

    server = [_pool_close("fin", "peer", 4.1)]
    configured = _config_timer("Caddy server idle_timeout", 2.0, "between_requests")
    (note,) = idle_connection_notes(server, [configured, *DEFAULT_TIMERS])
    assert "to www.localhost:8080" in note and "at most 4.1 s idle" in note
    assert "Caddy server idle_timeout (2 s, config: Caddyfile) fits" in note and "no stream" in note
    (note,) = idle_connection_notes(server, DEFAULT_TIMERS)
    assert "no known keep-alive timer is that short" in note
    # 7 min idle: Caddy's default 5 min fits; the reverse_proxy keep-alive (2 min) is Caddy's own upstream leg
    (note,) = idle_connection_notes([_pool_close("fin", "peer", 420.0)], DEFAULT_TIMERS)
    assert "Caddy server idle_timeout (default 5m) (300 s, known default) fits" in note
    own = [_pool_close("timeout", "local", 65.2, "Chrome unused idle socket timeout (60 s)")]
    (note,) = idle_connection_notes(own, DEFAULT_TIMERS)
    assert note.startswith("Chrome closed 1 idle connection(s) itself after 65.2 s") and "limit 60 s" in note
    # a socket the pool closed because the browser went away, and stream sockets, say nothing
    assert idle_connection_notes([_pool_close("closed", "local", 1.0)], DEFAULT_TIMERS) == []
    assert (
        idle_connection_notes([o("netlog", "socket_closed", 3.0, how="fin", by="peer")], DEFAULT_TIMERS) == []
    )


def test_upstream_keepalive_and_the_taps_view_of_chromes_own_idle_close() -> None:
    """A recorder between a proxy and its upstream sees its client (the proxy) close a connection 2.0 s
    after its last response: the proxy's configured keep-alive toward the upstream, named with its value;
    without a fitting upstream timer (only the 2 min default), nothing is named. Chrome's own idle close
    is corroborated by a recorder that saw the browser close a connection with no request on it."""
    from tearline.analysis.diagnose.keepalive_notes import upstream_keepalive_notes
    from tearline.analysis.diagnose.rules_timer import idle_connection_notes

    done = o("capture", "request_done", 10.0, key="s1")
    close = o("capture", "socket_closed", 12.02, key="s1", leg="client", by="peer", how="fin")
    keepalive = Timer(
        name="Caddy reverse_proxy keep_alive idle_timeout",
        seconds=2.0,
        clock="between_requests",
        inferred_from="config",
        source="caddy.json: apps.http.servers.srv0.routes[0].handle[0].transport.keep_alive.idle_timeout",
        leg="upstream",
    )
    (note,) = idle_connection_notes([done, close], [keepalive, *DEFAULT_TIMERS])
    assert "closed 1 idle keep-alive connection(s) to its upstream 2.02 s after their last response" in note
    assert "Caddy reverse_proxy keep_alive idle_timeout (2 s, config: caddy.json" in note
    assert upstream_keepalive_notes([close], {"s1": 10.0}, DEFAULT_TIMERS) == []
    # a close by the proxy itself, or one 5 s after the response, is not this timer
    by_proxy = o("capture", "socket_closed", 12.02, key="s1", leg="client", by="proxy", how="closed")
    late = o("capture", "socket_closed", 15.0, key="s1", leg="client", by="peer", how="fin")
    assert upstream_keepalive_notes([by_proxy, late], {"s1": 10.0}, [keepalive]) == []

    own = _pool_close("timeout", "local", 65.2, "Chrome unused idle socket timeout (60 s)")
    tap = o("capture", "socket_closed", 10.4, key=None, leg="client", by="peer", how="fin")
    (note,) = idle_connection_notes([own, tap], DEFAULT_TIMERS)
    assert "saw the browser close 1 connection(s) that carried no request" in note
    far = o("capture", "socket_closed", 40.0, key=None, leg="client", by="peer", how="fin")
    (note,) = idle_connection_notes([own, far], DEFAULT_TIMERS)
    assert "saw the browser" not in note
