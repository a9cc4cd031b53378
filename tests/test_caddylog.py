"""The Caddy log importer on a real Caddy (``.venv/bin/caddy`` via ``tearline.lab.caddy``) in front of
real servers on 127.0.0.1: a complete SSE stream, an upstream that cuts its body, a dead upstream, a
WebSocket closed by a config reload, a WebSocket ended by ``stream_timeout``, a client that leaves."""

from __future__ import annotations

import contextlib
import json
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from tearline.analysis.evidence.caddylog import load_caddy_log, parse_ts
from tearline.analysis.evidence.observation import Observation
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tearline.errors import InputError
from tests.evidence_recording import run_servers


def of(obs: list[Observation], kind: str, url_part: str = "") -> list[Observation]:
    return [o for o in obs if o.kind == kind and url_part in (o.url or "")]


@pytest.fixture(scope="module")
def caddy_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from tearline.lab.caddy import CaddySite, run_caddy

    work = Path(tmp_path_factory.mktemp("caddy"))
    out: dict[str, Any] = {}
    dead = socket.socket()  # bound, never listening: connections to it are refused, nobody can take it
    dead.bind(("127.0.0.1", 0))
    with contextlib.closing(dead), run_servers() as srv:
        sites = [
            CaddySite(host="app.localhost", upstream=f"127.0.0.1:{srv.http_port}"),
            CaddySite(host="ws.localhost", upstream=f"127.0.0.1:{srv.ws_port}"),
            CaddySite(host="wst.localhost", upstream=f"127.0.0.1:{srv.ws_port}", stream_timeout=1.0),
            CaddySite(host="dead.localhost", upstream=f"127.0.0.1:{dead.getsockname()[1]}"),
        ]
        with run_caddy(sites, work) as caddy:

            def get(host: str, path: str) -> int | str:
                req = urllib.request.Request(f"http://127.0.0.1:{caddy.port}{path}", headers={"Host": host})
                try:
                    with urllib.request.urlopen(req, timeout=30) as r:
                        r.read()
                        return int(r.status)
                except urllib.error.HTTPError as e:
                    return int(e.code)
                except Exception as e:  # the cut body
                    return type(e).__name__

            def ws(host: str) -> Any:
                sock = socket.create_connection(("127.0.0.1", caddy.port), timeout=30)
                return connect(f"ws://{host}:{caddy.port}/echo", sock=sock, open_timeout=30)

            out["sse"] = get("app.localhost", "/sse?n=3")
            out["cut"] = get("app.localhost", "/cut")
            out["dead"] = get("dead.localhost", "/x")
            with ws("ws.localhost") as conn:
                conn.send("hi")
                conn.recv(timeout=30)
                out["reload_t"] = time.time()
                caddy.reload()
                with contextlib.suppress(ConnectionClosed, TimeoutError):
                    conn.recv(timeout=30)
                out["reload_close"] = conn.close_code
            with ws("wst.localhost") as conn:
                out["timeout_t"] = time.time()
                with contextlib.suppress(ConnectionClosed, TimeoutError):
                    conn.recv(timeout=30)
            with socket.create_connection(("127.0.0.1", caddy.port), timeout=30) as s:
                s.sendall(b"GET /sse?n=100&interval=0.1 HTTP/1.1\r\nHost: app.localhost\r\n\r\n")
                time.sleep(0.5)
            time.sleep(0.5)
            out["log"] = caddy.log_path
    return out


