"""The done criterion: `tearline diagnose` names the right cause for a REAL Chromium + Caddy recording
of each cause kind, from the NetLog alone where the NetLog can tell, and with every source.

Each scenario is recorded once per test session by engineer 5's lab
(`tearline.lab.scenarios.record_scenario`): headless Chromium (NetLog in
Everything mode, CDP, console, HAR) -> mitmdump + ws_trace -> Caddy ->
mitmdump + ws_trace -> the incident back end.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from tearline.analysis.diagnose.model import EXPECTED_KINDS

from tearline.cli import cli
from tests.timer_cases import TIMER_CASES, check_stream

pytestmark = [pytest.mark.browser, pytest.mark.caddy, pytest.mark.slow, pytest.mark.timeout(600)]

SCENARIO_NAMES = (
    "clean_close",
    "client_navigation",
    "client_app_close",
    "server_going_away",
    "server_abrupt_close",
    "connection_reset",
    "proxy_timeout",
    "proxy_read_timeout",
    "server_write_timeout",
    "server_read_timeout",
    "stream_close_delay",
    "proxy_idle_timeout",
    "upstream_unavailable",
    "protocol_error",
    "in_band_error",
    "stall",
    "injected_fault",
)

# What the NetLog alone says, where it differs from the full answer (None: it cannot tell at all).
NETLOG_ALONE: dict[str, tuple[str, str] | None] = {
    # a Caddy config reload looks like the server's own 1001 from the browser
    "server_going_away": ("server_going_away", "server"),
    # Caddy's stream_timeout (2 s) is no well-known value; only Caddy's log or a header names the timer
    "proxy_timeout": None,
    # the backend's RST stops at Caddy; the browser sees a cut body or a 1006
    "connection_reset": ("server_abrupt_close", "server"),
    # the browser sees a close 4001 from "the server": only the capture knows tearline sent it
    "injected_fault": None,
    # Caddy's timers cut the body or the connection: the browser sees the cut, not the deadline (both streams
    # of proxy_read_timeout end at one moment, one event: no repeating duration either)
    "proxy_read_timeout": ("server_abrupt_close", "server"),
    "server_write_timeout": ("server_abrupt_close", "server"),
    # Caddy's server read_timeout resets the request while its body is still being uploaded: the browser's
    # POST fails before response headers (an HTTP/2 RST_STREAM), which the NetLog alone sets aside as a
    # request that was not a stream
    "server_read_timeout": None,
    # a 1001 three seconds after a reload: only the Caddy log and its config tie them
    "stream_close_delay": ("server_going_away", "server"),
    # mitmproxy's idle timer (tcp_timeout 2 s) on the browser leg cuts both idle streams at one moment: the
    # browser sees a cut body and a 1006; only the capture's conn_close (or its recorded option) names it
    "proxy_idle_timeout": ("server_abrupt_close", "server"),
    # the RUN_ERROR is inside a body that completed: only a recorder with payloads (or data_type) reads it
    "in_band_error": ("clean_close", "server"),
}
# Where the NetLog alone does not see the scenario's stream at all: a POST that failed before response
# headers is set aside as a request that was not a stream ("1 not a streaming request" in the notes).
NETLOG_UNSEEN = {"server_read_timeout"}
# Per stream kind, where the NetLog tells one stream but not the other.
NETLOG_ALONE_BY_KIND: dict[tuple[str, str], tuple[str, str]] = {
    # bad chunk framing is caught by the proxy in front, which cuts the body: the browser sees only the cut
    ("protocol_error", "sse"): ("server_abrupt_close", "server"),
}

_recordings: dict[str, Any] = {}


@pytest.fixture(scope="module")
def lab_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("scenarios")


def recording(name: str, lab_dir: Path) -> Any:
    from tearline.lab.scenarios import SCENARIOS, ScenarioSkipped, record_scenario

    if name not in _recordings:
        try:
            # a row that exists over HTTP/2 only (a streamed upload) is recorded over HTTP/2
            tls = SCENARIOS[name].tls_only is not None
            _recordings[name] = record_scenario(name, lab_dir / name, tls=tls)
        except ScenarioSkipped as e:
            _recordings[name] = e
    found = _recordings[name]
    if isinstance(found, Exception):
        pytest.skip(str(found))
    return found


def diagnose_json(args: list[str]) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["diagnose", "--json", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def streams_of(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The scenario's own streams (the page's SSE run and WebSocket), not other requests."""
    found = [s for s in doc["streams"] if "/agent/" in s["url"] or "/ws" in s["url"]]
    assert found, doc
    return found


