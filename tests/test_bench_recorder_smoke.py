"""The recorder bench's latency part runs at smoke size and produces its outputs (no timing is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BENCH = [sys.executable, str(REPO / "bench" / "bench_recorder.py")]


@pytest.mark.timeout(900)
def test_latency_bench_smoke(tmp_path):
    out = tmp_path / "bench.json"
    res = subprocess.run(
        [*BENCH, "--quick", "--parts", "latency", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert "| ws 1 x 32 B |" in res.stdout and "| sse 1 x 32 B |" in res.stdout
    rows = json.loads(out.read_text())["latency"]
    assert {r["kind"] for r in rows} == {"ws", "sse"} and {r["streams"] for r in rows} == {1, 5}
    for r in rows:
        for config in ("direct", "bare", "tearline"):
            assert 0 < r[config]["p50"] <= r[config]["p99"], (r["scenario"], config, r[config])
        for ratio in ("tearline/bare p50", "tearline/direct p99", "bare/direct p50"):
            assert r[ratio]["min"] <= r[ratio]["median"] <= r[ratio]["max"], r
        rec = r["recorded"]  # what the recorder wrote in the capture's footer
        assert 0 <= rec["delay_p50_ms"] <= rec["delay_p99_ms"] <= rec["delay_max_ms"], rec
