"""The mitmdump harness: start, readiness, failure detection, stop and kill."""

from __future__ import annotations

import signal

import pytest

from tearline.lab.mitmdump import Mitmdump, MitmdumpFailed, _option_args
from tests.fixtures_proxy import http_get

pytestmark = pytest.mark.timeout(120)


def test_option_args():
    assert _option_args({"a": True, "b": ["x", "y"], "c": 3}) == [
        "--set", "a=true", "--set", "b=x", "--set", "b=y", "--set", "c=3",
    ]  # fmt: skip


def test_start_reverse_proxy_and_stop(lab_server, mitm_confdir, tmp_path):
    proxy = Mitmdump(mode=f"reverse:{lab_server.base}", confdir=mitm_confdir, cwd=tmp_path).start()
    try:
        assert proxy.port > 0
        assert http_get(proxy.port, "/").endswith(b"ok\n")
        assert "listening at 127.0.0.1:" in proxy.log_text()
    finally:
        rc = proxy.stop()
    assert rc is not None and proxy.returncode is not None


def test_kill_is_sigkill(lab_server, start_mitmdump):
    proxy = start_mitmdump(mode=f"reverse:{lab_server.base}")
    assert proxy.kill() == -signal.SIGKILL


def test_script_error_is_a_start_failure(start_mitmdump, tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("raise RuntimeError('broken addon')\n")
    with pytest.raises(MitmdumpFailed) as err:
        start_mitmdump(scripts=[bad])
    assert "broken addon" in err.value.log
