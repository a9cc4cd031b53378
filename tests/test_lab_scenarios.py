"""tearline.lab.scenarios: each scenario records real evidence holding the raw signature of its cause.

Every scenario runs once per session (``scenario_bundle`` caches it) with Caddy and
both mitmdump legs, and its files are checked for what Chromium, Caddy, the
back end and the captures actually showed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest

from tearline.capture import read_capture
from tearline.errors import UsageError
from tearline.events import event_to_dict
from tearline.lab.scenarios import SCENARIOS, EvidenceBundle, ScenarioSkipped, record_scenario
from tests.test_lab_browser import netlog_events

pytestmark = [pytest.mark.browser, pytest.mark.caddy, pytest.mark.slow]

GetBundle = Callable[..., EvidenceBundle]


class Files:
    """Parsed views of one bundle's files."""

    def __init__(self, bundle: EvidenceBundle) -> None:
        self.b = bundle

    @cached_property
    def console(self) -> str:
        return self.b.console.read_text()

    @cached_property
    def caddy(self) -> list[dict[str, Any]]:
        assert self.b.caddy_log is not None
        return [json.loads(x) for x in self.b.caddy_log.read_text().splitlines() if x.strip()]

    def caddy_msgs(self, uri_part: str) -> list[tuple[str, str, Any]]:
        """(msg, error, status) of Caddy's lines about requests whose URI contains ``uri_part``."""
        return [
            (x["msg"], x.get("error", ""), x.get("status"))
            for x in self.caddy
            if uri_part in x.get("request", {}).get("uri", "")
        ]

    @cached_property
    def backend(self) -> list[dict[str, Any]]:
        return [json.loads(x) for x in self.b.backend_log.read_text().splitlines()]

    def capture(self, leg: str) -> list[dict[str, Any]]:
        path = {
            "browser": self.b.out_dir / "capture-browser.jsonl",
            "backend": self.b.out_dir / "capture-backend.jsonl",
        }[leg]
        assert path in self.b.captures
        return [event_to_dict(e) for e in read_capture(path).events]

    def of_type(self, leg: str, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.capture(leg) if e.get("type") == kind]

    def agent_body_end(self, leg: str) -> dict[str, Any]:
        """The body_end of the /agent/run POST on ``leg``."""
        streams = {
            e["stream"]
            for e in self.of_type(leg, "http_request")
            if "/agent/run" in e["url"] and e["method"] == "POST"
        }
        (end,) = [e for e in self.of_type(leg, "body_end") if e.get("stream") in streams]
        return end

    @cached_property
    def netlog(self) -> list[tuple[str, str, dict[str, Any], int]]:
        return netlog_events(self.b.netlog)

    def netlog_sources(self, url_part: str) -> set[int]:
        return {
            s for name, _, p, s in self.netlog if name == "REQUEST_ALIVE" and url_part in p.get("url", "")
        }

    def netlog_on(self, url_part: str) -> list[tuple[str, str, dict[str, Any]]]:
        ids = self.netlog_sources(url_part)
        return [(name, phase, p) for name, phase, p, s in self.netlog if s in ids]

    @cached_property
    def cdp(self) -> list[dict[str, Any]]:
        return [json.loads(x) for x in self.b.cdp.read_text().splitlines()]


def files(get: GetBundle, name: str, **setup: bool) -> Files:
    try:
        bundle = get(name, **setup)
    except ScenarioSkipped as e:
        pytest.skip(str(e))
    assert bundle.expected_kind == SCENARIOS[name].expected_kind
    for p in (bundle.netlog, bundle.cdp, bundle.har, bundle.console):
        assert p.exists() and p.stat().st_size > 0, p
    assert bundle.backend_log.exists()  # empty when the agent was down
    json.loads(bundle.netlog.read_text())  # complete NetLog
    assert len(bundle.captures) == 2 or SCENARIOS[name].ai_down
    saved = json.loads((bundle.out_dir / "bundle.json").read_text())
    assert saved["expected_kind"] == bundle.expected_kind and saved["captures"] == [
        str(p) for p in bundle.captures
    ]
    return Files(bundle)


