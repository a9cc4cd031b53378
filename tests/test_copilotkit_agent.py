"""The lab's LangGraph agent (AG-UI over HTTP) as a real process, and the reading of its log."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tearline.errors import InputError
from tearline.lab.caddy import free_port
from tearline.lab.copilotkit.agent_log import read_agent_log, runs

pytest.importorskip("ag_ui_langgraph")


def _run_input(text: str, run_id: str) -> bytes:
    return json.dumps(
        {
            "threadId": f"thread-{run_id}",
            "runId": run_id,
            "state": {},
            "messages": [{"id": f"m-{run_id}", "role": "user", "content": text}],
            "tools": [],
            "context": [],
            "forwardedProps": {},
        }
    ).encode()


@pytest.fixture
def agent(tmp_path: Path):
    port = free_port()
    log = tmp_path / "agent.log"
    cmd = [sys.executable, "-m", "tearline.lab.copilotkit.agent", "--port", str(port), "--log", str(log)]
    cmd += ["--tokens", "5", "--interval", "0.02"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/agent/health")
                assert conn.getresponse().status == 200
                conn.close()
                break
            except OSError:
                assert proc.poll() is None, "the agent exited at start-up"
                assert time.monotonic() < deadline, "the agent did not come up"
                time.sleep(0.2)
        yield port, log
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _post(port: int, body: bytes) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", "/agent", body, {"Content-Type": "application/json", "Accept": "text/event-stream"})
    return conn.getresponse()


def _wait_for(log: Path, pred, timeout: float = 60.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        records = read_agent_log(log) if log.exists() else []
        if pred(records):
            return records
        assert time.monotonic() < deadline, "the agent log never showed it"
        time.sleep(0.1)


def test_a_run_streams_ag_ui_events_and_is_logged_to_the_end(agent) -> None:
    port, log = agent
    resp = _post(port, _run_input("hello tokens=4", "r1"))
    assert resp.getheader("content-type", "").startswith("text/event-stream")
    types = [
        json.loads(line[6:])["type"]
        for line in resp.read().decode().splitlines()
        if line.startswith("data: ")
    ]
    assert types[0] == "RUN_STARTED" and types[-1] == "RUN_FINISHED"
    assert types.count("TEXT_MESSAGE_CONTENT") == 4
    records = _wait_for(
        log, lambda rs: any(r["event"] == "response_end" and r.get("run_id") == "r1" for r in rs)
    )
    (run,) = runs(records)
    assert (run.run_id, run.response_end, run.model_end, run.tokens, run.planned_tokens) == (
        "r1",
        "complete",
        "finished",
        4,
        4,
    )
    assert run.events_sent == len(types)
    assert run.generated_after_client_left == 0.0


def test_a_client_that_leaves_mid_answer_is_logged_as_gone(agent) -> None:
    port, log = agent
    resp = _post(port, _run_input("long one tokens=60 interval=0.05", "r2"))
    while b"TEXT_MESSAGE_CONTENT" not in resp.readline():  # the model is streaming
        pass
    resp.close()  # the client goes away
    records = _wait_for(log, lambda rs: any(r["event"] == "model_end" for r in rs))
    records = _wait_for(
        log, lambda rs: any(r["event"] == "response_end" and r.get("run_id") == "r2" for r in rs)
    )
    (run,) = runs(records)
    assert run.response_end == "client_gone"
    assert run.planned_tokens == 60
    # whether the model is cancelled or keeps going is what the log measures; it is one of the two
    assert run.model_end in ("cancelled", "finished", "closed")
    assert run.tokens < 60 or run.tokens_after_response_end > 0


def test_agent_log_errors_name_the_line(tmp_path: Path) -> None:
    log = tmp_path / "agent.log"
    log.write_text('{"t": 1.0, "event": "agent_start"}\nnot json\n')
    with pytest.raises(InputError, match=r"agent.log:2"):
        read_agent_log(log)
    log.write_text('{"t": 1.0}\n')
    with pytest.raises(InputError, match=r"needs 't' and 'event'"):
        read_agent_log(log)


def test_runs_pair_the_model_call_with_its_request() -> None:
    records = [
        {"t": 1.0, "event": "request", "method": "POST", "path": "/agent", "run_id": "a"},
        {"t": 1.1, "event": "model_start", "call": 7, "tokens": 3, "interval": 0.5},
        {"t": 1.6, "event": "token", "call": 7, "n": 1},
        {"t": 1.7, "event": "response_end", "reason": "client_gone", "events": 9, "run_id": "a"},
        {"t": 2.1, "event": "token", "call": 7, "n": 2},
        {"t": 2.6, "event": "token", "call": 7, "n": 3},
        {"t": 2.6, "event": "model_end", "call": 7, "reason": "finished", "tokens": 3},
    ]
    (run,) = runs(records)
    assert (run.tokens, run.tokens_after_response_end, run.model_end) == (3, 2, "finished")
    assert run.generated_after_client_left == pytest.approx(0.9)
