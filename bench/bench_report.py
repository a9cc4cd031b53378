"""Benchmark: ``render_report`` (HTML with timeline and zooms, plus the PNG) on
timelines of 1e4, 1e5 and 1e6 rows.

Run: ``.venv/bin/python bench/bench_report.py [--sizes 10000,100000,1000000] [--repeat 2]``

For each size it prints the best wall time of ``--repeat`` runs and the peak
of memory allocated during a render (``tracemalloc``: Python and numpy
buffers), each also as a ratio to the smallest size measured in the same run,
so numbers from machines of different speed compare. The target: rendering
stays aggregated (no artist per event), so a million rows take seconds and
time grows far slower than the row count.

The timelines are synthetic (seeded): six streams over ten minutes, rows
spread over the browser view and both proxy legs, 2% of them Caddy access
lines and console messages, one injected fault, two abnormal ends.
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
from tearline.analysis.diagnose.model import Cause, Diagnosis, Evidence, SourceSummary, StreamDiagnosis
from tearline.analysis.report.page import render_report

T0 = 1_790_000_000.0
STREAMS = 6


def synthetic(n: int, seed: int = 7) -> Diagnosis:
    """A diagnosis whose timeline has ``n`` rows (see module docstring)."""
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(T0, T0 + 600.0, n))
    sid = np.array([f"s{i + 1}" for i in range(STREAMS)], dtype=object)[rng.integers(0, STREAMS, n)]
    leg = np.array(["client", "server", None], dtype=object)[rng.integers(0, 3, n)]
    direction = np.array(["client", "server", "server", "server"], dtype=object)[rng.integers(0, 4, n)]
    kind = np.where(direction == "client", "ws_frame_sent", "ws_frame_received").astype(object)
    source = np.where(pd.isna(leg), "netlog", "capture").astype(object)
    other = rng.random(n) < 0.02
    kind[other] = np.where(rng.random(other.sum()) < 0.5, "access", "console")
    source[other] = np.where(kind[other] == "access", "caddy", "console")
    sid[other & (kind == "console")] = None
    text = np.where(other, "GET /x 200", None)
    tl = pd.DataFrame(
        {
            "t": t, "source": source, "stream": sid, "leg": np.where(other, None, leg), "kind": kind,
            "direction": np.where(other, None, direction), "size": rng.integers(1, 4000, n).astype(float),
            "code": np.nan, "text": text,
        }
    )  # fmt: skip
    fault = pd.DataFrame([{"t": T0 + 300.0, "source": "capture", "stream": "s2", "leg": None, "kind": "fault",
                           "direction": None, "size": np.nan, "code": np.nan, "text": "stall 5s"}])  # fmt: skip
    tl = pd.concat([tl, fault], ignore_index=True).sort_values("t", kind="stable").reset_index(drop=True)
    streams = []
    for i in range(STREAMS):
        s = f"s{i + 1}"
        rows = tl[tl["stream"] == s]
        abnormal = i in (1, 4)
        end = float(rows["t"].max()) + 0.2
        cause = (
            Cause(kind="stall", actor="server", summary=f"{s} stalled then died.", confidence=0.7,
                  evidence=(Evidence(source="capture", t=end - 5, text="last message"),))
            if abnormal
            else Cause(kind="clean_close", actor="server", summary="Closed with 1000.", confidence=0.9)
        )  # fmt: skip
        streams.append(
            StreamDiagnosis(
                id=s,
                url=f"wss://app.localhost/{s}",
                kind="ws",
                opened_at=float(rows["t"].min()),
                ended_at=end,
                cause=cause,
                abnormal=abnormal,
            )
        )
    sources = [SourceSummary(name="capture", path="bench.jsonl", observations=n, clock="wall", offset=0.0,
                             residual_skew=0.001)]  # fmt: skip
    return Diagnosis(streams=streams, sources=sources, timeline=tl)


def measure(n: int, repeat: int, out: Path) -> tuple[float, float]:
    """Best wall seconds of ``repeat`` renders, and the peak MiB allocated during one."""
    d = synthetic(n)
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        render_report(d, out / f"r{n}.html", png=out / f"r{n}.png", title=f"bench {n} rows")
        best = min(best, time.perf_counter() - start)
    gc.collect()
    tracemalloc.start()
    render_report(d, out / f"r{n}.html", png=out / f"r{n}.png")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return best, peak / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated row counts")
    ap.add_argument("--repeat", type=int, default=2, help="renders per size (best time is kept)")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        render_report(synthetic(1000), Path(tmp) / "warm.html")  # imports, fonts, caches
        results = [(n, *measure(n, args.repeat, Path(tmp))) for n in sizes]
    base_t, base_m = results[0][1], results[0][2]
    print(f"{'rows':>9} {'seconds':>8} {'x time':>7} {'peak MiB':>9} {'x mem':>6}")
    for n, secs, mib in results:
        print(f"{n:>9} {secs:>8.2f} {secs / base_t:>7.2f} {mib:>9.1f} {mib / base_m:>6.2f}")


if __name__ == "__main__":
    main()
