"""The capture bench runs at a tiny size and produces its outputs (no timing is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tearline.capture import read_capture

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(600)
def test_capture_bench_smoke(tmp_path):
    out = tmp_path / "bench.json"
    res = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "bench_capture.py"),
            "--sizes",
            "300",
            "--repeat",
            "1",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr
    assert "| 300 | summary |" in res.stdout and "bytes per ws_message line" in res.stdout
    (result,) = json.loads(out.read_text())
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
