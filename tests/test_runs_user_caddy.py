"""A user-style set-up: a plain server and a Caddyfile written here (no bundled app). `tearline run` starts
Caddy from the adapted, rewritten JSON and records both legs without touching the Caddyfile."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tearline.lab.caddy import free_port
from tearline.lab.servers import LabServer
from tearline.runs.user_caddy import listen_ports, rewrite_config, upstream_dials

TEARLINE = str(Path(sys.executable).with_name("tearline"))

ADAPTED = {
    "apps": {
        "http": {
            "servers": {
                "srv0": {
                    "listen": [":8443"],
                    "routes": [
                        {"handle": [{"handler": "subroute", "routes": [{"handle": [
                            {"handler": "reverse_proxy", "upstreams": [{"dial": "127.0.0.1:3000"}]}]}]}]},
                        {"handle": [{"handler": "reverse_proxy", "transport": {"protocol": "http", "tls": {}},
                                     "upstreams": [{"dial": "api.internal:443"}, {"dial": "{env.UP}"}]}]},
                    ],
                }
            }
        }
    }
}  # fmt: skip


def test_rewrite_taps_every_upstream_and_keeps_to_loopback(tmp_path: Path) -> None:
    assert upstream_dials(ADAPTED) == [("127.0.0.1:3000", False), ("api.internal:443", True)]
    assert listen_ports(ADAPTED) == [8443]
    dial_map = {("127.0.0.1:3000", False): "127.0.0.1:5001", ("api.internal:443", True): "127.0.0.1:5002"}
    out = rewrite_config(ADAPTED, dial_map=dial_map, admin_port=2999, log_path=tmp_path / "caddy.log")
    server = out["apps"]["http"]["servers"]["srv0"]
    assert server["listen"] == ["127.0.0.1:8443"] and server["logs"] == {}
    inner = server["routes"][0]["handle"][0]["routes"][0]["handle"][0]
    assert inner["upstreams"] == [{"dial": "127.0.0.1:5001"}]
    tls = server["routes"][1]["handle"][0]
    assert tls["upstreams"] == [
        {"dial": "127.0.0.1:5002"},
        {"dial": "{env.UP}"},
    ]  # placeholders are left alone
    assert tls["transport"]["tls"]["insecure_skip_verify"] is True
    assert out["admin"]["listen"] == "127.0.0.1:2999"
    assert out["logging"]["logs"]["default"]["writer"]["filename"] == str(tmp_path / "caddy.log")
    assert ADAPTED["apps"]["http"]["servers"]["srv0"]["listen"] == [":8443"]  # the input is not modified


PAGE_JS = (
    "window.ws = new WebSocket(`ws://${location.host}/ws?n=200&interval_ms=50`);"
    "fetch('/sse?n=200&interval_ms=50').then(r => { const rd = r.body.getReader();"
    " const pump = () => rd.read().then(x => { if (!x.done) pump(); }); pump(); });"
)


@pytest.mark.browser
@pytest.mark.caddy
@pytest.mark.slow
def test_a_user_caddyfile_is_run_with_both_legs_recorded(tmp_path: Path) -> None:
    port = free_port()
    with LabServer() as server:
        caddyfile = tmp_path / "Caddyfile"
        caddyfile.write_text(
            "{\n\tauto_https off\n}\n\n"
            f"http://app.localhost:{port} {{\n\treverse_proxy 127.0.0.1:{server.port}\n}}\n"
        )
        before = caddyfile.read_text()
        run_file = tmp_path / "mine.toml"
        run_file.write_text(
            f"""
[target]
url = "http://app.localhost:{port}/"
caddyfile = "{caddyfile}"

[[step]]
open = ""
[[step]]
eval = "{PAGE_JS.replace('"', '\\"')}"
[[step]]
wait = {{ messages = 5, url = "/ws" }}
[[step]]
wait = {{ messages = 5, url = "/sse" }}
[[step]]
navigate = "/elsewhere"
[[step]]
wait = 500

[expect]
[[expect.stream]]
url = "/ws"
cause = "client_navigation"
"""
        )
        result = subprocess.run(
            [TEARLINE, "run", str(run_file), "-o", "D"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
        closes = [e for e in server.events() if "close" in e.what or "eof" in e.what.lower()]
    assert result.returncode == 0, result.stdout + result.stderr
    out = tmp_path / "D"
    assert caddyfile.read_text() == before  # the user's file is not edited
    config = json.loads((out / "caddy.json").read_text())
    dial = config["apps"]["http"]["servers"]["srv0"]["routes"][0]["handle"][0]["routes"][0]["handle"][0]
    assert dial["upstreams"][0]["dial"] != f"127.0.0.1:{server.port}"  # Caddy dials the backend tap
    for leg in ("browser", "backend"):
        events = [json.loads(x) for x in (out / f"capture-{leg}.jsonl").read_text().splitlines()]
        assert any(e.get("type") == "ws_message" for e in events), leg
        assert any(e.get("type") == "sse_event" for e in events), leg
    assert any(
        json.loads(x).get("logger", "").startswith("http.log.access")
        for x in (out / "caddy.log").read_text().splitlines()
    )
    diagnosis = json.loads((out / "diagnosis.json").read_text())
    ws = next(s for s in diagnosis["streams"] if s["kind"] == "ws")
    assert ws["cause"]["kind"] == "client_navigation"
    assert "capture#1" in json.dumps(ws["stats"]["ends"])  # the backend leg saw this stream too
    assert closes, "the server saw the WebSocket end"