def describe(doc: dict[str, Any]) -> str:
    return "\n".join(
        f"{s['id']} {s['kind']} {s['url']}: {s['cause']['kind']}/{s['cause']['actor']} {s['cause']['summary']}"
        for s in doc["streams"]
    )


@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_every_source(name: str, lab_dir: Path) -> None:
    bundle = recording(name, lab_dir)
    doc = diagnose_json(bundle.diagnose_args())
    expected = (bundle.expected_kind, bundle.expected_actor)
    for s in streams_of(doc):
        assert (s["cause"]["kind"], s["cause"]["actor"]) == expected, describe(doc)
        assert s["cause"]["evidence"], s
        if name in TIMER_CASES:  # the timer's name, configured value, clock and measured duration
            check_stream(s, TIMER_CASES[name], describe(doc))
    assert len({src["name"] for src in doc["sources"]}) >= 5
    # a navigation, the page's own close and a clean finish are expected ends; a crash and the rest are faults
    fault = bundle.scenario == "renderer_crash" or bundle.expected_kind not in EXPECTED_KINDS
    for s in streams_of(doc):
        assert s["outcome"] == ("fault" if fault else "expected"), describe(doc)
    assert (doc["first_abnormal"] is not None) == fault


def stream_kinds(doc: dict[str, Any]) -> dict[str, set[str]]:
    """url -> the stream kinds diagnosed for it."""
    out: dict[str, set[str]] = {}
    for s in streams_of(doc):
        out.setdefault(s["url"], set()).add(s["kind"])
    return out


def event_stream_urls(har: Path) -> set[str]:
    """URLs whose response the browser's HAR records as ``text/event-stream``."""
    entries = json.loads(har.read_text())["log"]["entries"]
    return {
        e["request"]["url"]
        for e in entries
        if "text/event-stream" in (e.get("response", {}).get("content", {}).get("mimeType") or "")
    }


