"""Edges of the capture file: created only once the proxy listens, owner-only, never in made-up folders."""

from __future__ import annotations

import socket
import stat

import pytest

from tearline.lab.mitmdump import Mitmdump, MitmdumpFailed
from tests.fixtures_proxy import WS_TRACE, http_get


def test_failed_start_leaves_no_capture(lab_server, tmp_path, mitm_confdir):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proxy = Mitmdump(
            scripts=[WS_TRACE],
            mode=f"reverse:{lab_server.base}",
            confdir=mitm_confdir,
            cwd=tmp_path,
            extra_args=["-p", str(port)],  # the port is taken: mitmdump cannot listen
            options={"trace_file": str(tmp_path / "x.jsonl")},
        )
        with pytest.raises(MitmdumpFailed):
            proxy.start()
        proxy.wait_exit()
    assert proxy.returncode not in (None, 0)
    assert not (tmp_path / "x.jsonl").exists()
    # and with the default path: no captures/ folder either
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        proxy = Mitmdump(
            scripts=[WS_TRACE],
            mode=f"reverse:{lab_server.base}",
            confdir=mitm_confdir,
            cwd=tmp_path,
            extra_args=["-p", str(busy.getsockname()[1])],
        )
        with pytest.raises(MitmdumpFailed):
            proxy.start()
        proxy.wait_exit()
    assert not (tmp_path / "captures").exists()


def test_default_capture_is_owner_only(start_mitmdump, lab_server, tmp_path):
    proxy = start_mitmdump(scripts=[WS_TRACE], mode=f"reverse:{lab_server.base}")
    http_get(proxy.port, "/length?size=5")
    proxy.stop()
    folder = tmp_path / "captures"
    (cap,) = folder.glob("*.jsonl")
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(cap.stat().st_mode) == 0o600


def test_existing_capture_file_is_made_owner_only(recorder, tmp_path):
    path = tmp_path / "old.jsonl"
    path.write_text("old\n")
    path.chmod(0o644)
    proxy = recorder(capture=path)
    http_get(proxy.port, "/length?size=5")
    proxy.stop()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not path.read_text().startswith("old")