def test_unknown_scenario_and_missing_caddy_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"unknown scenario 'nope'.*client_navigation"):
        record_scenario("nope", tmp_path)
    with pytest.raises(ScenarioSkipped, match="needs Caddy"):
        record_scenario("proxy_timeout", tmp_path, caddy=False)


def test_clean_close(scenario_bundle: GetBundle) -> None:
    f = files(scenario_bundle, "clean_close")
    assert "sse done after 10 deltas" in f.console
    assert "ws closed code=1000 reason=run finished wasClean=true" in f.console
    assert not any(m == "aborting with incomplete response" for m, _, _ in f.caddy_msgs("/agent/run"))
    assert f.agent_body_end("browser")["complete"] is True
    (close,) = f.of_type("browser", "ws_close")
    assert (close["code"], close["closed_by"], close["frame"]) == (1000, "server", True)
    assert any(n == "WEBSOCKET_RECV_FRAME_HEADER" and p["opcode"] == 8 for n, _, p in f.netlog_on("/ws?"))


def test_client_navigation_the_incident(scenario_bundle: GetBundle) -> None:
    f = files(scenario_bundle, "client_navigation")
    assert "docs page loaded" in f.console
    assert "sse done" not in f.console and "ws closed" not in f.console  # the page was gone
    # NetLog: the fetch is CANCELLED (no net_error: ERR_ABORTED is implicit), the WebSocket sent a close frame
    run = f.netlog_on("/agent/run")
    assert ("CANCELLED", "PHASE_NONE", {}) in run
    assert any(n == "WEBSOCKET_SENT_FRAME_HEADER" and p["opcode"] == 8 for n, _, p in f.netlog_on("/ws?"))
    # the navigation itself
    assert any(
        e["method"] == "Page.frameNavigated" and "/docs.html" in e["params"]["frame"]["url"] for e in f.cdp
    )
    # Caddy: the client went away after the headers
    assert ("aborting with incomplete response", "reading: context canceled", None) in f.caddy_msgs(
        "/agent/run"
    )
    assert [
        x.get("duration")
        for x in f.caddy
        if x["msg"] == "handled request" and x.get("status") == 200 and "/agent/run" in x["request"]["uri"]
    ] == [0]
    # captures: 1001 from the browser on both legs, the SSE body cut by the client
    for leg in ("browser", "backend"):
        (close,) = f.of_type(leg, "ws_close")
        assert (close["code"], close["closed_by"]) == (1001, "client")
        end = f.agent_body_end(leg)
        assert end["complete"] is False and end["how"] == "cut"
    assert {"client closed", "client went away"} <= {e["msg"] for e in f.backend}


def test_renderer_crash_is_error_code_11_and_looks_like_a_navigation_on_the_wire(
    scenario_bundle: GetBundle,
) -> None:
    f = files(scenario_bundle, "renderer_crash")
    assert "[crash] page crashed" in f.console
    crashes = [e["params"] for e in f.cdp if e["method"] == "Target.targetCrashed"]
    assert crashes and all(c["errorCode"] == 11 and c["status"] == "crashed" for c in crashes)
    assert any(e["method"] == "Inspector.targetCrashed" for e in f.cdp)
    assert not any(
        e["method"] == "Page.frameNavigated" and "/docs.html" in e["params"]["frame"]["url"] for e in f.cdp
    )
    # what the proxy side sees is the same as a navigation: 1001 from the browser, the fetch cancelled
    assert ("CANCELLED", "PHASE_NONE", {}) in f.netlog_on("/agent/run")
    assert ("aborting with incomplete response", "reading: context canceled", None) in f.caddy_msgs(
        "/agent/run"
    )
    (close,) = f.of_type("browser", "ws_close")
    assert (close["code"], close["closed_by"]) == (1001, "client")