@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_netlog_alone(name: str, lab_dir: Path) -> None:
    bundle = recording(name, lab_dir)
    expected = NETLOG_ALONE.get(name, (bundle.expected_kind, bundle.expected_actor))
    doc = diagnose_json(["--netlog", str(bundle.netlog)])
    if name in NETLOG_UNSEEN:
        assert not [s for s in doc["streams"] if "/agent/" in s["url"] or "/ws" in s["url"]], describe(doc)
        assert any("not a streaming request" in n for n in doc["notes"]), doc["notes"]
        return
    # the NetLog's content-type makes a fetch() of text/event-stream an sse stream, as with every source
    kinds, every = stream_kinds(doc), stream_kinds(diagnose_json(bundle.diagnose_args()))
    assert {u: every.get(u) for u in kinds} == kinds, describe(doc)
    from tearline.lab.scenarios import SCENARIOS

    checked = event_stream_urls(bundle.har) & kinds.keys()
    for url in checked:
        assert kinds[url] == {"sse"}, describe(doc)
    sc = SCENARIOS[name]
    assert bool(checked) == ("sse" in sc.streams and not sc.ai_down), (checked, describe(doc))
    for s in streams_of(doc):
        got = (s["cause"]["kind"], s["cause"]["actor"])
        want = NETLOG_ALONE_BY_KIND.get((name, s["kind"]), expected)
        if want is None:
            # the NetLog cannot name this cause; it must not claim it either
            assert got[0] != bundle.expected_kind, describe(doc)
        else:
            assert got == want, describe(doc)


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) from /proc."""
    out: dict[int, tuple[int, str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        out[int(entry)] = (ppid, cmd)
    return out


def segfault_renderers(netlog: Path) -> list[int]:
    """Send SIGSEGV to the renderers of the one Chromium that writes ``netlog`` (this test's own).

    That is the incident's sad tab: "Error code: 11" is a renderer killed by signal 11.
    """
    procs = _processes()
    roots = {pid for pid, (_, cmd) in procs.items() if f"--log-net-log={netlog}" in cmd}
    family = set(roots)
    grew = True
    while grew:
        grew = False
        for pid, (ppid, _) in procs.items():
            if ppid in family and pid not in family:
                family.add(pid)
                grew = True
    renderers = [pid for pid in family if "--type=renderer" in procs[pid][1]]
    for pid in renderers:
        os.kill(pid, signal.SIGSEGV)
    return renderers


def test_renderer_crash_mid_stream_is_named_from_devtools_and_netlog(tmp_path: Path) -> None:
    """The incident's 'Error code: 11' page: the renderer dies of SIGSEGV mid-stream.

    Not a lab scenario (no cause kind of its own): a crash is reported as the
    browser tearing the streams down (client_navigation) with the crash named,
    and a note that it is a browser crash, not a network error.
    """
    from tearline.lab.browser import record_browser
    from tearline.lab.caddy import CaddySite, run_caddy
    from tearline.lab.incident.backend import run_backend

    with run_backend(tmp_path / "backend.log") as backend:
        sites = [
            CaddySite(host="www.localhost", upstream=backend.address),
            CaddySite(host="ai.localhost", upstream=backend.address),
        ]
        with run_caddy(sites, tmp_path) as caddy, record_browser(tmp_path) as browser:
            browser.page.goto(caddy.url("www.localhost", "/chat.html?sse=finish&ws=finish&deltas=100"))
            browser.wait_for_console("sse delta #3", timeout=60)
            killed = segfault_renderers(browser.recording.netlog)
            assert killed, "found no renderer of this test's Chromium"
            time.sleep(1.5)
            rec = browser.recording
    doc = diagnose_json(
        ["--cdp", str(rec.cdp), "--netlog", str(rec.netlog), "--caddy-log", str(caddy.log_path)]
    )
    crash_notes = [n for n in doc["notes"] if "renderer crashed" in n]
    assert len(crash_notes) == 1 and "'Error code: 11' (SIGSEGV)" in crash_notes[0], doc["notes"]
    for s in streams_of(doc):
        assert (s["cause"]["kind"], s["cause"]["actor"]) == ("client_navigation", "browser"), describe(doc)
        assert "crash" in s["cause"]["summary"]


# What each source ALONE names, per scenario: "<stream kind>:<cause>/<actor>" for each of the scenario's
# streams that source sees, sorted ("" = it sees none). Measured on real recordings; docs/diagnosis.md
# ("What each source alone can tell") shows the same table.
SINGLE_SOURCE: dict[str, dict[str, str]] = {
    "clean_close": {
        "netlog": "sse:clean_close/server ws:clean_close/server",
        "cdp": "sse:clean_close/server ws:unknown/unknown",
        "har": "sse:clean_close/server ws:unknown/unknown",
        "console": "",
        "caddy": "ws:unknown/unknown",
        "capture-browser": "sse:clean_close/server ws:clean_close/server",
        "capture-backend": "sse:clean_close/server ws:clean_close/server",
        "captures": "sse:clean_close/server ws:clean_close/server",
    },
    "client_app_close": {
        "netlog": "sse:client_app_close/page ws:client_app_close/page",
        "cdp": "sse:client_app_close/page ws:unknown/unknown",
        "har": "sse:client_app_close/page ws:unknown/unknown",
        "console": "",
        "caddy": "ws:unknown/unknown",
        "capture-browser": "sse:client_app_close/page ws:client_app_close/page",
        "capture-backend": "sse:client_app_close/page ws:client_app_close/page",
        "captures": "sse:client_app_close/page ws:client_app_close/page",
    },
    "client_navigation": {
        "netlog": "sse:client_navigation/browser ws:client_navigation/browser",
        "cdp": "sse:client_navigation/browser ws:client_navigation/browser",
        "har": "sse:client_app_close/page ws:unknown/unknown",
        "console": "",
        "caddy": "ws:unknown/unknown",
        "capture-browser": "sse:client_app_close/page ws:client_navigation/browser",
        "capture-backend": "sse:client_app_close/page ws:client_navigation/browser",
        "captures": "sse:client_app_close/page ws:client_navigation/browser",
    },
    "connection_reset": {
        "netlog": "sse:server_abrupt_close/server ws:server_abrupt_close/server",
        "cdp": "sse:server_abrupt_close/server ws:unknown/unknown",
        "har": "sse:server_abrupt_close/server ws:unknown/unknown",
        "console": "",
        "caddy": "ws:connection_reset/server",
        "capture-browser": "sse:server_abrupt_close/server ws:server_abrupt_close/server",
        "capture-backend": "sse:connection_reset/server ws:connection_reset/server",
        "captures": "sse:connection_reset/server ws:connection_reset/server",
    },
    "injected_fault": {
        "netlog": "ws:clean_close/server",
        "cdp": "ws:unknown/unknown",
        "har": "ws:unknown/unknown",
        "console": "",
        "caddy": "ws:unknown/unknown",
        "capture-browser": "ws:injected_fault/tearline",
        "capture-backend": "ws:server_abrupt_close/server",
        "captures": "ws:injected_fault/tearline",
    },
    "protocol_error": {
        "netlog": "sse:server_abrupt_close/server ws:protocol_error/server",
        "cdp": "sse:server_abrupt_close/server ws:unknown/unknown",
        "har": "sse:server_abrupt_close/server ws:unknown/unknown",
        "console": "",
        "caddy": "ws:unknown/unknown",
        "capture-browser": "sse:server_abrupt_close/server ws:protocol_error/server",
        "capture-backend": "sse:protocol_error/server ws:protocol_error/server",
        "captures": "sse:protocol_error/server ws:protocol_error/server",
    },
    "proxy_timeout": {
        "netlog": "ws:server_abrupt_close/server",
        "cdp": "ws:unknown/unknown",
        "har": "ws:unknown/unknown",
        "console": "",
        "caddy": "ws:proxy_timeout/proxy",
        "capture-browser": "ws:server_abrupt_close/server",
        "capture-backend": "ws:server_abrupt_close/server",
        "captures": "ws:server_abrupt_close/server",
    },
    "proxy_read_timeout": {
        "netlog": "sse:server_abrupt_close/server ws:server_abrupt_close/server",
        "cdp": "sse:server_abrupt_close/server ws:stall/server",
        "har": "sse:server_abrupt_close/server ws:unknown/unknown",
        "console": "",
        "caddy": "ws:proxy_timeout/proxy",
        "capture-browser": "sse:server_abrupt_close/server ws:server_abrupt_close/server",
        "capture-backend": "sse:stall/server ws:server_abrupt_close/server",
        "captures": "sse:server_abrupt_close/server ws:server_abrupt_close/server",
    },
    "server_write_timeout": {
        "netlog": "sse:server_abrupt_close/server",
        "cdp": "sse:server_abrupt_close/server",
        "har": "sse:server_abrupt_close/server",
        "console": "",
        "caddy": "",
        "capture-browser": "sse:server_abrupt_close/server",
        "capture-backend": "sse:client_app_close/page",
        "captures": "sse:server_abrupt_close/server",
    },
    "proxy_idle_timeout": {
        "netlog": "sse:server_abrupt_close/server ws:server_abrupt_close/server",
        "cdp": "sse:server_abrupt_close/server ws:stall/server",
        "har": "sse:server_abrupt_close/server ws:unknown/unknown",
        "console": "",
        "caddy": "ws:unknown/unknown",
        "capture-browser": "sse:proxy_timeout/proxy ws:proxy_timeout/proxy",
        "capture-backend": "sse:stall/server ws:stall/server",
        "captures": "sse:proxy_timeout/proxy ws:proxy_timeout/proxy",
    },
    "in_band_error": {
        "netlog": "sse:clean_close/server",
        "cdp": "sse:clean_close/server",
        "har": "sse:clean_close/server",
        "console": "",
        "caddy": "",
        "capture-browser": "sse:in_band_error/server",
        "capture-backend": "sse:in_band_error/server",
        "captures": "sse:in_band_error/server",
    },
    "server_read_timeout": {  # over HTTP/2: the POST fails before response headers
        "netlog": "",
        "cdp": "",
        "har": "",
        "console": "",
        "caddy": "",
        "capture-browser": "sse:connection_reset/server",
        "capture-backend": "sse:server_abrupt_close/server",
        "captures": "sse:connection_reset/server",
    },
    "stream_close_delay": {
        "netlog": "ws:server_going_away/server",
        "cdp": "ws:unknown/unknown",
        "har": "ws:unknown/unknown",
        "console": "",
        "caddy": "ws:unknown/unknown",
        "capture-browser": "ws:server_going_away/server",
        "capture-backend": "ws:client_navigation/browser",
        "captures": "ws:server_going_away/server",
    },
    "renderer_crash": {
        "netlog": "sse:client_app_close/page ws:client_navigation/browser",
        "cdp": "sse:client_navigation/browser ws:client_navigation/browser",
        "har": "sse:clean_close/server ws:unknown/unknown",
        "console": "",
        "caddy": "ws:unknown/unknown",
        "capture-browser": "sse:client_app_close/page ws:client_navigation/browser",
        "capture-backend": "sse:client_app_close/page ws:client_navigation/browser",
        "captures": "sse:client_app_close/page ws:client_navigation/browser",
    },
    "server_abrupt_close": {
        "netlog": "sse:server_abrupt_close/server ws:server_abrupt_close/server",
        "cdp": "sse:server_abrupt_close/server ws:unknown/unknown",
        "har": "sse:server_abrupt_close/server ws:unknown/unknown",
        "console": "",
        "caddy": "ws:unknown/unknown",
        "capture-browser": "sse:server_abrupt_close/server ws:server_abrupt_close/server",
        "capture-backend": "sse:server_abrupt_close/server ws:server_abrupt_close/server",
        "captures": "sse:server_abrupt_close/server ws:server_abrupt_close/server",
    },
    "server_going_away": {
        "netlog": "ws:server_going_away/server",
        "cdp": "ws:unknown/unknown",
        "har": "ws:unknown/unknown",
        "console": "",
        "caddy": "ws:unknown/unknown",
        "capture-browser": "ws:server_going_away/server",
        "capture-backend": "ws:client_navigation/browser",
        "captures": "ws:server_going_away/server",
    },
    "stall": {
        "netlog": "sse:stall/server ws:stall/server",
        "cdp": "sse:stall/server ws:stall/server",
        "har": "sse:client_app_close/page ws:unknown/unknown",
        "console": "",
        "caddy": "ws:unknown/unknown",
        "capture-browser": "sse:stall/server ws:stall/server",
        "capture-backend": "sse:stall/server ws:stall/server",
        "captures": "sse:stall/server ws:stall/server",
    },
    "upstream_unavailable": {
        "netlog": "http-stream:upstream_unavailable/server ws:upstream_unavailable/server",
        "cdp": "http-stream:upstream_unavailable/server ws:upstream_unavailable/server",
        "har": "ws:upstream_unavailable/server",
        "console": "",
        "caddy": "http-stream:upstream_unavailable/server http-stream:upstream_unavailable/server",
        "capture-browser": "http-stream:upstream_unavailable/server http-stream:upstream_unavailable/server",
    },
}


def single_source_args(bundle: Any, source: str) -> list[str] | None:
    """``tearline diagnose`` arguments for one source of ``bundle``; None when the scenario has no such file."""
    d = bundle.out_dir
    files = {
        "netlog": ["--netlog", bundle.netlog],
        "cdp": ["--cdp", bundle.cdp],
        "har": ["--har", bundle.har],
        "console": ["--console", bundle.console],
        "caddy": ["--caddy-log", bundle.caddy_log],
        "capture-browser": [d / "capture-browser.jsonl"],
        "capture-backend": [d / "capture-backend.jsonl"],
        "captures": [d / "capture-browser.jsonl", d / "capture-backend.jsonl"],
    }[source]
    paths = [a for a in files if not isinstance(a, str)]
    if not all(p is not None and Path(p).exists() for p in paths):
        return None
    return [str(a) for a in files]


@pytest.mark.parametrize("name", sorted(SINGLE_SOURCE))
def test_each_source_alone(name: str, lab_dir: Path) -> None:
    """docs/diagnosis.md's table of what each source alone can and cannot tell, checked."""
    bundle = recording(name, lab_dir)
    for source in (
        "netlog",
        "cdp",
        "har",
        "console",
        "caddy",
        "capture-browser",
        "capture-backend",
        "captures",
    ):
        args = single_source_args(bundle, source)
        want = SINGLE_SOURCE[name].get(source)
        if args is None:
            assert want is None, (source, "file missing")
            continue
        doc = diagnose_json(args)
        ours = [s for s in doc["streams"] if "/agent/" in s["url"] or "/ws" in s["url"]]
        got = " ".join(sorted(f"{s['kind']}:{s['cause']['kind']}/{s['cause']['actor']}" for s in ours))
        assert got == want, f"{source} alone: {got!r}, docs say {want!r}\n{describe(doc)}"
