"""tearline.lab.caddy: a real Caddy with a generated config, JSON logs and admin reloads."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import subprocess
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
import websockets
from tearline.analysis.evidence.caddyconfig import load_caddy_config

from tearline.errors import UsageError
from tearline.lab.caddy import Caddy, caddy_binary, run_caddy
from tearline.lab.caddy_config import CaddySite, lab_config
from tearline.lab.incident.backend import RunningBackend
from tests.conftest import wait_for

pytestmark = pytest.mark.caddy

StartCaddy = Callable[[Sequence[CaddySite]], Caddy]


def log_lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def get(url: str, host: str) -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers={"Host": host})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status, resp.read()


async def ws_messages(
    port: int, path: str, host: str, limit: float = 20.0, flowing: asyncio.Event | None = None
) -> tuple[int, int | None, str]:
    """Read ws://host:port/path (connecting to 127.0.0.1) until it closes; return (messages, code, reason).

    ``flowing`` is set once 3 messages have arrived (the stream is under way)."""
    n = 0
    url = f"ws://{host}:{port}{path}"
    async with websockets.connect(url, host="127.0.0.1", port=port, open_timeout=10) as ws:
        try:
            async with asyncio.timeout(limit):
                async for _ in ws:
                    n += 1
                    if flowing is not None and n >= 3:
                        flowing.set()
        except websockets.ConnectionClosed:
            pass
        rcvd = ws.protocol.close_rcvd
        return n, (rcvd.code if rcvd else None), (rcvd.reason if rcvd else "")


def sites_with_every_option() -> list[CaddySite]:
    return [
        CaddySite(host="www.localhost", upstream="127.0.0.1:1"),
        CaddySite(
            host="ai.localhost",
            upstream="127.0.0.1:2",
            stream_timeout=2,
            stream_close_delay=0.5,
            flush_interval=-1,
            read_timeout=1.5,
            write_timeout=4,
        ),
    ]


def test_lab_config_has_every_option_and_binds_loopback(tmp_path: Path) -> None:
    config = lab_config(
        sites_with_every_option(),
        port=8080,
        admin_port=2999,
        log_path=tmp_path / "caddy.log",
        data_dir=tmp_path / "data",
    )
    assert config["admin"]["listen"] == "127.0.0.1:2999"
    server = config["apps"]["http"]["servers"]["srv0"]
    assert server["listen"] == ["127.0.0.1:8080"]
    assert server["automatic_https"] == {"disable": True}
    assert server["write_timeout"] == 4_000_000_000
    assert [r["match"] for r in server["routes"]] == [
        [{"host": ["www.localhost"]}],
        [{"host": ["ai.localhost"]}],
    ]
    ai = server["routes"][1]["handle"][0]
    assert (ai["stream_timeout"], ai["stream_close_delay"], ai["flush_interval"]) == (
        2_000_000_000,
        500_000_000,
        -1,
    )
    assert ai["transport"] == {"protocol": "http", "read_timeout": 1_500_000_000}
    assert ai["upstreams"] == [{"dial": "127.0.0.1:2"}]
    log = config["logging"]["logs"]["default"]
    assert log["writer"]["filename"] == str(tmp_path / "caddy.log") and log["encoder"] == {"format": "json"}
    assert log["level"] == "DEBUG" and "logs" in server  # access lines too, to the same file
    # Caddy itself accepts it (every module provisions), and the diagnosis reads the timers from the file
    cfg = tmp_path / "caddy.json"
    cfg.write_text(json.dumps(config))
    checked = subprocess.run(
        [caddy_binary(), "validate", "--config", str(cfg)],
        capture_output=True,
        timeout=60,
        env={**os.environ, "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CONFIG_HOME": str(tmp_path / "cfg")},
        text=True,
    )
    assert checked.returncode == 0, checked.stderr[-2000:]
    timers = {(t.name, t.seconds) for t in load_caddy_config(cfg) if t.inferred_from == "config"}
    assert {
        ("Caddy reverse_proxy stream_timeout", 2.0),
        ("Caddy reverse_proxy stream_close_delay", 0.5),
        ("Caddy reverse_proxy transport read_timeout", 1.5),
        ("Caddy server write_timeout", 4.0),
    } <= timers, timers


def test_routes_by_host_and_logs_json(start_caddy: StartCaddy, incident_backend: RunningBackend) -> None:
    caddy = start_caddy(
        [
            CaddySite(host="www.localhost", upstream=incident_backend.address),
            CaddySite(host="ai.localhost", upstream="127.0.0.1:9"),  # nothing listens on port 9
        ]
    )
    status, body = get(f"http://127.0.0.1:{caddy.port}/chat.html", "www.localhost")
    assert status == 200 and b"AbortController" in body
    with pytest.raises(urllib.error.HTTPError) as err:
        get(f"http://127.0.0.1:{caddy.port}/agent/run", "ai.localhost")
    assert err.value.code == 502

    def both_logged() -> list[dict[str, object]] | None:
        lines = log_lines(caddy.log_path)
        access = [ln for ln in lines if str(ln.get("logger", "")).startswith("http.log.access")]
        return lines if len(access) >= 2 else None

    lines = wait_for(both_logged, "Caddy's access lines for both requests")
    loops = [ln for ln in lines if ln.get("msg") == "starting server loop"]
    assert loops and all(str(ln["address"]).startswith("127.0.0.1:") for ln in loops)
    access = [ln for ln in lines if str(ln.get("logger", "")).startswith("http.log.access")]
    assert {(a["request"]["host"].split(":")[0], a["status"]) for a in access} >= {  # type: ignore[index]
        ("www.localhost", 200),
        ("ai.localhost", 502),
    }
    errors = [ln for ln in lines if str(ln.get("logger", "")).startswith("http.log.error")]
    assert any("connection refused" in str(e["msg"]) for e in errors)


def test_stream_timeout_closes_websocket(start_caddy: StartCaddy, incident_backend: RunningBackend) -> None:
    caddy = start_caddy(
        [CaddySite(host="ai.localhost", upstream=incident_backend.address, stream_timeout=1.0)]
    )
    t0 = time.monotonic()
    n, code, _ = asyncio.run(ws_messages(caddy.port, "/ws?deltas=200", "ai.localhost"))
    elapsed = time.monotonic() - t0
    assert code is None  # no close frame: Caddy just closes both connections
    assert 3 <= n < 100
    assert 0.9 <= elapsed < 8.0  # stated tolerance for a 1 s timer on a shared 2-core machine
    wait_for(
        lambda: any(ln.get("msg") == "stream timed out" for ln in log_lines(caddy.log_path)),
        "Caddy's 'stream timed out' line",
    )


def test_reload_closes_websocket_with_1001(start_caddy: StartCaddy, incident_backend: RunningBackend) -> None:
    caddy = start_caddy([CaddySite(host="ai.localhost", upstream=incident_backend.address)])

    async def scenario() -> tuple[int, int | None, str]:
        flowing = asyncio.Event()
        task = asyncio.create_task(ws_messages(caddy.port, "/ws?deltas=200", "ai.localhost", flowing=flowing))
        await asyncio.wait_for(flowing.wait(), 30)
        await asyncio.to_thread(caddy.reload)
        return await task

    n, code, reason = asyncio.run(scenario())
    assert code == 1001 and reason == ""
    assert n >= 3
    msgs = [ln.get("msg") for ln in log_lines(caddy.log_path)]
    assert "load complete" in msgs
    backend_log = [json.loads(x) for x in incident_backend.log_path.read_text().splitlines()]
    assert any(e["msg"] == "client closed" and e["code"] == 1001 for e in backend_log)


def test_stream_close_delay_keeps_websocket_over_reload(
    start_caddy: StartCaddy, incident_backend: RunningBackend
) -> None:
    caddy = start_caddy(
        [CaddySite(host="ai.localhost", upstream=incident_backend.address, stream_close_delay=30)]
    )

    async def scenario() -> tuple[int, int | None, str]:
        flowing = asyncio.Event()
        task = asyncio.create_task(ws_messages(caddy.port, "/ws?deltas=20", "ai.localhost", flowing=flowing))
        await asyncio.wait_for(flowing.wait(), 30)
        await asyncio.to_thread(caddy.reload)
        return await task

    n, code, reason = asyncio.run(scenario())
    assert (code, reason) == (1000, "run finished")  # the run completed despite the reload
    assert n == 24  # RUN_STARTED, TEXT_MESSAGE_START, 20 deltas, TEXT_MESSAGE_END, RUN_FINISHED


def test_bad_config_is_a_one_line_usage_error(tmp_path: Path) -> None:
    # an upstream Caddy's JSON would take and fail on at the first request
    with pytest.raises(UsageError) as err:
        CaddySite(host="www.localhost", upstream="http://127.0.0.1:1/a/path")
    assert "\n" not in str(err.value) and "is not host:port" in str(err.value)
    # a config Caddy refuses on reload (a hand-edited caddy.json): Caddy's reason, on one line
    with (
        pytest.raises(UsageError) as err,
        run_caddy(
            [CaddySite(host="www.localhost", upstream="127.0.0.1:1", flush_interval=1)], tmp_path
        ) as caddy,
    ):
        config = json.loads(caddy.config_path.read_text())
        config["apps"]["http"]["servers"]["srv0"]["routes"][0]["handle"] = [{"handler": "no_such_handler"}]
        caddy.config_path.write_text(json.dumps(config))
        caddy.reload()
    assert "\n" not in str(err.value)
    assert "Caddy refused the config" in str(err.value) and "no_such_handler" in str(err.value)


def test_missing_binary_is_a_usage_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr("sys.executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(UsageError, match="caddy not found"):
        caddy_binary()


def test_incident_caddyfile_serves_both_sites(incident_backend: RunningBackend, tmp_path: Path) -> None:
    from tearline.lab.caddy import free_port

    caddyfile = Path(__file__).parents[1] / "tearline" / "lab" / "incident" / "Caddyfile"
    port, admin = free_port(), free_port()
    env = dict(os.environ, PORT=str(port), ADMIN_PORT=str(admin), BACKEND=incident_backend.address)
    env["XDG_CONFIG_HOME"] = env["XDG_DATA_HOME"] = str(tmp_path)
    proc = subprocess.Popen(
        [caddy_binary(), "run", "--config", str(caddyfile), "--adapter", "caddyfile"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status, body = get(f"http://127.0.0.1:{port}/chat.html", "www.localhost")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert status == 200 and b"ai.localhost" in body
        n, code, _ = asyncio.run(ws_messages(port, "/ws?deltas=3", "ai.localhost"))
        assert (n, code) == (7, 1000)
    finally:
        proc.terminate()
        proc.wait(15)


def test_a_port_taken_before_caddy_binds_it_is_retried(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import socket

    import tearline.lab.caddy as lab_caddy

    real = lab_caddy.free_port
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        taken = blocker.getsockname()[1]
        picks: list[int] = []

        def first_one_taken() -> int:
            picks.append(taken if not picks else real())
            return picks[-1]

        monkeypatch.setattr(lab_caddy, "free_port", first_one_taken)
        with run_caddy([CaddySite(host="www.localhost", upstream="127.0.0.1:9")], tmp_path) as caddy:
            assert caddy.port != taken and len(picks) == 4
            assert "address already in use" not in caddy.log_path.read_text()


def test_tls_serves_http2_with_the_internal_ca(incident_backend: RunningBackend, tmp_path: Path) -> None:
    import socket
    import ssl

    with run_caddy(
        [
            CaddySite(host="www.localhost", upstream=incident_backend.address),
            CaddySite(host="ai.localhost", upstream=incident_backend.address),
        ],
        tmp_path / "tls",
        tls=True,
    ) as caddy:
        assert caddy.url("ai.localhost", "/ws") == f"https://ai.localhost:{caddy.port}/ws"
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(["h2", "http/1.1"])
        for host in ("www.localhost", "ai.localhost"):
            with (
                socket.create_connection(("127.0.0.1", caddy.port), timeout=10) as raw,
                ctx.wrap_socket(raw, server_hostname=host) as tls,
            ):
                assert tls.selected_alpn_protocol() == "h2"
                cert = tls.getpeercert(binary_form=True)
                assert cert
        plain = ssl.create_default_context()
        plain.check_hostname = False
        plain.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection("127.0.0.1", caddy.port, timeout=10, context=plain)
        conn.request("GET", "/chat.html", headers={"Host": "www.localhost"})
        assert conn.getresponse().status == 200
        caddy.reload()  # the TLS config reloads too
        written = json.loads(caddy.config_path.read_text())
        assert caddy.config_path.name == "caddy.json" and written["apps"]["tls"]["automation"]["policies"]


def test_lab_config_tls(tmp_path: Path) -> None:
    config = lab_config(
        [CaddySite(host="www.localhost", upstream="127.0.0.1:1")],
        port=8443,
        admin_port=2999,
        log_path=tmp_path / "caddy.log",
        data_dir=tmp_path / "data",
        tls=True,
    )
    http = config["apps"]["http"]
    assert http["https_port"] == 8443 and "http_port" not in http
    server = http["servers"]["srv0"]
    assert server["automatic_https"] == {"disable_redirects": True}
    assert server["tls_connection_policies"][-1] == {"default_sni": "www.localhost"}
    assert config["apps"]["pki"]["certificate_authorities"]["local"]["install_trust"] is False
    policy = config["apps"]["tls"]["automation"]["policies"][0]
    assert policy == {"subjects": ["www.localhost"], "issuers": [{"module": "internal"}]}


def test_a_second_run_in_the_same_directory_starts_a_fresh_log(
    incident_backend: RunningBackend, tmp_path: Path
) -> None:
    """Caddy appends to its ``output file``; run_caddy starts each run's caddy.log afresh."""
    ports = []
    for _ in range(2):
        with run_caddy([CaddySite(host="www.localhost", upstream=incident_backend.address)], tmp_path) as c:
            status, _ = get(f"http://127.0.0.1:{c.port}/chat.html", "www.localhost")
            assert status == 200
            ports.append(c.port)
    assert ports[0] != ports[1]
    lines = log_lines(tmp_path / "caddy.log")
    handled = [x for x in lines if x.get("msg") == "handled request"]
    assert len(handled) == 1  # the first run's request is gone
    assert [x["msg"] for x in lines].count("serving initial configuration") == 1  # one start