def test_client_app_close(scenario_bundle: GetBundle) -> None:
    f = files(scenario_bundle, "client_app_close")
    assert "user pressed Stop" in f.console
    assert "sse failed: AbortError" in f.console
    assert "ws closed code=1000 reason=user stopped wasClean=true" in f.console
    assert any(e["method"] == "Network.loadingFailed" and e["params"].get("canceled") for e in f.cdp)
    assert not any(
        e["method"] == "Page.frameNavigated" and "/docs.html" in e["params"]["frame"]["url"] for e in f.cdp
    )
    (close,) = f.of_type("browser", "ws_close")
    assert (close["code"], close["reason"], close["closed_by"]) == (1000, "user stopped", "client")
    assert ("aborting with incomplete response", "reading: context canceled", None) in f.caddy_msgs(
        "/agent/run"
    )


def test_server_going_away_is_a_caddy_reload(scenario_bundle: GetBundle) -> None:
    f = files(scenario_bundle, "server_going_away")
    assert "ws closed code=1001 reason= wasClean=true" in f.console
    assert any(x["msg"] == "load complete" for x in f.caddy)
    (to_browser,) = f.of_type("browser", "ws_close")
    assert (to_browser["code"], to_browser["closed_by"]) == (1001, "server")
    (to_backend,) = f.of_type("backend", "ws_close")  # Caddy sends 1001 both ways
    assert (to_backend["code"], to_backend["closed_by"]) == (1001, "client")


def test_server_abrupt_close(scenario_bundle: GetBundle) -> None:
    f = files(scenario_bundle, "server_abrupt_close")
    assert "net::ERR_INCOMPLETE_CHUNKED_ENCODING" in f.console
    assert "ws closed code=1006 reason= wasClean=false" in f.console
    assert ("aborting with incomplete response", "reading: unexpected EOF", None) in f.caddy_msgs(
        "/agent/run"
    )
    (close,) = f.of_type("backend", "ws_close")
    assert (close["code"], close["frame"], close["transport_end"]) == (1006, False, "fin")
    assert f.agent_body_end("backend")["complete"] is False
    assert f.agent_body_end("browser")["complete"] is False


def test_connection_reset(scenario_bundle: GetBundle) -> None:
    f = files(scenario_bundle, "connection_reset")
    assert "net::ERR_INCOMPLETE_CHUNKED_ENCODING" in f.console
    assert "ws closed code=1006" in f.console
    assert any("connection reset by peer" in str(e) for _, e, _ in f.caddy_msgs("/agent/run"))
    assert any("connection reset by peer" in str(e) for _, e, _ in f.caddy_msgs("/ws?"))
    resets = [e for e in f.of_type("backend", "conn_close") if e["how"] == "rst"]
    assert len(resets) == 2 and all(e["errno"] == 104 and e["by"] == "peer" for e in resets)
    (close,) = f.of_type("backend", "ws_close")
    assert close["transport_end"] == "rst"


def test_proxy_timeout(scenario_bundle: GetBundle) -> None:
    f = files(scenario_bundle, "proxy_timeout")
    assert "ws closed code=1006 reason= wasClean=false" in f.console
    msgs = f.caddy_msgs("/ws?")
    assert ("stream timed out", "", None) in msgs
    (closed,) = [x for x in f.caddy if x["msg"] == "connection closed"]
    assert 1.9 <= closed["duration"] <= 4.0  # the 2 s stream_timeout, with a stated tolerance
    (close,) = f.of_type("browser", "ws_close")
    assert (close["code"], close["frame"]) == (1006, False)


def test_upstream_unavailable(scenario_bundle: GetBundle) -> None:
    f = files(scenario_bundle, "upstream_unavailable")
    assert "Unexpected response code: 502" in f.console
    assert {s for _, _, s in f.caddy_msgs("/ws?")} >= {502}
    assert {s for _, _, s in f.caddy_msgs("/agent/run")} >= {502}
    assert any("connection refused" in m for m, _, _ in f.caddy_msgs("/ws?"))
    assert sorted(e["status"] for e in f.of_type("browser", "http_response") if e["status"] == 502) == [
        502,
        502,
    ]
    assert f.backend == []  # the agent never saw a request


