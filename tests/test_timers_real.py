"""Idle timers, recorded for real: a proxy's idle timer that cuts idle streams, and keep-alive connections
closed while idle between requests (Caddy's server idle timeout), each named with its value.

Real parts: headless Chromium (NetLog, DevTools, HAR, console), mitmdump + ws_trace on both legs, Caddy
(``.venv/bin/caddy``) and the lab's back end, all on 127.0.0.1. The timers are shortened (2 s, 1 s) so a
test takes seconds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tearline.cli import cli

pytestmark = [pytest.mark.browser, pytest.mark.caddy, pytest.mark.slow, pytest.mark.timeout(600)]


def diagnose_json(args: list[str]) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["diagnose", "--json", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def describe(doc: dict[str, Any]) -> str:
    return "\n".join(
        f"{s['id']} {s['kind']} {s['url']}: {s['cause']['kind']}/{s['cause']['actor']} {s['cause']['summary']}"
        for s in doc["streams"]
    )


@pytest.mark.parametrize("tls", [False, True], ids=["http1", "http2"])
def test_a_proxy_idle_timer_is_named_with_its_recorded_value(tls: bool, tmp_path: Path) -> None:
    """The agent goes silent and the page waits: the browser-leg mitmdump's idle timer (tcp_timeout 2 s)
    cuts both streams. With every source the cause is mitmproxy's timer with the value its capture header
    recorded (2 s, not the backend leg's default 600 s) and the idle time measured; the NetLog alone sees
    only a cut."""
    from tearline.lab.scenarios import record_scenario

    bundle = record_scenario("proxy_idle_timeout", tmp_path / "rec", tls=tls)
    doc = diagnose_json(bundle.diagnose_args())
    ours = [s for s in doc["streams"] if "/agent/" in s["url"] or "/ws" in s["url"]]
    assert sorted(s["kind"] for s in ours) == ["sse", "ws"], describe(doc)
    for s in ours:
        c = s["cause"]
        assert (c["kind"], c["actor"], s["outcome"]) == ("proxy_timeout", "proxy", "fault"), describe(doc)
        d = c["details"]
        assert "tcp_timeout" in d["timer"] and d["configured"] == 2 and d["clock"] == "idle", d
        assert 1.9 <= d["measured"] <= 4.0, d  # the watchdog's 2 s, on a loaded machine
        assert "configured 2 s (capture.options.tcp_timeout in capture-browser.jsonl)" in c["summary"], c
    alone = diagnose_json(["--netlog", str(bundle.netlog)])
    for s in alone["streams"]:
        if "/agent/" in s["url"] or "/ws" in s["url"]:
            assert (s["cause"]["kind"], s["cause"]["actor"]) == ("server_abrupt_close", "server"), describe(
                alone
            )


@pytest.mark.parametrize("tls", [False, True], ids=["http1", "http2"])
def test_caddy_idle_timeout_closes_idle_keepalive_connections(tls: bool, tmp_path: Path) -> None:
    """Caddy's server idle timeout (``timeouts idle 1s``) closes the browser's keep-alive connection while
    the page sits idle. HTTP/1.1: Chrome finds it closed when it next needs one ("Remote side closed
    connection"; the idle time is an upper bound). HTTP/2: Caddy sends GOAWAY NO_ERROR with no stream open
    (the idle time is exact). That ends a connection between requests, never a stream: the diagnosis says
    so in a note and names the configured timer with ``--caddy-config``."""
    from tearline.analysis.evidence.netlog.interpreter import load_netlog

    from tearline.lab.browser import record_browser
    from tearline.lab.caddy import CaddySite, run_caddy
    from tearline.lab.incident.backend import run_backend

    with run_backend(tmp_path / "backend.log") as backend:
        sites = [CaddySite(host="www.localhost", upstream=backend.address, idle_timeout=1.0)]
        with (
            run_caddy(sites, tmp_path, tls=tls) as caddy,
            record_browser(tmp_path, ignore_https_errors=tls) as browser,
        ):
            browser.page.goto(caddy.url("www.localhost", "/docs.html"))
            browser.pump(3.0)  # idle, well past Caddy's 1 s
            browser.page.goto(caddy.url("www.localhost", "/index.html"))
            browser.pump(0.5)
            rec = browser.recording
    kind = "h2_goaway" if tls else "socket_closed"
    closed = [o for o in load_netlog(rec.netlog).observations if o.kind == kind and o.by == "peer"]
    assert closed, f"Chrome logged no idle connection the server closed ({kind})"
    assert all(o.how == "fin" and o.duration is not None for o in closed), closed
    if tls:
        assert all(abs((o.duration or 0) - 1.0) <= 0.3 for o in closed), closed  # the GOAWAY: exact
    else:
        assert all((o.duration or 0) >= 1.0 for o in closed), closed  # Chrome looked later: at most
        assert any("Remote side closed connection" in (o.text or "") for o in closed)

    doc = diagnose_json(["--netlog", str(rec.netlog), "--caddy-config", str(caddy.config_path)])
    notes = [n for n in doc["notes"] if "idle" in n and "server" in n and "closed" in n]
    assert len(notes) == 1, doc["notes"]
    assert "Caddy server idle_timeout (1 s, config" in notes[0] and "no stream was open" in notes[0]
    assert ("GOAWAY" in notes[0]) == tls, notes[0]
    assert not [s for s in doc["streams"] if s["outcome"] == "fault"], describe(doc)
    alone = diagnose_json(["--netlog", str(rec.netlog)])
    (note,) = [n for n in alone["notes"] if "idle" in n and "server" in n and "closed" in n]
    assert "no known keep-alive timer" in note