@pytest.mark.caddy
@pytest.mark.slow
def test_real_caddy_log(caddy_run: dict[str, Any]) -> None:
    assert (caddy_run["sse"], caddy_run["dead"], caddy_run["reload_close"]) == (200, 502, 1001)
    r = load_caddy_log(caddy_run["log"])
    obs = r.observations
    assert r.name == "caddy" and r.meta["lines"] > 20

    (done,) = of(obs, "access", "/sse?n=3")
    assert (done.status, done.size, done.leg) == (200, 63, "client") and (done.duration or 0) > 0
    # the upstream's response headers (debug log) carry the content type, so the stream is an sse one
    (headers,) = of(obs, "response_headers", "/sse?n=3")
    assert (headers.status, headers.leg) == (200, "server") and (headers.text or "").endswith(
        ", text/event-stream"
    )
    assert (of(obs, "response_headers", "/cut")[0].text or "").endswith(", text/plain")

    # upstream cut the chunked body: Caddy aborts, the access line has duration 0
    (abort,) = of(obs, "proxy_abort", "/cut")
    assert abort.leg == "server" and "reading: unexpected EOF" in (abort.text or "")
    assert of(obs, "access", "/cut")[0].duration == 0.0

    # dead upstream: one upstream_error (roundtrip and error log deduplicated), 502
    (dead,) = of(obs, "upstream_error", "dead.localhost/x")
    assert dead.status == 502 and "connection refused" in (dead.text or "")

    # config reload while a WebSocket was open
    reloads = [o for o in obs if o.kind == "proxy_reload" and abs(o.t - caddy_run["reload_t"]) < 5]
    assert any("POST /load" in (o.text or "") for o in reloads)
    assert any(o.text == "config loaded" for o in reloads)
    ws_end = of(obs, "access", "ws.localhost")
    assert ws_end and ws_end[0].status == 101
    assert of(obs, "ws_open", "ws.localhost")

    # stream_timeout 1 s
    (timer,) = of(obs, "proxy_timeout", "wst.localhost")
    assert 0.5 < timer.t - caddy_run["timeout_t"] < 5
    assert (of(obs, "access", "wst.localhost")[0].duration or 0) == pytest.approx(1.0, abs=0.5)

    # the client left mid-stream: the abort is the client's
    left = of(obs, "proxy_abort", "/sse?n=100")
    assert left and left[0].leg == "client" and "context canceled" in (left[0].text or "")


def test_non_json_lines_are_skipped_with_a_warning(tmp_path: Path) -> None:
    p = tmp_path / "caddy.log"
    p.write_text(
        "2026/11/26 01:00:00.000 INFO using adapted config\n"
        + json.dumps({"level": "warn", "ts": "2026-11-26T01:00:01.5Z", "logger": "http.handlers.reverse_proxy",
                      "msg": "reading from backend", "error": "unexpected EOF", "request": {"host": "a.test", "uri": "/s"}}) + "\n"
        + json.dumps({"level": "info", "ts": 1795655000123, "logger": "admin.api", "msg": "load complete"}) + "\n"
        + json.dumps({"level": "info", "ts": 1795655000.0, "msg": "config is unchanged"}) + "\n"
        + json.dumps({"level": "info", "ts": "never", "msg": "x"}) + "\n"
    )  # fmt: skip
    r = load_caddy_log(p)
    kinds = {o.kind: o for o in r.observations}
    assert kinds["upstream_error"].url == "http://a.test/s" and kinds["upstream_error"].t == pytest.approx(
        1795654801.5
    )
    assert kinds["proxy_reload"].t == pytest.approx(1795655000.123)
    assert r.meta["config_unchanged"] == 1
    assert len(r.warnings) == 2  # one non-JSON line, one unreadable ts


def test_parse_ts() -> None:
    assert parse_ts(1795655866.5) == 1795655866.5
    assert parse_ts(1795655866500) == pytest.approx(1795655866.5)
    assert parse_ts(1795655866500000) == pytest.approx(1795655866.5)
    assert parse_ts("2026/11/26 01:17:46.500") == pytest.approx(1795655866.5)
    assert parse_ts(True) is None and parse_ts("x") is None


@pytest.mark.parametrize("content", ["", "plain text\nonly\n", '{"a": 1}\n[1]\n'])
def test_garbage(tmp_path: Path, content: str) -> None:
    p = tmp_path / "bad.log"
    p.write_text(content)
    with pytest.raises(InputError) as e:
        load_caddy_log(p)
    assert "\n" not in str(e.value) and str(p) in str(e.value)
