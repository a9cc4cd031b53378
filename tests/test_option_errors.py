"""Never silently off: every bad or unknown tearline option, every way a user passes one.

Real mitmdump (and mitmweb) processes: ``--set`` at start, mitmproxy's config file in the
confdir, mitmproxy's ``set`` command at run time (``tests/addons/option_console.py`` stands in
for the console's ``:set``), and mitmweb's options editor (``PUT /options``).
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tearline.lab.mitmdump import Mitmdump, MitmdumpFailed
from tests.fixtures_proxy import FAULTS, REPO, WS_TRACE, http_get

CONSOLE = REPO / "tests" / "addons" / "option_console.py"

BAD_START = [
    # (option, value, words the one line must hold)
    ("trace_flush_ms", "soon", ["trace_flush_ms", "'soon'", "integer", "1 to 1000"]),
    ("trace_keep_messages", "lots", ["trace_keep_messages", "'lots'", "integer", "-1"]),
    ("trace_payload", "everything", ["trace_payload", "none", "preview:N", "full"]),
    ("trace_flush_ms", "-5", ["trace_flush_ms", "1 to 1000"]),
    ("trace_fil", "x.jsonl", ["trace_fil", "did you mean trace_file?"]),
    ("faultz", "x.toml", ["faultz", "did you mean fault"]),
    ("trace_file", "/nonexistent/dir/x.jsonl", ["trace_file", "/nonexistent/dir", "does not exist"]),
    ("fault", "bogus", ["fault", "unknown action 'bogus'", "allowed"]),
]


def tearline_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if "tearline" in line and "Loading script" not in line]


def assert_one_line_stop(proxy: Mitmdump, option: str, words: list[str]) -> None:
    assert proxy.returncode not in (None, 0)
    log = proxy.log_text()
    assert "Traceback" not in log
    lines = tearline_lines(log)
    assert len(lines) == 1, log
    for w in words:
        assert w in lines[0], lines[0]
    assert option in lines[0]


@pytest.mark.parametrize(("option", "value", "words"), BAD_START)
def test_bad_set_at_start_stops_with_one_line(lab_server, tmp_path, mitm_confdir, option, value, words):
    proxy = Mitmdump(
        scripts=[WS_TRACE, FAULTS],
        mode=f"reverse:{lab_server.base}",
        options={option: value},
        confdir=mitm_confdir,
        cwd=tmp_path,
    )
    with pytest.raises(MitmdumpFailed):
        proxy.start()
    proxy.wait_exit()
    assert_one_line_stop(proxy, option, words)
    # nothing recorded, no capture left behind
    assert not (tmp_path / "captures").exists()
    assert not Path("/nonexistent").exists()


@pytest.mark.parametrize(
    ("yaml", "option", "words"),
    [
        ("trace_flush_ms: soon\n", "trace_flush_ms", ["'soon'", "integer"]),
        ('trace_keep_messages: "8"\n', "trace_keep_messages", ["'8'", "integer"]),
        ("trace_payload: 12\n", "trace_payload", ["12", "string"]),
        ("trace_payload: everything\n", "trace_payload", ["none", "preview:N", "full"]),
        ("trace_fille: x.jsonl\n", "trace_fille", ["did you mean trace_file?"]),
    ],
)
def test_bad_config_file_stops_with_one_line(lab_server, tmp_path, mitm_confdir, yaml, option, words):
    (mitm_confdir / "config.yaml").write_text(yaml)
    proxy = Mitmdump(
        scripts=[WS_TRACE], mode=f"reverse:{lab_server.base}", confdir=mitm_confdir, cwd=tmp_path
    )
    with pytest.raises(MitmdumpFailed):
        proxy.start()
    proxy.wait_exit()
    assert_one_line_stop(proxy, option, words)
    assert not (tmp_path / "captures").exists()


def test_good_config_file_is_used(lab_server, tmp_path, mitm_confdir):
    (mitm_confdir / "config.yaml").write_text("trace_flush_ms: 40\ntrace_payload: full\n")
    proxy = Mitmdump(
        scripts=[WS_TRACE], mode=f"reverse:{lab_server.base}", confdir=mitm_confdir, cwd=tmp_path
    ).start()
    try:
        http_get(proxy.port, "/length?size=3")
    finally:
        proxy.stop()
    (cap,) = (tmp_path / "captures").glob("*.jsonl")
    header = json.loads(cap.read_text().splitlines()[0])
    assert header["options"]["trace_flush_ms"] == 40 and header["options"]["trace_payload"] == "full"


@pytest.mark.parametrize(
    ("option", "bad", "words"),
    [
        ("trace_flush_ms", "soon", ["trace_flush_ms", "not an integer"]),
        ("trace_flush_ms", "-5", ["trace_flush_ms", "1 to 1000"]),
        ("trace_payload", "everything", ["trace_payload", "preview:N"]),
        ("trace_file", "/nonexistent/dir/x.jsonl", ["trace_file", "does not exist"]),
        ("trace_fil", "x.jsonl", ["trace_fil"]),
    ],
)
def test_bad_set_at_run_time_is_refused_and_the_old_value_stays(recorder, option, bad, words):
    proxy = recorder(scripts=[CONSOLE], options={"trace_flush_ms": 30})
    before = {
        n: http_get(proxy.port, f"/__get?name={n}").split(b"\r\n\r\n", 1)[1]
        for n in ("trace_flush_ms", "trace_payload", "trace_file")
    }
    answer = http_get(proxy.port, f"/__set?name={option}&value={bad}")
    assert b" 400 " in answer.split(b"\r\n", 1)[0], answer
    for w in words:
        assert w.encode() in answer
    after = {n: http_get(proxy.port, f"/__get?name={n}").split(b"\r\n\r\n", 1)[1] for n in before}
    assert after == before
    # still recording, to the same file, and still proxying
    assert b"200 OK" in http_get(proxy.port, "/length?size=7")
    assert proxy.returncode is None
    proxy.stop()
    text = proxy.capture.read_text()
    assert '"size":7' in text.replace(" ", "") or "/length?size=7" in text
    assert not Path("/nonexistent").exists()


def test_good_set_at_run_time_applies(recorder):
    proxy = recorder(scripts=[CONSOLE])
    answer = http_get(proxy.port, "/__set?name=trace_flush_ms&value=250")
    assert b" 200 " in answer.split(b"\r\n", 1)[0]
    assert http_get(proxy.port, "/__get?name=trace_flush_ms").endswith(b"250")


# --- the guard: if tearline is not configured, the proxy does not run on ------------------------

BREAKER = """
from mitmproxy import ctx, exceptions

