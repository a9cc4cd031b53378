"""The incident agent's cancel endpoint (the `fix = "beacon"` clean-up call): a cancelled run stops producing."""

from __future__ import annotations

import http.client
import json
import time
from pathlib import Path

from tearline.lab.incident.backend import run_backend


def test_a_cancelled_run_stops_and_says_so(tmp_path: Path) -> None:
    log = tmp_path / "backend.log"
    with run_backend(log) as backend:
        stream = http.client.HTTPConnection("127.0.0.1", backend.port, timeout=10)
        stream.request("POST", "/agent/run?deltas=200&interval_ms=20", body=b"{}")
        resp = stream.getresponse()
        first = resp.fp.readline() + resp.fp.readline()  # chunk size line, then "data: {...RUN_STARTED...}"
        started = json.loads(first.split(b"data: ", 1)[1])
        assert started["type"] == "RUN_STARTED"
        cancel = http.client.HTTPConnection("127.0.0.1", backend.port, timeout=10)
        cancel.request("POST", "/agent/cancel", body=json.dumps({"runIds": [started["runId"], 7]}))
        assert cancel.getresponse().status == 204
        rest = resp.fp.read()  # raw, to EOF: the agent closes without the last chunk when it stops
        assert b"RUN_FINISHED" not in rest
        deadline = time.monotonic() + 10
        while "run cancelled" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        stream.close()
        cancel.close()
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    requested = next(x for x in lines if x["msg"] == "cancel requested")
    assert requested["run_ids"] == [started["runId"]]  # only string ids count
    cancelled = next(x for x in lines if x["msg"] == "run cancelled")
    assert cancelled["run_id"] == started["runId"] and cancelled["events_sent"] < 200