def test_protocol_error(scenario_bundle: GetBundle) -> None:
    f = files(scenario_bundle, "protocol_error")
    assert "net::ERR_INCOMPLETE_CHUNKED_ENCODING" in f.console
    # the backend-leg mitmdump sees the bad chunk header and cuts the body, so Caddy reads an EOF
    # (without that leg Caddy logs "reading: invalid byte in chunk length")
    assert "illegal chunk header" in f.agent_body_end("backend")["error"]
    assert ("aborting with incomplete response", "reading: unexpected EOF", None) in f.caddy_msgs(
        "/agent/run"
    )
    # mitmproxy on the backend leg rejects the reserved opcode and closes with 1002 both ways
    (close,) = f.of_type("backend", "ws_close")
    assert close["code"] == 1002 and "opcode" in close["reason"].lower()
    assert "ws closed code=1002" in f.console


def test_stall(scenario_bundle: GetBundle) -> None:
    f = files(scenario_bundle, "stall")
    assert "sse stalled: no data for 2000 ms, giving up" in f.console
    assert "ws closed code=4000 reason=stalled wasClean=true" in f.console
    events = f.capture("browser")
    (close,) = [e for e in events if e.get("type") == "ws_close"]
    last_msg = max(
        e["ts"] for e in events if e.get("type") == "ws_message" and e["stream"] == close["stream"]
    )
    assert close["ts"] - last_msg >= 1.9  # silence before the page gave up (2 s watchdog)
    assert close["closed_by"] == "client"


def test_injected_fault(scenario_bundle: GetBundle) -> None:
    f = files(scenario_bundle, "injected_fault")
    assert "ws closed code=4001 reason=tearline injected fault wasClean=true" in f.console
    (fired,) = f.of_type("browser", "fault_fired")
    assert fired["action"] == "close" and fired["params"]["code"] == 4001
    (close,) = f.of_type("browser", "ws_close")
    assert close["code"] == 4001


@pytest.mark.parametrize("name", ["client_navigation", "server_abrupt_close"])
def test_without_caddy_or_proxy(scenario_bundle: GetBundle, name: str) -> None:
    bundle = scenario_bundle(name, caddy=False, proxy=False)
    assert bundle.caddy_log is None and bundle.captures == ()
    console = bundle.console.read_text()
    if name == "client_navigation":
        assert "docs page loaded" in console
        sources = {
            s
            for n, _, p, s in netlog_events(bundle.netlog)
            if n == "REQUEST_ALIVE" and "/agent/run" in p.get("url", "")
        }
        assert any(n == "CANCELLED" and s in sources for n, _, _, s in netlog_events(bundle.netlog))
    else:
        assert "net::ERR_INCOMPLETE_CHUNKED_ENCODING" in console
        assert "ws closed code=1006" in console


def test_module_cli_records_and_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tearline.lab.scenarios import main

    status = main(
        ["--no-caddy", "--no-proxy", "--out", str(tmp_path), "clean_close", "proxy_timeout", "nope"]
    )
    out = capsys.readouterr().out.splitlines()
    assert status == 2
    assert out[0] == f"clean_close: {tmp_path / 'clean_close'} (expected clean_close by server)"
    assert out[1].startswith("  tearline diagnose --netlog ")
    assert out[2].startswith("proxy_timeout: skipped: ") and "needs Caddy" in out[2]
    assert out[3].startswith("Error: unknown scenario 'nope'")
    assert "sse done after 10 deltas" in (tmp_path / "clean_close" / "console.log").read_text()