class Breaker:
    name = "test_breaker"
    def load(self, loader):
        # mitmproxy drops a script whose deferred options fail in registration; simulate any such cause
        opts = loader.master.options
        def broken():
            raise exceptions.OptionsError("simulated registration failure")
        opts.__dict__["process_deferred"] = broken

addons = [Breaker()]
"""


def test_recorder_that_mitmproxy_dropped_stops_the_proxy(lab_server, tmp_path, mitm_confdir):
    breaker = tmp_path / "breaker.py"
    breaker.write_text(BREAKER)
    proxy = Mitmdump(
        scripts=[breaker, WS_TRACE], mode=f"reverse:{lab_server.base}", confdir=mitm_confdir, cwd=tmp_path
    )
    with pytest.raises(MitmdumpFailed):
        proxy.start()
    proxy.wait_exit()
    assert proxy.returncode not in (None, 0)
    assert "the recorder (ws_trace) was not configured, so tearline is off" in proxy.log_text()


# --- mitmweb's options editor ---------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_mitmweb_options_editor_refuses_bad_values(lab_server, tmp_path, mitm_confdir):
    web_port = _free_port()
    mitmweb = str(Path(sys.executable).parent / "mitmweb")
    cap = tmp_path / "web.jsonl"
    args = [
        mitmweb, "--listen-host", "127.0.0.1", "-p", "0", "--mode", f"reverse:{lab_server.base}",
        "--web-host", "127.0.0.1", "--web-port", str(web_port), "--no-web-open-browser",
        "--set", "web_password=sekrit", "--set", f"confdir={mitm_confdir}",
        "-s", str(WS_TRACE), "--set", f"trace_file={cap}",
    ]  # fmt: skip
    proc = subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        base = f"http://127.0.0.1:{web_port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                opener.open(f"{base}/?token=sekrit", timeout=5).read()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        xsrf = "0123456789abcdef"  # tornado accepts any hex token that matches its cookie

        def put(update: dict[str, object]) -> tuple[int, str]:
            req = urllib.request.Request(
                f"{base}/options",
                data=json.dumps(update).encode(),
                method="PUT",
                headers={
                    "X-XSRFToken": xsrf,
                    "Authorization": "Bearer sekrit",
                    "Cookie": f"_mitmproxy_xsrf={xsrf}",
                    "Content-Type": "application/json",
                },
            )
            try:
                with opener.open(req, timeout=10) as r:
                    return r.status, r.read().decode()
            except urllib.error.HTTPError as e:
                return e.code, e.read().decode()

        def value(name: str) -> object:
            with opener.open(f"{base}/options", timeout=10) as r:
                return json.loads(r.read())[name]["value"]

        assert value("trace_flush_ms") == 100
        for update, word in [
            ({"trace_flush_ms": -5}, "1 to 1000"),
            ({"trace_flush_ms": "soon"}, "trace_flush_ms"),
            ({"trace_payload": "everything"}, "preview:N"),
            ({"trace_file": "/nonexistent/dir/x.jsonl"}, "does not exist"),
        ]:
            status, body = put(update)
            assert status == 400 and word in body, (update, body)
        assert value("trace_flush_ms") == 100 and value("trace_payload") == "none"
        assert value("trace_file") == str(cap)
        assert put({"trace_flush_ms": 20})[0] == 200
        assert value("trace_flush_ms") == 20
        assert proc.poll() is None
        assert cap.exists() and oct(os.stat(cap).st_mode & 0o777) == "0o600"
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_changing_an_option_at_run_time_keeps_the_default_capture(start_mitmdump, lab_server, tmp_path):
    from tests.fixtures_proxy import WS_TRACE as TRACE

    proxy = start_mitmdump(scripts=[TRACE, CONSOLE], mode=f"reverse:{lab_server.base}")
    http_get(proxy.port, "/length?size=3")
    time.sleep(1.2)  # the default name has a one-second resolution: a new name would differ now
    assert b" 200 " in http_get(proxy.port, "/__set?name=trace_flush_ms&value=50").split(b"\r\n", 1)[0]
    http_get(proxy.port, "/length?size=4")
    proxy.stop()
    (cap,) = (tmp_path / "captures").glob("*.jsonl")
    text = cap.read_text()
    assert "/length?size=3" in text and "/length?size=4" in text
