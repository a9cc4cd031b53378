"""`tearline matrix`: a table over three faults with the symptom ranking, the pure ranking and outputs,
and Ctrl-C leaving no process and no listening port behind."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tearline.runs.matrix import parse_fault_columns, parse_vary, plan_runs
from tearline.runs.matrix_out import rank, row_labels, write_outputs

ROOT = Path(__file__).resolve().parents[1]
NAV_AWAY = ROOT / "examples" / "runs" / "incident-nav-away.toml"
TEARLINE = str(Path(sys.executable).with_name("tearline"))
ABORT_SSE = "abort:stream=sse,direction=server,after_messages=3"
CLOSE_WS = "close:stream=ws,direction=server,after_messages=3,to=client,code=4001"
RESET_WS = "reset:stream=ws,after_messages=3,to=client"


def _row(
    fault: str, net_error: str | None = None, close: int | None = None, **kw: object
) -> dict[str, object]:
    streams = [{"url": "u", "kind": "sse", "net_error": net_error, "close_code": close, "cause_kind": "x"}]
    return {"id": fault, "fault": fault, "vars": {}, "streams": streams, "report": "r.html", **kw}


def test_ranking_counts_runs_showing_every_symptom_best_first() -> None:
    rows = [
        _row("none", "ERR_ABORTED"),
        _row("a", "ERR_INCOMPLETE_CHUNKED_ENCODING", 1006),
        _row("a", "ERR_INCOMPLETE_CHUNKED_ENCODING"),
        _row("b", None, 1006),
        _row("b", "ERR_INCOMPLETE_CHUNKED_ENCODING", 1006, failed="boom"),
    ]
    assert rank(rows, ["incomplete_chunked"]) == [
        {"fault": "a", "matched": 2, "of": 2},
        {"fault": "none", "matched": 0, "of": 1},
        {"fault": "b", "matched": 0, "of": 2},
    ]
    assert [r["fault"] for r in rank(rows, ["1006"])] == ["a", "b", "none"]
    assert rank(rows, ["1006", "ERR_INCOMPLETE_CHUNKED_ENCODING"])[0] == {"fault": "a", "matched": 1, "of": 2}
    assert rank(rows, ["100"])[0]["matched"] == 0  # a close code matches exactly, not as a prefix
    assert rank(rows, []) == []
    assert row_labels(rows[1]) == ["sse x", "sse ERR_INCOMPLETE_CHUNKED_ENCODING", "sse close 1006 unclean"]


def test_outputs_are_written_and_escaped(tmp_path: Path) -> None:
    rows = [_row("<script>", "ERR_X", error_page=True, error_page_text="<b>down</b>")]
    paths = write_outputs(
        tmp_path,
        run_file="f.toml",
        rows=rows,
        symptoms=["ERR_X"],
        ranking=rank(rows, ["ERR_X"]),
        seed=3,
        interrupted=False,
        planned=1,
    )
    assert [p.name for p in paths] == ["matrix.csv", "matrix.json", "matrix.html"]
    page = paths[2].read_text()
    assert "<script>" not in page and "&lt;script&gt;" in page and "&lt;b&gt;down" in page
    assert json.loads(paths[1].read_text())["ranking"] == [{"fault": "<script>", "matched": 1, "of": 1}]
    assert paths[0].read_text().splitlines()[0].startswith("id,fault,leg,vars,repeat,seed,error_page")


def test_columns_variants_and_plan() -> None:
    cols = parse_fault_columns([ABORT_SSE, CLOSE_WS + ",leg=backend"], [])
    assert [c.fault.leg for c in cols if c.fault] == ["browser", "backend"]
    assert cols[1].label.endswith(",leg=backend") and "code=4001" in cols[1].label
    variants = parse_vary(["fix=none,delay", "n=1,2"])
    assert variants[:2] == [{"fix": "none", "n": "1"}, {"fix": "none", "n": "2"}] and len(variants) == 4
    assert len(plan_runs(cols, variants, 3)) == 2 * 4 * 3


@pytest.mark.browser
@pytest.mark.caddy
@pytest.mark.slow
def test_a_matrix_over_three_faults_ranks_the_cause_first(tmp_path: Path) -> None:
    result = subprocess.run(
        [TEARLINE, "matrix", str(NAV_AWAY), "--no-baseline", "--var", "deltas=60",
         "--fault", CLOSE_WS, "--fault", ABORT_SSE, "--fault", RESET_WS,
         "--symptom", "ERR_INCOMPLETE_CHUNKED_ENCODING", "-o", "D2"],
        cwd=tmp_path, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    out = tmp_path / "D2"
    doc = json.loads((out / "matrix.json").read_text())
    assert [r["fault"] for r in doc["runs"]] == [
        "close:code=4001,stream=ws,direction=server,after_messages=3",
        ABORT_SSE,
        "reset:stream=ws,after_messages=3",  # to=client is the default: the label leaves it out
    ]
    assert doc["ranking"][0] == {"fault": ABORT_SSE, "matched": 1, "of": 1}
    assert all(r["matched"] == 0 for r in doc["ranking"][1:])
    ws_close = next(s for s in doc["runs"][0]["streams"] if s["kind"] == "ws")
    assert ws_close["close_code"] == 4001 and ws_close["cause_kind"] == "injected_fault"
    assert "1. 1/1  " + ABORT_SSE in result.stdout
    assert (out / "matrix.csv").read_text().count("\n") >= 4
    page = (out / "matrix.html").read_text()
    for run in doc["runs"]:
        assert f'href="{run["report"]}"' in page and (out / run["report"]).exists()
    assert "<svg" in page


def _session_pids(sid: int) -> list[int]:
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == sid:  # field 6 of /proc/PID/stat: the session id
            pids.append(int(stat.parent.name))
    return pids


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.browser
@pytest.mark.caddy
@pytest.mark.slow
def test_ctrl_c_leaves_no_process_and_no_port(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [TEARLINE, "matrix", str(NAV_AWAY), "--fault", ABORT_SSE, "--fault", CLOSE_WS, "-o", "D"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        cdp: list[Path] = []
        while not (cdp and "www.localhost:" in cdp[0].read_text()):  # Chromium, the taps and Caddy are up
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.2)
            cdp = list((tmp_path / "D" / "runs").glob("*/cdp.jsonl"))
        caddy_json = (cdp[0].parent / "caddy.json").read_text()
        ports = {int(p) for p in re.findall(r"(?:127\.0\.0\.1:|localhost:|http_port\": )(\d+)", caddy_json)}
        ports |= {int(p) for p in re.findall(r"www\.localhost:(\d+)/", cdp[0].read_text())}
        assert len(ports) >= 5, ports  # the agent, the backend tap, Caddy, its admin API, the browser tap
        assert all(_listening(p) for p in ports)
        os.kill(proc.pid, signal.SIGINT)  # once: finish the current run ...
        time.sleep(1.0)
        os.kill(proc.pid, signal.SIGINT)  # ... twice: stop it now
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, stdout + stderr
    assert "Interrupted: 1 of 3 runs in the table." in stderr
    doc = json.loads((tmp_path / "D" / "matrix.json").read_text())
    assert doc["interrupted"] is True and [r["failed"] for r in doc["runs"]] == ["interrupted"]
    deadline = time.monotonic() + 30
    while _session_pids(proc.pid) and time.monotonic() < deadline:  # orphans would be reparented, not gone
        time.sleep(0.2)
    assert _session_pids(proc.pid) == []
    assert [p for p in ports if _listening(p)] == []
