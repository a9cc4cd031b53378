"""Every bench runs at a tiny size and produces its outputs (no timing is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tearline.capture import read_capture

REPO = Path(__file__).resolve().parent.parent


def run_bench(tmp_path: Path, script: str, *args: str, timeout: int = 600) -> tuple[str, Any]:
    """Run ``bench/<script> ARGS --json F`` in a fresh process; its printed table and its JSON."""
    out = tmp_path / "bench.json"
    res = subprocess.run(
        [sys.executable, str(REPO / "bench" / script), *args, "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    return res.stdout, json.loads(out.read_text())


@pytest.mark.timeout(600)
def test_capture_bench_smoke(tmp_path):
    stdout, (result,) = run_bench(tmp_path, "bench_capture.py", "--sizes", "300", "--repeat", "1")
    assert "| 300 | summary |" in stdout and "bytes per ws_message line" in stdout
    assert set(result["commands"]) >= {
        "naive json.loads",
        "summary",
        "diagnose --json",
        "report",
        "summary (.zst)",
    }
    assert all(c["median_s"] > 0 and c["peak_rss_mib"] > 0 for c in result["commands"].values())
    assert result["ws_message_line_bytes"]["v2"] < result["ws_message_line_bytes"]["v1"]


def test_generated_capture_is_a_readable_capture(tmp_path):
    sys.path.insert(0, str(REPO / "bench"))
    try:
        from gen_capture import generate
    finally:
        sys.path.remove(str(REPO / "bench"))
    path = tmp_path / "g.jsonl"
    n = generate(path, 1000, streams=4)
    cap = read_capture(path)
    assert cap.complete and len(cap.events) == n
    assert sum(e.type == "ws_message" for e in cap.events) > 800


@pytest.mark.timeout(600)
def test_netlog_bench_smoke(tmp_path):
    stdout, result = run_bench(tmp_path, "bench_netlog.py", "--mb", "0.2", "--repeat", "1")
    assert set(result["commands"]) == {"naive json.load", "import", "import (unterminated)"}
    assert all(c["median_s"] > 0 and c["peak_rss_mib"] > 0 for c in result["commands"].values())
    assert "| import |" in stdout


@pytest.mark.timeout(900)
def test_latency_bench_smoke(tmp_path):
    stdout, result = run_bench(tmp_path, "bench_recorder.py", "--quick", "--parts", "latency", timeout=900)
    assert "| ws 1 x 32 B |" in stdout and "| sse 1 x 32 B |" in stdout
    rows = result["latency"]
    assert {r["kind"] for r in rows} == {"ws", "sse"} and {r["streams"] for r in rows} == {1, 5}
    for r in rows:
        for config in ("direct", "bare", "tearline"):
            assert 0 < r[config]["p50"] <= r[config]["p99"], (r["scenario"], config, r[config])
        for ratio in ("tearline/bare p50", "tearline/direct p99", "bare/direct p50"):
            assert r[ratio]["min"] <= r[ratio]["median"] <= r[ratio]["max"], r
        rec = r["recorded"]  # what the recorder wrote in the capture's footer
        assert 0 <= rec["delay_p50_ms"] <= rec["delay_p99_ms"] <= rec["delay_max_ms"], rec