def test_tls_gives_http2_and_its_own_error(scenario_bundle: GetBundle) -> None:
    """Over HTTPS the page and the fetch use HTTP/2: Caddy's abort becomes an RST_STREAM, not a cut chunked body."""
    bundle = scenario_bundle("server_abrupt_close", proxy=False, tls=True)
    assert bundle.page_url.startswith("https://www.localhost:")
    console = bundle.console.read_text()
    assert "net::ERR_HTTP2_PROTOCOL_ERROR" in console and "ERR_INCOMPLETE_CHUNKED_ENCODING" not in console
    assert "ws closed code=1006 reason= wasClean=false" in console
    assert bundle.caddy_log is not None
    caddy = [json.loads(x) for x in bundle.caddy_log.read_text().splitlines()]
    (abort,) = [x for x in caddy if x["msg"] == "aborting with incomplete response"]
    assert abort["request"]["proto"] == "HTTP/2.0" and abort["error"] == "reading: unexpected EOF"
    (upgrade,) = [x for x in caddy if x["msg"] == "upgrading connection"]
    assert upgrade["request"]["proto"] == "HTTP/1.1"  # Chromium opens the WebSocket over HTTP/1.1
    events = netlog_events(bundle.netlog)
    assert any(name == "HTTP2_SESSION_RECV_RST_STREAM" for name, _, _, _ in events)


def test_recording_twice_into_one_directory_keeps_only_the_second_run(tmp_path: Path) -> None:
    """Caddy and the agent append to their logs; a second recording must not mix the first one in."""
    out = tmp_path / "same"
    first = record_scenario("clean_close", out)
    (out / "notes.txt").write_text("the user's own file")
    (out / "diagnosis.txt").write_text("the first run's diagnosis")
    second = record_scenario("clean_close", out, backend_leg=False)  # no backend leg: one capture
    port = second.page_url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1]
    assert port != first.page_url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1]

    # the captures: only the browser leg this time, with one run's streams
    assert second.captures == (out / "capture-browser.jsonl",)
    assert not (out / "capture-backend.jsonl").exists()
    f = Files(second)
    assert len(f.of_type("browser", "ws_close")) == 1
    runs = [e for e in f.of_type("browser", "http_request") if "/agent/run" in e["url"]]
    assert sorted(e["method"] for e in runs) == ["OPTIONS", "POST"]  # the preflight and the run
    # Caddy: one run's WebSocket and fetch, all addressed to this run's port
    assert [x["msg"] for x in f.caddy].count("upgrading connection") == 1
    hosts = {x["request"]["host"] for x in f.caddy if isinstance(x.get("request"), dict)}
    assert hosts and all(h.endswith(f":{port}") for h in hosts)
    # the agent: one run per transport
    started = [e["transport"] for e in f.backend if e["msg"] == "run started"]
    assert sorted(started) == ["sse", "ws"]
    assert f.console.count("sse done after 10 deltas") == 1
    # stale outputs of the first run are gone; the user's file stays
    assert not (out / "diagnosis.txt").exists()
    assert (out / "notes.txt").read_text() == "the user's own file"
    assert json.loads((out / "bundle.json").read_text())["page_url"] == second.page_url


def test_tls_through_both_legs_relays_the_websocket_drop(scenario_bundle: GetBundle) -> None:
    """Engineer 5's finding: with Caddy on TLS the browser-leg mitmdump delivered the drop as a clean 1000.

    Caddy ends the TLS connection to the browser-leg mitmdump with a close_notify;
    the relay now passes it on, so Chromium sees what it sees from Caddy directly.
    """
    f = files(scenario_bundle, "server_abrupt_close", tls=True)
    assert "ws closed code=1006 reason= wasClean=false" in f.console
    assert "ws closed code=1000" not in f.console
    (close,) = f.of_type("browser", "ws_close")
    relays = [e for e in f.of_type("browser", "relay") if e.get("stream") == close["stream"]]
    assert [(e["leg"], e["observed"], e["action"]) for e in relays] == [("client", "fin", "fin")]
    assert any(
        e["error"] == "TLS close_notify" for e in f.of_type("browser", "conn_close") if e["by"] == "peer"
    )
