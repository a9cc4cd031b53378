"""Who closed: a close that tearline injected is the proxy's, in the capture and the summary."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tearline.capture import read_capture
from tearline.events import event_to_dict
from tests.fault_clients import arun, ws_run

TEARLINE = str(Path(sys.executable).parent / "tearline")


def ws_closes(capture: Path) -> list[dict]:
    return [event_to_dict(e) for e in read_capture(capture).events if e.type == "ws_close"]


@pytest.mark.parametrize("to", ["client", "both"])
def test_injected_close_is_recorded_as_the_proxys(faulty, lab_server, to):
    proxy = faulty(f"close:stream=ws,direction=server,after_messages=3,to={to},code=4001")
    res = arun(ws_run(f"{proxy.ws_base}/ws?n=20&interval_ms=30"))
    assert (len(res["messages"]), res["code"]) == (3, 4001)
    proxy.stop()
    (close,) = ws_closes(proxy.capture)
    assert (close["code"], close["closed_by"], close["frame"]) == (4001, "proxy", True)
    assert close.get("answered_by") != "proxy"
    out = subprocess.run(
        [TEARLINE, "summary", str(proxy.capture)], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    assert "close 4001 'tearline: injected close' by proxy" in out or "by proxy" in out, out
    assert "by server" not in out


def test_peer_close_is_still_the_peers(recorder, lab_server):
    proxy = recorder()
    res = arun(ws_run(f"{proxy.ws_base}/ws?n=2&interval_ms=10&end=close&code=4000&reason=bye"))
    assert res["code"] == 4000
    proxy.stop()
    (close,) = ws_closes(proxy.capture)
    assert (close["code"], close["closed_by"], close["answered_by"]) == (4000, "server", "proxy")
